/**
 * RFC 9113 (HTTP/2) and RFC 7541 (HPACK) conformance on the wire: for every MUST / MUST NOT
 * a client can break, the violating bytes go over a raw TCP connection to `bin/h2ws.js`
 * (under Node, Deno and Bun in turn) and the test checks the exact answer: GOAWAY with its
 * error code and last stream id, then the TCP close, for a connection error (§5.4.1);
 * RST_STREAM with its code on that stream, then a PING round trip and a valid request served
 * on the same connection, for a stream error (§5.4.2). The positive cases (PING, SETTINGS,
 * unknown frames and settings, PRIORITY, frames allowed on closed streams, HPACK's
 * representations) and the defences (stream limit, rapid reset, floods, graceful shutdown)
 * are checked the same way. It is one engine, so every runtime must answer the same bytes.
 *
 * Cases are named after the section they check. Where the RFC lets the receiver choose
 * between a stream and a connection error, the test pins h2ws's choice and says so.
 */
import { afterAll, beforeAll, describe, it, type TestContext } from 'vitest';
import { type EchoBackend, type RawBackend, startEchoBackend, startRawBackend } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import {
  AUTHORITY,
  connectFields,
  continuation,
  data,
  E,
  type ErrorName,
  F,
  fieldBlock,
  frame,
  getRequest,
  goawayFrame,
  headers,
  hpack,
  hpackHuffman,
  hpackInt,
  hpackString,
  MAX_WINDOW,
  paddedData,
  PREFACE,
  ping,
  priority,
  readGoaway,
  requestFields,
  rst,
  S,
  settings,
  sleep,
  T,
  u32,
  Wire,
  windowUpdate,
} from '../helpers/rfc9113-wire.ts';

/** The gateways' SETTINGS_MAX_CONCURRENT_STREAMS (limits.maxStreamsPerConnection). */
const MAX_STREAMS = 100;
/** h2ws's rapid-reset budget (src/h2/connection.ts DEFENCES.rapidReset): 400 at once, 100 a second. */
const RAPID_RESET = { burst: 400, perSecond: 100 };

let echo: EchoBackend;
/** Takes the upgrade request and never answers: a tunnel to it stays open, in its handshake, and paused (no WINDOW_UPDATE). */
let hang: RawBackend;

beforeAll(async () => {
  [echo, hang] = await Promise.all([startEchoBackend(), startRawBackend(() => {})]);
});

afterAll(async () => {
  await Promise.all([echo?.close(), hang?.close()]);
});

type Ctx = TestContext;

/** A field block with `fields` as plain literals. */
const block = fieldBlock;
/** An extended CONNECT to the backend that never answers: the stream stays open (or half-closed (remote) with END_STREAM). */
const pendingTunnel = (id: number, endStream = false): Buffer => headers(id, block(connectFields('/hang')), { endStream });
/** GET / whose last field is dynamic table entry 62: it decodes only if the table holds what the client added. */
const getWithDynamic62 = (id: number): Buffer =>
  headers(id, Buffer.concat([hpack.indexed(2), hpack.indexed(6), hpack.indexed(4), hpack.literalNameRef(1, AUTHORITY, false), hpack.indexed(62)]), { endStream: true });
/** A tunnel the echo backend accepts (200). */
const echoTunnel = (id: number): Buffer => headers(id, block(connectFields('/echo')));

const goawayText = (code: ErrorName, last: number) => `GOAWAY(${code}, last=${last})`;
const rstText = (id: number, code: ErrorName) => `RST_STREAM(${id}, ${code})`;

describe.concurrent.each(RUNTIMES)('RFC 9113 / RFC 7541 on the wire, h2ws under %s', (runtime) => {
  /** Cleartext (h2c prior knowledge): /echo and /hang, MAX_STREAMS, no server PINGs. */
  let gw: GatewayProcess;
  /** TLS with ALPN, for the preface case (cleartext sniffs the preface, so a bad one goes to HTTP/1.1). */
  let secure: GatewayProcess;
  /** Takes SIGTERM in the graceful-shutdown case. */
  let doomed: GatewayProcess;

  beforeAll(async () => {
    const timeouts = { pingIntervalMs: 0, backendUpgradeMs: 60_000, drainMs: 1000 };
    [gw, secure, doomed] = await Promise.all([
      startGateway(runtime, ['--listen', '127.0.0.1:0'], { routes: { '/echo': echo.url, '/hang': hang.url }, limits: { maxStreamsPerConnection: MAX_STREAMS }, timeouts }),
      startGateway(runtime, ['--self-signed', '--listen', '127.0.0.1:0', '--backend', echo.url], { timeouts }),
      startGateway(runtime, ['--listen', '127.0.0.1:0'], { routes: { '/echo': echo.url }, timeouts: { ...timeouts, drainMs: 5000 } }),
    ]);
  });

  afterAll(async () => {
    const gws = [gw, secure].filter((g) => g !== undefined);
    const codes = await Promise.all(gws.map((g) => g.stop()));
    // No case may crash the process: each exits 0 on SIGTERM.
    if (codes.some((c) => c !== 0)) throw new Error(`a gateway exited with ${codes.join(', ')}:\n${gws.map((g) => g.stderr().slice(-3000)).join('\n')}`);
    await doomed?.stop();
  });

  // -------------------------------------------------------------------------------------
  // Helpers bound to this runtime's gateway.

  async function open(ctx: Ctx, options: Parameters<typeof Wire.open>[1] = {}, port = gw.port): Promise<Wire> {
    const w = await Wire.open(port, options);
    ctx.onTestFinished(() => w.destroy());
    return w;
  }

  /** A connection error (§5.4.1): exactly this GOAWAY first, then the TCP connection closes. */
  async function expectConnectionError(ctx: Ctx, w: Wire, code: ErrorName, last: number, from = 0): Promise<void> {
    const o = await w.outcome(3000, from);
    ctx.expect(o.text, `what came back: ${w.describe(from)}; debug: ${o.debug}`).toBe(goawayText(code, last));
    ctx.expect(await w.closedWithin(3000), 'the TCP connection is closed after the GOAWAY').toBe(true);
  }

  /** A GET on `id` is answered (the gateway's 404 for /): the connection still works. */
  async function expectServes(ctx: Ctx, w: Wire, id: number): Promise<void> {
    await w.roundTrip();
    w.send(getRequest(id));
    const head = await w.response(id);
    ctx.expect(head.get(':status')).toBe('404');
    await w.endedStream(id);
    ctx.expect(w.closed).toBe(false);
  }

  /** A stream error (§5.4.2): exactly this RST_STREAM first, no GOAWAY, and the connection serves `nextId`. */
  async function expectStreamError(ctx: Ctx, w: Wire, id: number, code: ErrorName, nextId: number, from = 0): Promise<void> {
    const o = await w.outcome(3000, from);
    ctx.expect(o.text, `what came back: ${w.describe(from)}`).toBe(rstText(id, code));
    await expectServes(ctx, w, nextId);
    ctx.expect(w.errors(from), 'nothing but that RST_STREAM').toEqual([rstText(id, code)]);
  }

  /** Ignored: a PING sent after it is answered, and no RST_STREAM or GOAWAY came. */
  async function expectIgnored(ctx: Ctx, w: Wire, from = 0): Promise<void> {
    await w.roundTrip();
    ctx.expect(w.errors(from), w.describe(from)).toEqual([]);
    ctx.expect(w.closed).toBe(false);
  }

  /** A stream both ends closed with END_STREAM: a GET, answered to the end. */
  async function closedBothWays(w: Wire, id: number): Promise<void> {
    w.send(getRequest(id));
    await w.endedStream(id);
  }

  /** The server's SETTINGS values (§6.5.1). */
  function serverSettings(w: Wire): Map<number, number> {
    const f = w.frames.find((x) => x.type === T.SETTINGS && (x.flags & F.ACK) === 0)!;
    const m = new Map<number, number>();
    for (let p = 0; p + 6 <= f.payload.length; p += 6) m.set(f.payload.readUInt16BE(p), f.payload.readUInt32BE(p + 2));
    return m;
  }

  // -------------------------------------------------------------------------------------
  // §3.4 Connection preface.

  describe('§3.4 connection preface', () => {
    it('§3.4 the server preface is a SETTINGS frame, and the client SETTINGS are acknowledged', async (ctx) => {
      const w = await open(ctx);
      const first = w.frames[0]!;
      ctx.expect([first.type, first.flags, first.streamId]).toEqual([T.SETTINGS, 0, 0]);
      const ack = await w.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) !== 0, 3000, 'SETTINGS ACK');
      ctx.expect([ack.streamId, ack.payload.length]).toEqual([0, 0]);
      // RFC 8441 §3: extended CONNECT is offered; §6.5.2: values in range.
      ctx.expect(serverSettings(w).get(S.ENABLE_CONNECT_PROTOCOL)).toBe(1);
      ctx.expect(serverSettings(w).get(S.MAX_CONCURRENT_STREAMS)).toBe(MAX_STREAMS);
      await expectIgnored(ctx, w);
    });

    it('§3.4 an invalid connection preface (TLS, ALPN h2) → GOAWAY PROTOCOL_ERROR, connection closed', async (ctx) => {
      const w = await open(ctx, { tls: true, first: Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', 'latin1'), settings([])]), waitSettings: false }, secure.port);
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§3.4 the valid preface over TLS (ALPN h2) is served', async (ctx) => {
      const w = await open(ctx, { tls: true }, secure.port);
      await expectServes(ctx, w, 1);
    });

    it('§3.4 the first frame after the preface is not SETTINGS (PING) → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx, { first: Buffer.concat([PREFACE, ping(Buffer.alloc(8))]), waitSettings: false });
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§3.4 the first frame after the preface is HEADERS → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx, { first: Buffer.concat([PREFACE, getRequest(1)]), waitSettings: false });
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });
  });

  // -------------------------------------------------------------------------------------
  // §4 Frames.

  describe('§4 frame format and size', () => {
    it('§4.1 / §5.5 frames of an unknown type are ignored, on stream 0 and on an idle stream', async (ctx) => {
      const w = await open(ctx);
      w.send(frame(0xfa, 0xff, 0, Buffer.from('ignored')), frame(0xfb, 0x00, 1, Buffer.alloc(100)));
      await expectIgnored(ctx, w);
      // Stream 1 is still idle: the unknown frame did not open it.
      await expectServes(ctx, w, 1);
    });

    it('§4.1 undefined flags are ignored (PING with flags 0xfe is answered)', async (ctx) => {
      const w = await open(ctx);
      const opaque = Buffer.from('flags!!!');
      w.send(frame(T.PING, 0xfe, 0, opaque));
      const ack = await w.waitFor((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(opaque), 3000, 'PING ACK');
      ctx.expect(ack.flags).toBe(F.ACK);
      await expectIgnored(ctx, w);
    });

    it('§4.1 the reserved bit of the stream identifier is ignored', async (ctx) => {
      const w = await open(ctx);
      const opaque = Buffer.from('reserved');
      w.send(frame(T.PING, 0, 0x8000_0000, opaque), getRequest(0x8000_0001));
      await w.waitFor((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(opaque), 3000, 'PING ACK');
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });

    it('§4.2 DATA of exactly 2^14 octets (the initial SETTINGS_MAX_FRAME_SIZE) is accepted', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), data(1, Buffer.alloc(16_384, 0x61)));
      await expectIgnored(ctx, w);
    });

    it('§4.2 DATA larger than SETTINGS_MAX_FRAME_SIZE → GOAWAY FRAME_SIZE_ERROR (h2ws picks the connection error)', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), data(1, Buffer.alloc(16_385, 0x61)));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 1);
    });

    it('§4.2 HEADERS larger than SETTINGS_MAX_FRAME_SIZE → GOAWAY FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(requestFields('GET', '/', [['x-big', 'b'.repeat(16_400)]])), { endStream: true }));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 0);
    });

    it('§4.2 / §6.2 HEADERS too short for its priority fields → GOAWAY FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(frame(T.HEADERS, F.END_HEADERS | F.PRIORITY, 1, Buffer.from([0, 0, 0])));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 0);
    });

    it('§4.2 / §6.1 PADDED DATA without room for the Pad Length → FRAME_SIZE_ERROR (h2ws picks the connection error)', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), frame(T.DATA, F.PADDED, 1));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 1);
    });
  });

  // -------------------------------------------------------------------------------------
  // §4.3 / §6.10 Field blocks are contiguous.

  describe('§4.3 / §6.10 field blocks and CONTINUATION', () => {
    const firstHalf = (id: number) => {
      const whole = block(requestFields('GET', '/'));
      return { head: headers(id, whole.subarray(0, 10), { endStream: true, endHeaders: false }), rest: whole.subarray(10) };
    };

    it('§6.10 HEADERS followed by CONTINUATION frames is one field block', async (ctx) => {
      const w = await open(ctx);
      const whole = block(requestFields('GET', '/', [['x-split', 'v'.repeat(40)]]));
      w.send(
        headers(1, whole.subarray(0, 5), { endStream: true, endHeaders: false }),
        continuation(1, whole.subarray(5, 20), false),
        continuation(1, Buffer.alloc(0), false),
        continuation(1, whole.subarray(20), true),
      );
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });

    it('§4.3 / §6.2 a PRIORITY frame inside a field block → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      const { head, rest } = firstHalf(1);
      w.send(head, priority(1, 0), continuation(1, rest, true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§4.3 / §6.2 HEADERS for another stream inside a field block → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      const { head, rest } = firstHalf(1);
      w.send(head, getRequest(3), continuation(1, rest, true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.10 a DATA frame inside a field block → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1));
      const { head, rest } = firstHalf(3);
      w.send(head, data(1, 'x'), continuation(3, rest, true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 1);
    });

    it('§6.10 a PING inside a field block → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      const { head, rest } = firstHalf(1);
      w.send(head, ping(Buffer.alloc(8)), continuation(1, rest, true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§5.5 a frame of an unknown type inside a field block → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      const { head, rest } = firstHalf(1);
      w.send(head, frame(0xfa, 0, 1, Buffer.from('x')), continuation(1, rest, true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.10 CONTINUATION on another stream → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      const { head, rest } = firstHalf(1);
      w.send(head, continuation(3, rest, true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.10 CONTINUATION on stream 0 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      const { head, rest } = firstHalf(1);
      w.send(head, continuation(0, rest, true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.10 CONTINUATION after HEADERS with END_HEADERS → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), continuation(1, hpack.literal('x-late', '1'), true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 1);
    });

    it('§6.10 CONTINUATION after a CONTINUATION with END_HEADERS → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      const whole = block(connectFields('/hang'));
      w.send(headers(1, whole.subarray(0, 8), { endHeaders: false }), continuation(1, whole.subarray(8), true), continuation(1, hpack.literal('x-late', '1'), true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 1);
    });

    it('§6.10 CONTINUATION after DATA → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), data(1, 'x'), continuation(1, hpack.literal('x-late', '1'), true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 1);
    });
  });

  // -------------------------------------------------------------------------------------
  // §5.1 Stream states, §5.1.1 identifiers, §5.1.2 concurrency.

  describe('§5.1 stream states', () => {
    it('§5.1 idle: DATA → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(data(1, 'x'));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§5.1 / §6.4 idle: RST_STREAM → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(rst(1, E.CANCEL));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§5.1 idle: WINDOW_UPDATE → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(windowUpdate(1, 100));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§5.1 / §6.4 idle: WINDOW_UPDATE with increment 0 → GOAWAY PROTOCOL_ERROR (no RST_STREAM on an idle stream)', async (ctx) => {
      // §5.1: on an idle stream anything but HEADERS and PRIORITY is a connection error, and
      // §6.4: "RST_STREAM frames MUST NOT be sent for a stream in the idle state".
      const w = await open(ctx);
      w.send(windowUpdate(1, 0));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§5.3.1 / §6.4 idle: PRIORITY that depends on itself → PROTOCOL_ERROR as GOAWAY (no RST_STREAM on an idle stream)', async (ctx) => {
      // §5.3.1 makes it a stream error, but §6.4 forbids RST_STREAM on an idle stream (the
      // client would have to treat it as a connection error): only GOAWAY satisfies both.
      const w = await open(ctx);
      w.send(priority(1, 1, 15));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.3 / §6.4 idle: PRIORITY of 4 octets → FRAME_SIZE_ERROR as GOAWAY (no RST_STREAM on an idle stream)', async (ctx) => {
      const w = await open(ctx);
      w.send(frame(T.PRIORITY, 0, 1, u32(0)));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 0);
    });

    it('§5.1 idle: CONTINUATION → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(continuation(1, block(requestFields('GET', '/')), true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§5.1 idle: PRIORITY is allowed, and a lower stream id can still be opened', async (ctx) => {
      const w = await open(ctx);
      w.send(priority(3, 0, 255));
      await expectIgnored(ctx, w);
      await expectServes(ctx, w, 1);
      await expectServes(ctx, w, 3);
    });

    it('§5.1 half-closed (remote): DATA → RST_STREAM STREAM_CLOSED', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1, true), data(1, 'x'));
      await expectStreamError(ctx, w, 1, 'STREAM_CLOSED', 3);
    });

    it('§5.1 half-closed (remote): HEADERS → RST_STREAM STREAM_CLOSED', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1, true), headers(1, block([['x-trailer', '1']]), { endStream: true }));
      await expectStreamError(ctx, w, 1, 'STREAM_CLOSED', 3);
    });

    it('§5.1 / §6.10 half-closed (remote): CONTINUATION → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1, true), continuation(1, block([['x-trailer', '1']]), true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 1);
    });

    it('§5.1 half-closed (remote): WINDOW_UPDATE, PRIORITY and RST_STREAM are accepted', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1, true), windowUpdate(1, 1000), priority(1, 0, 7));
      await expectIgnored(ctx, w);
      w.send(rst(1, E.CANCEL));
      await expectIgnored(ctx, w);
      await expectServes(ctx, w, 3);
    });

    it('§5.1 closed (the client sent RST_STREAM): DATA → RST_STREAM STREAM_CLOSED', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), rst(1, E.CANCEL), data(1, 'x'));
      await expectStreamError(ctx, w, 1, 'STREAM_CLOSED', 3);
    });

    it('§5.1 closed (the client sent RST_STREAM): HEADERS → RST_STREAM STREAM_CLOSED', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), rst(1, E.CANCEL), headers(1, block([['x-trailer', '1']]), { endStream: true }));
      await expectStreamError(ctx, w, 1, 'STREAM_CLOSED', 3);
    });

    it('§5.1 / §6.10 closed (the client sent RST_STREAM): CONTINUATION → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), rst(1, E.CANCEL), continuation(1, block([['x-trailer', '1']]), true));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 1);
    });

    it('§5.1 closed (the client sent RST_STREAM): WINDOW_UPDATE → RST_STREAM STREAM_CLOSED', async (ctx) => {
      // §5.1 closed: "An endpoint that receives any frame other than PRIORITY after receiving
      // a RST_STREAM MUST treat that as a stream error of type STREAM_CLOSED".
      const w = await open(ctx);
      w.send(pendingTunnel(1), rst(1, E.CANCEL), windowUpdate(1, 100));
      await expectStreamError(ctx, w, 1, 'STREAM_CLOSED', 3);
    });

    it('§5.1 closed (the client sent RST_STREAM): PRIORITY is accepted', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), rst(1, E.CANCEL), priority(1, 0, 1));
      await expectIgnored(ctx, w);
      await expectServes(ctx, w, 3);
    });

    it('§5.1 closed (END_STREAM both ways): DATA → GOAWAY STREAM_CLOSED', async (ctx) => {
      const w = await open(ctx);
      await closedBothWays(w, 1);
      const from = w.frames.length;
      w.send(data(1, 'x'));
      await expectConnectionError(ctx, w, 'STREAM_CLOSED', 1, from);
    });

    it('§5.1 closed (END_STREAM both ways): HEADERS → GOAWAY STREAM_CLOSED', async (ctx) => {
      const w = await open(ctx);
      await closedBothWays(w, 1);
      const from = w.frames.length;
      w.send(headers(1, block([['x-trailer', '1']]), { endStream: true }));
      await expectConnectionError(ctx, w, 'STREAM_CLOSED', 1, from);
    });

    it('§5.1 / §6.9 closed (END_STREAM both ways): WINDOW_UPDATE, RST_STREAM and PRIORITY are ignored', async (ctx) => {
      const w = await open(ctx);
      await closedBothWays(w, 1);
      const from = w.frames.length;
      w.send(windowUpdate(1, 1000), priority(1, 0, 3), rst(1, E.CANCEL));
      await expectIgnored(ctx, w, from);
      await expectServes(ctx, w, 3);
    });

    it('§5.1 / §5.4.2 closed (h2ws sent RST_STREAM): DATA, HEADERS, CONTINUATION, WINDOW_UPDATE, PRIORITY and RST_STREAM that follow are ignored', async (ctx) => {
      const w = await open(ctx);
      // A malformed request (uppercase name): h2ws resets stream 1.
      w.send(headers(1, block(requestFields('POST', '/', [['X-Upper', '1']]))));
      const o = await w.outcome(3000);
      ctx.expect(o.text).toBe(rstText(1, 'PROTOCOL_ERROR'));
      const from = w.frames.length;
      // What the client had in flight arrives after the reset. Its field blocks are still
      // decoded (§4.3): the trailers add x-dyn to HPACK's dynamic table.
      const trailers = Buffer.concat([hpack.literalIndexed('x-dyn', 'kept'), hpack.literal('x-trailer', '1')]);
      w.send(
        data(1, 'in flight'),
        paddedData(1, Buffer.from('padded'), 20),
        headers(1, trailers.subarray(0, 4), { endHeaders: false }),
        continuation(1, trailers.subarray(4), true),
        windowUpdate(1, 1000),
        priority(1, 0, 9),
        rst(1, E.CANCEL),
        headers(1, block([['x-trailer', '2']]), { endStream: true }),
      );
      await expectIgnored(ctx, w, from);
      ctx.expect(w.errors()).toEqual([rstText(1, 'PROTOCOL_ERROR')]);
      // A request that refers to x-dyn (index 62) is served: HPACK stayed in step.
      w.send(getWithDynamic62(3));
      ctx.expect((await w.response(3)).get(':status'), w.describe(from)).toBe('404');
      await expectServes(ctx, w, 5);
    });

    it('§5.1.1 HEADERS on an even stream id → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(getRequest(2));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§5.1.1 a stream id lower than one already opened → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(getRequest(5));
      await w.response(5);
      const from = w.frames.length;
      w.send(getRequest(3));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 5, from);
    });

    it('§5.1.1 DATA on a stream implicitly closed by a higher stream id → GOAWAY STREAM_CLOSED', async (ctx) => {
      // §5.1.1: opening stream 5 closes idle streams 1 and 3; §5.1: a frame on a closed stream
      // may be a connection error of type STREAM_CLOSED.
      const w = await open(ctx);
      w.send(pendingTunnel(5), data(3, 'x'));
      await expectConnectionError(ctx, w, 'STREAM_CLOSED', 5);
    });

    it('§5.1.2 a stream over SETTINGS_MAX_CONCURRENT_STREAMS → RST_STREAM REFUSED_STREAM, and a freed slot is usable again', async (ctx) => {
      const w = await open(ctx);
      const ids = Array.from({ length: MAX_STREAMS }, (_, i) => 2 * i + 1);
      const over = 2 * MAX_STREAMS + 1;
      // The refused stream's field block adds x-dyn to the dynamic table (decoded even when refused, §4.3).
      const refused = headers(over, Buffer.concat([block(connectFields('/hang')), hpack.literalIndexed('x-dyn', 'kept')]));
      w.send(...ids.map((id) => pendingTunnel(id)), refused);
      const o = await w.outcome(5000);
      ctx.expect(o.text, w.describe()).toBe(rstText(over, 'REFUSED_STREAM'));
      await w.roundTrip();
      ctx.expect(w.errors(), 'only the stream over the limit is refused').toEqual([rstText(over, 'REFUSED_STREAM')]);
      // Resetting one open stream frees its slot (§5.1.2 counts open and half-closed streams);
      // the next request refers to x-dyn.
      w.send(rst(1, E.CANCEL), getWithDynamic62(over + 2));
      ctx.expect((await w.response(over + 2)).get(':status'), w.describe()).toBe('404');
      await expectServes(ctx, w, over + 4);
    });
  });

  // -------------------------------------------------------------------------------------
  // §5.3 Priority (deprecated, §5.3.2: ignored, but the frames' rules still hold).

  describe('§5.3 / §6.3 PRIORITY', () => {
    it('§5.3.1 HEADERS that depends on itself → RST_STREAM PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(requestFields('GET', '/')), { endStream: true, priority: { dependency: 1, weight: 15 } }));
      await expectStreamError(ctx, w, 1, 'PROTOCOL_ERROR', 3);
    });

    it('§5.3.1 PRIORITY that depends on itself → RST_STREAM PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), priority(1, 1, 15));
      await expectStreamError(ctx, w, 1, 'PROTOCOL_ERROR', 3);
    });

    it('§6.3 PRIORITY on stream 0 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(priority(0, 1, 15));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.3 PRIORITY of 4 octets → RST_STREAM FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), frame(T.PRIORITY, 0, 1, u32(0x8000_0003)));
      await expectStreamError(ctx, w, 1, 'FRAME_SIZE_ERROR', 3);
    });

    it('§5.3.2 PRIORITY frames and priority fields are ignored (open, idle and closed streams, exclusive bit)', async (ctx) => {
      const w = await open(ctx);
      await closedBothWays(w, 1);
      const from = w.frames.length;
      w.send(pendingTunnel(3), priority(3, 0, 200, true), priority(1, 3, 0), priority(99, 3, 255, true));
      w.send(headers(5, block(requestFields('GET', '/')), { endStream: true, priority: { dependency: 3, weight: 100, exclusive: true } }));
      ctx.expect((await w.response(5)).get(':status')).toBe('404');
      await expectIgnored(ctx, w, from);
    });
  });

  // -------------------------------------------------------------------------------------
  // §6.1 DATA, §6.2 HEADERS, §6.4 RST_STREAM.

  describe('§6.1 DATA / §6.2 HEADERS / §6.4 RST_STREAM', () => {
    it('§6.1 DATA on stream 0 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(data(0, 'x'));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.1 DATA whose padding is as long as the payload → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      // Payload: Pad Length (6) + 5 octets: the padding "is the length of the frame payload or greater".
      w.send(pendingTunnel(1), paddedData(1, Buffer.alloc(0), 5, false, 6));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 1);
    });

    it('§8.1 HEAD is answered with a head and no content', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(requestFields('HEAD', '/')), { endStream: true }));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await w.endedStream(1);
      ctx.expect(w.dataOn(1)).toBe(0);
      await expectIgnored(ctx, w);
    });

    it('§6.1 padded DATA (padding up to the whole payload less one) is accepted', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(requestFields('POST', '/', [['content-length', '5']]))), paddedData(1, Buffer.from('hello'), 200), paddedData(1, Buffer.alloc(0), 255, true));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });

    it('§6.2 HEADERS on stream 0 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(getRequest(0));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.2 HEADERS whose padding exceeds the field block → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      const b = block(requestFields('GET', '/'));
      w.send(headers(1, b, { endStream: true, padding: 4, padLength: b.length + 5 }));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.2 padded HEADERS with priority fields is accepted', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(requestFields('GET', '/')), { endStream: true, padding: 17, priority: { dependency: 0, weight: 255 } }));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });

    it('§6.4 RST_STREAM on stream 0 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(rst(0, E.CANCEL));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.4 RST_STREAM of 3 octets → GOAWAY FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), frame(T.RST_STREAM, 0, 1, Buffer.from([0, 0, 8])));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 1);
    });

    it('§6.4 / §7 RST_STREAM with an unknown error code closes the stream, and nothing else', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), rst(1, 0xdead_beef));
      await expectIgnored(ctx, w);
      await expectServes(ctx, w, 3);
    });
  });

  // -------------------------------------------------------------------------------------
  // §6.5 SETTINGS.

  describe('§6.5 SETTINGS', () => {
    it('§6.5.3 SETTINGS is acknowledged with an empty SETTINGS ACK; unknown settings are ignored (§6.5.2)', async (ctx) => {
      const w = await open(ctx);
      await w.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) !== 0, 3000, 'the first SETTINGS ACK');
      const from = w.frames.length;
      w.send(settings([[0xff, 1], [0x1234, 0xffff_ffff], [S.ENABLE_PUSH, 1], [S.HEADER_TABLE_SIZE, 8192], [S.MAX_CONCURRENT_STREAMS, 0], [S.MAX_FRAME_SIZE, 2 ** 24 - 1], [S.MAX_HEADER_LIST_SIZE, 1 << 20]]));
      const ack = await w.waitFor((f) => f.type === T.SETTINGS, 3000, 'SETTINGS ACK', from);
      ctx.expect([ack.flags, ack.streamId, ack.payload.length]).toEqual([F.ACK, 0, 0]);
      await expectIgnored(ctx, w, from);
      await expectServes(ctx, w, 1);
    });

    it('§6.5 SETTINGS on a non-zero stream → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(settings([], 1));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.5 SETTINGS of a length not a multiple of 6 → GOAWAY FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(frame(T.SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100, 0])));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 0);
    });

    it('§6.5 SETTINGS ACK with a payload → GOAWAY FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(frame(T.SETTINGS, F.ACK, 0, Buffer.from([0, 3, 0, 0, 0, 100])));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 0);
    });

    it('§6.5.2 SETTINGS_ENABLE_PUSH = 2 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(settings([[S.ENABLE_PUSH, 2]]));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.5.2 SETTINGS_INITIAL_WINDOW_SIZE = 2^31 → GOAWAY FLOW_CONTROL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(settings([[S.INITIAL_WINDOW_SIZE, 2 ** 31]]));
      await expectConnectionError(ctx, w, 'FLOW_CONTROL_ERROR', 0);
    });

    it('§6.5.2 SETTINGS_INITIAL_WINDOW_SIZE = 2^31-1 is accepted', async (ctx) => {
      const w = await open(ctx);
      w.send(settings([[S.INITIAL_WINDOW_SIZE, MAX_WINDOW]]));
      await expectIgnored(ctx, w);
      await expectServes(ctx, w, 1);
    });

    it('§6.5.2 SETTINGS_MAX_FRAME_SIZE = 2^14-1 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(settings([[S.MAX_FRAME_SIZE, 2 ** 14 - 1]]));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.5.2 SETTINGS_MAX_FRAME_SIZE = 2^24 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(settings([[S.MAX_FRAME_SIZE, 2 ** 24]]));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('RFC 8441 §3 SETTINGS_ENABLE_CONNECT_PROTOCOL = 2 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(settings([[S.ENABLE_CONNECT_PROTOCOL, 2]]));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('RFC 8441 §3 SETTINGS_ENABLE_CONNECT_PROTOCOL from 1 back to 0 → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(settings([[S.ENABLE_CONNECT_PROTOCOL, 1]]));
      await w.roundTrip();
      w.send(settings([[S.ENABLE_CONNECT_PROTOCOL, 0]]));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.5.3 / §6.9.1 / §6.9.2 SETTINGS values apply in order; INITIAL_WINDOW_SIZE limits DATA, may take a window negative, and WINDOW_UPDATE restores it', async (ctx) => {
      const w = await open(ctx);
      // Two values for one setting: the last one (1) is in force once acknowledged.
      w.send(settings([[S.INITIAL_WINDOW_SIZE, 100], [S.INITIAL_WINDOW_SIZE, 1]]));
      await w.roundTrip();
      w.send(getRequest(1));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await w.waitFor((f) => f.type === T.DATA && f.streamId === 1, 3000, 'the first DATA');
      await sleep(200);
      ctx.expect(w.dataOn(1), 'a window of 1 lets one octet through').toBe(1);
      // The window is now 0; INITIAL_WINDOW_SIZE 0 takes it to -1 (§6.9.2); +2 makes it 1.
      w.send(settings([[S.INITIAL_WINDOW_SIZE, 0]]));
      await w.roundTrip();
      w.send(windowUpdate(1, 2));
      await w.waitFor(() => w.dataOn(1) >= 2, 3000, 'the second octet');
      await sleep(200);
      ctx.expect(w.dataOn(1), 'a window of -1 + 2 lets one more octet through').toBe(2);
      // Raising INITIAL_WINDOW_SIZE raises the open stream's window too: 0 + 3.
      w.send(settings([[S.INITIAL_WINDOW_SIZE, 3]]));
      await w.waitFor(() => w.dataOn(1) >= 5, 3000, 'three more octets');
      await sleep(200);
      ctx.expect(w.dataOn(1), 'INITIAL_WINDOW_SIZE 0 → 3 lets three more octets through').toBe(5);
      w.send(windowUpdate(1, 10_000));
      await w.endedStream(1);
      await expectIgnored(ctx, w);
    });
  });

  // -------------------------------------------------------------------------------------
  // §6.7 PING, §6.8 GOAWAY.

  describe('§6.7 PING / §6.8 GOAWAY', () => {
    it('§6.7 PING is answered with a PING ACK carrying the same payload', async (ctx) => {
      const w = await open(ctx);
      const opaque = Buffer.from([1, 2, 3, 4, 5, 6, 7, 0xff]);
      w.send(ping(opaque));
      const ack = await w.waitFor((f) => f.type === T.PING, 3000, 'PING ACK');
      ctx.expect([ack.flags, ack.streamId, ack.payload.toString('hex')]).toEqual([F.ACK, 0, opaque.toString('hex')]);
    });

    it('§6.7 a PING ACK is not answered', async (ctx) => {
      const w = await open(ctx);
      const unsolicited = Buffer.from('ack-only');
      const real = Buffer.from('realping');
      w.send(ping(unsolicited, true), ping(real));
      await w.waitFor((f) => f.type === T.PING && f.payload.equals(real), 3000, 'PING ACK');
      await w.roundTrip();
      const pings = w.frames.filter((f) => f.type === T.PING);
      ctx.expect(pings.some((f) => f.payload.equals(unsolicited)), 'no frame answers the PING ACK').toBe(false);
      ctx.expect(pings.every((f) => f.flags === F.ACK)).toBe(true);
      await expectIgnored(ctx, w);
    });

    it('§6.7 PING on a non-zero stream → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(frame(T.PING, 0, 1, Buffer.alloc(8)));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.7 PING of 6 octets → GOAWAY FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(frame(T.PING, 0, 0, Buffer.alloc(6)));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 0);
    });

    it('§6.8 / §7 a GOAWAY from the client (unknown error code) is not an error: no GOAWAY or RST_STREAM comes back', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), goawayFrame(1, 0xabcd));
      await w.roundTrip().catch(() => undefined);
      await sleep(200);
      ctx.expect(w.errors(), w.describe()).toEqual([]);
    });

    it('§6.8 GOAWAY on a non-zero stream → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(goawayFrame(0, E.NO_ERROR, 1));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.8 / §4.2 GOAWAY of 7 octets → GOAWAY FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(frame(T.GOAWAY, 0, 0, Buffer.alloc(7)));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 0);
    });
  });

  // -------------------------------------------------------------------------------------
  // §6.9 WINDOW_UPDATE and flow control.

  describe('§6.9 WINDOW_UPDATE and flow control', () => {
    it('§6.9 WINDOW_UPDATE with increment 0 on a stream → RST_STREAM PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), windowUpdate(1, 0));
      await expectStreamError(ctx, w, 1, 'PROTOCOL_ERROR', 3);
    });

    it('§6.9 WINDOW_UPDATE with increment 0 on the connection → GOAWAY PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(windowUpdate(0, 0));
      await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 0);
    });

    it('§6.9 WINDOW_UPDATE of 3 octets on a stream → GOAWAY FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), frame(T.WINDOW_UPDATE, 0, 1, Buffer.from([0, 0, 1])));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 1);
    });

    it('§6.9 WINDOW_UPDATE of 5 octets on the connection → GOAWAY FRAME_SIZE_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(frame(T.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0, 1, 0])));
      await expectConnectionError(ctx, w, 'FRAME_SIZE_ERROR', 0);
    });

    it('§6.9.1 WINDOW_UPDATE up to exactly 2^31-1 is accepted; past it on a stream → RST_STREAM FLOW_CONTROL_ERROR', async (ctx) => {
      const w = await open(ctx);
      // The stream's send window starts at our SETTINGS_INITIAL_WINDOW_SIZE, the default 65,535.
      w.send(pendingTunnel(1), windowUpdate(1, MAX_WINDOW - 65_535));
      await expectIgnored(ctx, w);
      const from = w.frames.length;
      w.send(windowUpdate(1, 1));
      await expectStreamError(ctx, w, 1, 'FLOW_CONTROL_ERROR', 3, from);
    });

    it('§6.9.1 WINDOW_UPDATE up to exactly 2^31-1 is accepted; past it on the connection → GOAWAY FLOW_CONTROL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(windowUpdate(0, MAX_WINDOW - 65_535));
      await expectIgnored(ctx, w);
      w.send(windowUpdate(0, 1));
      await expectConnectionError(ctx, w, 'FLOW_CONTROL_ERROR', 0);
    });

    it('§6.9.2 a SETTINGS_INITIAL_WINDOW_SIZE change that takes an open stream window past 2^31-1 → GOAWAY FLOW_CONTROL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), windowUpdate(1, MAX_WINDOW - 65_535));
      await expectIgnored(ctx, w);
      w.send(settings([[S.INITIAL_WINDOW_SIZE, 65_536]]));
      await expectConnectionError(ctx, w, 'FLOW_CONTROL_ERROR', 1);
    });

    it('§6.9.1 DATA beyond the stream window h2ws advertised → RST_STREAM FLOW_CONTROL_ERROR', async (ctx) => {
      const w = await open(ctx);
      // The server's SETTINGS_INITIAL_WINDOW_SIZE; its connection window (raised by the
      // WINDOW_UPDATE that follows its SETTINGS) is larger, so only the stream's is exceeded.
      const streamWindow = serverSettings(w).get(S.INITIAL_WINDOW_SIZE) ?? 65_535;
      const raise = await w.waitFor((f) => f.type === T.WINDOW_UPDATE && f.streamId === 0, 3000, "the connection's WINDOW_UPDATE");
      const connectionWindow = 65_535 + raise.payload.readUInt32BE(0);
      ctx.expect(connectionWindow).toBeGreaterThan(streamWindow);
      const frames: Buffer[] = [pendingTunnel(1)];
      for (let left = streamWindow; left > 0; left -= 16_384) frames.push(data(1, Buffer.alloc(Math.min(16_384, left), 0x61)));
      // The tunnel is paused in its handshake (the backend never answers): no credit comes back.
      w.send(...frames);
      await expectIgnored(ctx, w);
      const from = w.frames.length;
      w.send(data(1, 'x'));
      await expectStreamError(ctx, w, 1, 'FLOW_CONTROL_ERROR', 3, from);
    });

    it('§6.1 / §6.9 padding counts against the windows: a padded DATA that fits the data but not the window → RST_STREAM FLOW_CONTROL_ERROR', async (ctx) => {
      const w = await open(ctx);
      const streamWindow = serverSettings(w).get(S.INITIAL_WINDOW_SIZE) ?? 65_535;
      await w.waitFor((f) => f.type === T.WINDOW_UPDATE && f.streamId === 0, 3000, "the connection's WINDOW_UPDATE");
      const frames: Buffer[] = [pendingTunnel(1)];
      // Fill the window to 100 octets short with plain DATA …
      let left = streamWindow - 100;
      for (; left > 0; left -= 16_384) frames.push(data(1, Buffer.alloc(Math.min(16_384, left), 0x61)));
      w.send(...frames);
      await expectIgnored(ctx, w);
      // … then 10 octets of data and 100 of padding (111 with the Pad Length octet).
      const from = w.frames.length;
      w.send(paddedData(1, Buffer.alloc(10, 0x62), 100));
      await expectStreamError(ctx, w, 1, 'FLOW_CONTROL_ERROR', 3, from);
    });
  });

  // -------------------------------------------------------------------------------------
  // §8.4 Server push.

  it('§8.4 / §6.6 PUSH_PROMISE from a client → GOAWAY PROTOCOL_ERROR', async (ctx) => {
    const w = await open(ctx);
    w.send(pendingTunnel(1), frame(T.PUSH_PROMISE, F.END_HEADERS, 1, Buffer.concat([u32(2), block(requestFields('GET', '/pushed'))])));
    await expectConnectionError(ctx, w, 'PROTOCOL_ERROR', 1);
  });

  // -------------------------------------------------------------------------------------
  // RFC 7541 HPACK: decoding errors are connection errors of type COMPRESSION_ERROR (RFC 9113 §4.3).

  describe('RFC 7541 HPACK', () => {
    /** :method GET, :scheme http, :path / from the static table, then `rest`. */
    const withStatic = (...rest: Buffer[]) => Buffer.concat([hpack.indexed(2), hpack.indexed(6), hpack.indexed(4), ...rest]);
    const authority = hpack.literalNameRef(1, AUTHORITY, false);

    const bad: Array<[string, Buffer]> = [
      ['§6.1 an indexed field with index 0', withStatic(hpack.indexed(0), authority)],
      ['§2.3.3 an indexed field beyond the static and (empty) dynamic table', withStatic(authority, hpack.indexed(62))],
      ['§2.3.3 a literal whose name index is beyond the tables', withStatic(authority, hpack.literalNameRef(70, 'x', true))],
      ['§4.2 / §6.3 a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE (4097 > 4096)', Buffer.concat([hpack.sizeUpdate(4097), withStatic(authority)])],
      ['§4.2 a dynamic table size update after a field', Buffer.concat([hpack.indexed(2), hpack.sizeUpdate(0), hpack.indexed(6), hpack.indexed(4), authority])],
      ['§4.2 a dynamic table size update at the end of the block', withStatic(authority, hpack.sizeUpdate(0))],
      // 'a' is 00011 (5 bits): then 11 bits of 1s is padding longer than 7 bits.
      ['§5.2 Huffman padding longer than 7 bits', withStatic(authority, hpack.literalNameRef(0, Buffer.concat([hpackHuffman(Buffer.from([0x1f, 0xff])), hpackHuffman(Buffer.from([0x1f]))]), false))],
      // 'a' then 000: padding that is not the most significant bits of EOS.
      ['§5.2 Huffman padding that is not the EOS prefix (zeros)', withStatic(authority, Buffer.concat([Buffer.from([0x00]), hpackHuffman(Buffer.from([0x18])), hpackHuffman(Buffer.from([0x1f]))]))],
      // 32 ones: the 30-bit EOS symbol followed by 2 bits of padding.
      ['§5.2 a Huffman string containing the EOS symbol', withStatic(authority, Buffer.concat([Buffer.from([0x00]), hpackString('x-eos'), hpackHuffman(Buffer.from([0xff, 0xff, 0xff, 0xff]))]))],
      ['§5.1 an integer that overflows (index with 10 continuation octets)', withStatic(authority, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))],
      ['§5.2 a string literal longer than the rest of the block', withStatic(authority, Buffer.from([0x00, 0x05, 0x78, 0x2d, 0x61, 0x7f]))],
      ['§6.2 a field block that ends inside a literal', withStatic(authority, Buffer.from([0x40]))],
    ];

    for (const [name, fieldBlockBytes] of bad) {
      it(`RFC 7541 ${name} → GOAWAY COMPRESSION_ERROR`, async (ctx) => {
        const w = await open(ctx);
        w.send(headers(1, fieldBlockBytes, { endStream: true }));
        await expectConnectionError(ctx, w, 'COMPRESSION_ERROR', 0);
      });
    }

    it('RFC 7541 §4.2 / §6.3 size updates at the start of a block, within the limit, are accepted', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, Buffer.concat([hpack.sizeUpdate(0), hpack.sizeUpdate(4096), withStatic(authority, hpack.literalIndexed('x-indexed', 'one'))]), { endStream: true }));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      // The dynamic table holds x-indexed: one (index 62); a second request refers to it.
      w.send(headers(3, withStatic(authority, hpack.indexed(62)), { endStream: true }));
      ctx.expect((await w.response(3)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });

    it('RFC 7541 §4.2 / RFC 9113 §6.5.2 after SETTINGS_HEADER_TABLE_SIZE = 0 the server signals a size update to 0 and indexes nothing', async (ctx) => {
      const w = await open(ctx);
      w.send(settings([[S.HEADER_TABLE_SIZE, 0]]));
      await w.roundTrip();
      w.send(getRequest(1));
      const head = await w.waitFor((f) => f.type === T.HEADERS && f.streamId === 1, 3000, 'the response');
      ctx.expect(head.payload[0]! & 0xe0, `the block starts with a size update: ${head.payload.toString('hex')}`).toBe(0x20);
      ctx.expect(head.payload[0]).toBe(0x20);
      await w.endedStream(1);
      w.send(getRequest(3));
      const second = await w.waitFor((f) => f.type === T.HEADERS && f.streamId === 3, 3000, 'the second response');
      // No dynamic-table reference (index > 61) in the second block: every field is static or literal.
      ctx.expect(second.fields?.[1]).toBe('404');
      ctx.expect([...second.payload].some((b, i) => i === 0 && b >= 0x80 + 62)).toBe(false);
      await expectIgnored(ctx, w);
    });

    it('RFC 7541 §4.4 an entry larger than the table empties it: a later reference to it → GOAWAY COMPRESSION_ERROR', async (ctx) => {
      const w = await open(ctx);
      // Table size 64: the 32 + 5 + 40 octet entry does not fit, so the table ends up empty.
      w.send(headers(1, Buffer.concat([hpack.sizeUpdate(64), withStatic(authority, hpack.literalIndexed('x-big', 'v'.repeat(40)))]), { endStream: true }));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      const from = w.frames.length;
      w.send(getWithDynamic62(3));
      await expectConnectionError(ctx, w, 'COMPRESSION_ERROR', 1, from);
    });

    it('RFC 7541 Appendix C.4 requests (Huffman, dynamic table across three field blocks) are decoded', async (ctx) => {
      const w = await open(ctx);
      const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
      // C.4.1, C.4.2, C.4.3 verbatim: each refers to entries the previous ones added.
      w.send(headers(1, hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'), { endStream: true }));
      w.send(headers(3, hex('8286 84be 5886 a8eb 1064 9cbf'), { endStream: true }));
      w.send(headers(5, hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'), { endStream: true }));
      for (const id of [1, 3, 5]) ctx.expect((await w.response(id)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });

    it('RFC 7541 §6.2.2 / §6.2.3 literals without indexing and never indexed, with indexed and new names, are accepted', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, withStatic(authority, hpack.literalNever('x-secret', 's'), hpack.literalNameRef(24, 'no-cache', false), hpack.literal('x-plain', 'p')), { endStream: true }));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });
  });

  // -------------------------------------------------------------------------------------
  // §8 Malformed requests: a stream error of type PROTOCOL_ERROR (§8.1.1), the connection goes on.

  describe('§8 malformed requests → RST_STREAM PROTOCOL_ERROR, the connection keeps working', () => {
    const get = (extra: Array<[string, string]> = []) => requestFields('GET', '/', extra);
    const cases: Array<[string, Array<[string, string]>, boolean]> = [
      ['§8.2 an uppercase field name', get([['X-Upper', '1']]), true],
      ['§8.2.1 a field name with a space', get([['x bad', '1']]), true],
      ['§8.2.1 a field name with a non-ASCII octet', get([['x-\xe9', '1']]), true],
      ['§8.2.1 a field name with a colon inside', get([['x:a', '1']]), true],
      ['§8.2.1 a field value with CR LF', get([['x-a', 'a\r\nb']]), true],
      ['§8.2.1 a field value with NUL', get([['x-a', 'a\0b']]), true],
      ['§8.2.1 a field value with leading whitespace', get([['x-a', ' a']]), true],
      ['§8.2.2 the connection-specific field connection', get([['connection', 'keep-alive']]), true],
      ['§8.2.2 the connection-specific field keep-alive', get([['keep-alive', 'timeout=5']]), true],
      ['§8.2.2 the connection-specific field proxy-connection', get([['proxy-connection', 'keep-alive']]), true],
      ['§8.2.2 the connection-specific field transfer-encoding', get([['transfer-encoding', 'chunked']]), true],
      ['§8.2.2 the connection-specific field upgrade', get([['upgrade', 'websocket']]), true],
      ['§8.2.2 te with a value other than trailers', get([['te', 'trailers, deflate']]), true],
      ['§8.3 a pseudo-header after a regular field', [[':method', 'GET'], [':scheme', 'http'], ['x-a', '1'], [':path', '/'], [':authority', AUTHORITY]], true],
      ['§8.3 an undefined pseudo-header', [[':foo', 'bar'], ...get()], true],
      ['§8.3 a response pseudo-header (:status) in a request', [[':status', '200'], ...get()], true],
      ['§8.3.1 a duplicate :method', [[':method', 'GET'], ...get()], true],
      ['§8.3.1 a duplicate :scheme', [[':scheme', 'http'], ...get()], true],
      ['§8.3.1 a duplicate :path', [[':path', '/'], ...get()], true],
      ['§8.3.1 a duplicate :authority', [[':authority', AUTHORITY], ...get()], true],
      ['§8.3.1 a missing :method', get().filter(([n]) => n !== ':method'), true],
      ['§8.3.1 a missing :scheme', get().filter(([n]) => n !== ':scheme'), true],
      ['§8.3.1 a missing :path', get().filter(([n]) => n !== ':path'), true],
      ['§8.3.1 an empty :path', requestFields('GET', ''), true],
      ['§8.5 CONNECT (no :protocol) with :path', [[':method', 'CONNECT'], [':authority', 'example.test:443'], [':path', '/']], false],
      ['§8.5 CONNECT (no :protocol) with :scheme', [[':method', 'CONNECT'], [':authority', 'example.test:443'], [':scheme', 'https']], false],
      ['§8.5 CONNECT without :authority', [[':method', 'CONNECT']], false],
      ['RFC 8441 §4 extended CONNECT without :path', connectFields('/hang').filter(([n]) => n !== ':path'), false],
      ['RFC 8441 §4 extended CONNECT without :scheme', connectFields('/hang').filter(([n]) => n !== ':scheme'), false],
      ['RFC 8441 §4 extended CONNECT without :authority', connectFields('/hang').filter(([n]) => n !== ':authority'), false],
      ['RFC 8441 §4 :protocol on a GET', [[':method', 'GET'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', '/'], [':authority', AUTHORITY]], true],
      ['§8.1.1 content-length with END_STREAM on the HEADERS', requestFields('POST', '/', [['content-length', '5']]), true],
      ['§8.1.1 a content-length that is not a number', requestFields('POST', '/', [['content-length', '5x']]), true],
    ];

    for (const [name, fields, endStream] of cases) {
      it(`${name} → RST_STREAM PROTOCOL_ERROR`, async (ctx) => {
        const w = await open(ctx);
        w.send(headers(1, block(fields), { endStream }));
        await expectStreamError(ctx, w, 1, 'PROTOCOL_ERROR', 3);
      });
    }

    it('§8.2.2 te: trailers is allowed', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(get([['te', 'trailers']])), { endStream: true }));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });

    it('§8.1.1 content-length larger than the DATA received → RST_STREAM PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      // One write: the request is checked before the application could answer it.
      w.send(headers(1, block(requestFields('POST', '/', [['content-length', '10']]))), data(1, 'hello', true));
      await expectStreamError(ctx, w, 1, 'PROTOCOL_ERROR', 3);
    });

    it('§8.1.1 content-length that differs from the sum of several DATA frames → RST_STREAM PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(requestFields('POST', '/', [['content-length', '12']]))), data(1, 'hello'), data(1, 'world', true));
      await expectStreamError(ctx, w, 1, 'PROTOCOL_ERROR', 3);
    });

    it('§8.1.1 content-length: 0 with END_STREAM on the HEADERS is served', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(requestFields('POST', '/', [['content-length', '0']])), { endStream: true }));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });

    it('§8.1.1 content-length smaller than the DATA received → RST_STREAM PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(requestFields('POST', '/', [['content-length', '3']]))), data(1, 'hello'));
      await expectStreamError(ctx, w, 1, 'PROTOCOL_ERROR', 3);
    });

    it('§8.1.1 content-length equal to the DATA (over several frames, with trailers) is served', async (ctx) => {
      const w = await open(ctx);
      w.send(headers(1, block(requestFields('POST', '/', [['content-length', '10']]))), data(1, 'hello'), data(1, 'world'), headers(1, block([['x-checksum', '1']]), { endStream: true }));
      ctx.expect((await w.response(1)).get(':status')).toBe('404');
      await expectIgnored(ctx, w);
    });

    it('§8.1 trailers without END_STREAM → RST_STREAM PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), headers(1, block([['x-trailer', '1']])));
      await expectStreamError(ctx, w, 1, 'PROTOCOL_ERROR', 3);
    });

    it('§8.1 a pseudo-header in trailers → RST_STREAM PROTOCOL_ERROR', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1), headers(1, block([[':path', '/'], ['x-trailer', '1']]), { endStream: true }));
      await expectStreamError(ctx, w, 1, 'PROTOCOL_ERROR', 3);
    });
  });

  // -------------------------------------------------------------------------------------
  // Defences (RFC 9113 §10.5): each ends the connection with ENHANCE_YOUR_CALM (§7).

  describe('§10.5 defences', () => {
    it('§10.5 / CVE-2023-44487 rapid reset (extended CONNECT + RST_STREAM CANCEL in a loop) → GOAWAY ENHANCE_YOUR_CALM', async (ctx) => {
      const w = await open(ctx);
      const pairs = 2 * RAPID_RESET.burst;
      const frames: Buffer[] = [];
      for (let i = 0; i < pairs; i++) frames.push(pendingTunnel(2 * i + 1), rst(2 * i + 1, E.CANCEL));
      w.send(...frames);
      const o = await w.outcome(5000);
      ctx.expect(o.text, w.describe()).toMatch(/^GOAWAY\(ENHANCE_YOUR_CALM, last=\d+\)$/);
      const g = readGoaway(w.frames.find((f) => f.type === T.GOAWAY)!);
      // Cut off just past the burst (plus what refilled meanwhile), at the stream whose reset emptied the budget.
      ctx.expect(g.lastStreamId % 2).toBe(1);
      ctx.expect(g.lastStreamId).toBeGreaterThanOrEqual(2 * RAPID_RESET.burst + 1);
      ctx.expect(g.lastStreamId).toBeLessThan(2 * pairs);
      ctx.expect(w.frames.filter((f) => f.type === T.HEADERS), 'no reset stream was answered').toEqual([]);
      ctx.expect(await w.closedWithin(3000), 'the TCP connection is closed').toBe(true);
    });

    it('§10.5 resetting ESTABLISHED tunnels (after their 200) in bursts of 30 for seconds never ends the connection', async (ctx) => {
      const w = await open(ctx);
      const started = Date.now();
      let next = 1;
      let resets = 0;
      let rounds = 0;
      const budget = (ms: number) => RAPID_RESET.burst + (RAPID_RESET.perSecond * ms) / 1000;
      // At least 3 s, and until more resets than the rapid-reset budget would ever allow.
      while (Date.now() - started < 3000 || resets <= budget(Date.now() - started) + 30) {
        if (Date.now() - started > 20_000) break;
        const ids = Array.from({ length: 30 }, (_, i) => next + 2 * i);
        next += 60;
        w.send(...ids.map(echoTunnel));
        for (const id of ids) ctx.expect((await w.response(id, 10_000)).get(':status'), `tunnel ${id}`).toBe('200');
        w.send(...ids.map((id) => rst(id, E.CANCEL)));
        resets += ids.length;
        rounds++;
        ctx.expect(w.errors().filter((e) => e.startsWith('GOAWAY')), w.describe(Math.max(0, w.frames.length - 20))).toEqual([]);
      }
      const elapsed = Date.now() - started;
      ctx.expect(resets, `${rounds} rounds in ${elapsed} ms`).toBeGreaterThan(budget(elapsed));
      await expectIgnored(ctx, w);
      await expectServes(ctx, w, next);
    }, 30_000);

    it('§10.5 CONTINUATION flood (a field block of endless small frames) → GOAWAY ENHANCE_YOUR_CALM', async (ctx) => {
      const w = await open(ctx);
      const frames: Buffer[] = [headers(1, Buffer.concat([hpack.indexed(2), Buffer.from([0x00]), hpackString('x-flood'), hpackInt(100_000, 7)]), { endStream: true, endHeaders: false })];
      for (let i = 0; i < 500; i++) frames.push(continuation(1, Buffer.alloc(16, 0x61), false));
      w.send(...frames);
      await expectConnectionError(ctx, w, 'ENHANCE_YOUR_CALM', 0);
    });

    it('§10.5 CONTINUATION flood (a field block far above SETTINGS_MAX_HEADER_LIST_SIZE) → GOAWAY ENHANCE_YOUR_CALM', async (ctx) => {
      const w = await open(ctx);
      const frames: Buffer[] = [headers(1, Buffer.concat([hpack.indexed(2), Buffer.from([0x00]), hpackString('x-flood'), hpackInt(10_000_000, 7)]), { endStream: true, endHeaders: false })];
      for (let i = 0; i < 40; i++) frames.push(continuation(1, Buffer.alloc(16_384, 0x61), false));
      w.send(...frames);
      await expectConnectionError(ctx, w, 'ENHANCE_YOUR_CALM', 0);
    });

    it('§10.5 empty DATA flood → GOAWAY ENHANCE_YOUR_CALM', async (ctx) => {
      const w = await open(ctx);
      const frames: Buffer[] = [pendingTunnel(1)];
      for (let i = 0; i < 5000; i++) frames.push(data(1, Buffer.alloc(0)));
      w.send(...frames);
      await expectConnectionError(ctx, w, 'ENHANCE_YOUR_CALM', 1);
    });

    it('§10.5 SETTINGS flood → GOAWAY ENHANCE_YOUR_CALM', async (ctx) => {
      const w = await open(ctx);
      const frames: Buffer[] = [];
      for (let i = 0; i < 5000; i++) frames.push(settings([]));
      w.send(...frames);
      await expectConnectionError(ctx, w, 'ENHANCE_YOUR_CALM', 0);
    });

    it('§10.5 PING flood → GOAWAY ENHANCE_YOUR_CALM', async (ctx) => {
      const w = await open(ctx);
      const one = ping(Buffer.from('floodpng'));
      w.send(Buffer.concat(Array.from({ length: 40_000 }, () => one)));
      await expectConnectionError(ctx, w, 'ENHANCE_YOUR_CALM', 0);
    });

    it('§10.5 normal rates are fine: a PING, a SETTINGS and an empty DATA every second', async (ctx) => {
      const w = await open(ctx);
      w.send(pendingTunnel(1));
      for (let i = 0; i < 4; i++) {
        w.send(settings([[S.MAX_HEADER_LIST_SIZE, 65_536 + i]]), data(1, Buffer.alloc(0)));
        await w.roundTrip();
        if (i < 3) await sleep(1000);
      }
      await expectIgnored(ctx, w);
      await expectServes(ctx, w, 3);
    }, 15_000);
  });

  // -------------------------------------------------------------------------------------
  // §6.8 Graceful shutdown.

  it('§6.8 graceful shutdown (SIGTERM): GOAWAY(2^31-1) + PING, then GOAWAY(last stream id) once the PING returns; the last stream id never goes up', async (ctx) => {
    const { expect } = ctx;
    // A: a client with an open tunnel that answers the PING; B: idle, answers the PING;
    // C: idle, never answers (the final GOAWAY follows on h2ws's timer).
    const a = await open(ctx, {}, doomed.port);
    const b = await open(ctx, {}, doomed.port);
    const c = await open(ctx, {}, doomed.port);
    a.send(echoTunnel(1));
    expect((await a.response(1)).get(':status')).toBe('200');
    const marks = [a, b, c].map((w) => w.frames.length);
    doomed.proc.kill('SIGTERM');

    const goaways = (w: Wire, from: number) => w.frames.slice(from).filter((f) => f.type === T.GOAWAY);
    const firstSteps = await Promise.all(
      [a, b, c].map(async (w, i) => {
        const g = await w.waitFor((f) => f.type === T.GOAWAY, 5000, 'the first GOAWAY', marks[i]);
        const p = await w.waitFor((f) => f.type === T.PING && (f.flags & F.ACK) === 0, 5000, 'the shutdown PING', marks[i]);
        expect(w.frames.indexOf(p), 'the PING follows the GOAWAY').toBeGreaterThan(w.frames.indexOf(g));
        return { goaway: readGoaway(g), ping: p };
      }),
    );
    for (const s of firstSteps) expect([s.goaway.lastStreamId, s.goaway.code]).toEqual([MAX_WINDOW, E.NO_ERROR]);

    // A stream A opens before answering the PING was sent before the GOAWAY took effect: it is served.
    a.send(getRequest(3));
    expect((await a.response(3)).get(':status')).toBe('404');
    for (const [w, s] of [[a, firstSteps[0]!], [b, firstSteps[1]!]] as const) w.send(ping(s.ping.payload, true));

    const finalOf = async (w: Wire, from: number) => {
      await w.waitFor(() => goaways(w, from).length >= 2, 5000, 'the second GOAWAY', from);
      const [first, second] = goaways(w, from);
      return { ...readGoaway(second!), after: second!.at - first!.at };
    };
    const [fa, fb, fc] = await Promise.all([finalOf(a, marks[0]!), finalOf(b, marks[1]!), finalOf(c, marks[2]!)]);
    expect([fa.lastStreamId, fa.code]).toEqual([3, E.NO_ERROR]);
    expect([fb.lastStreamId, fb.code]).toEqual([0, E.NO_ERROR]);
    expect([fc.lastStreamId, fc.code]).toEqual([0, E.NO_ERROR]);
    // B's came with its PING ACK; C's only when h2ws stopped waiting for one (1 s).
    expect(fb.after, 'B: the final GOAWAY answers the PING ACK').toBeLessThan(fc.after);
    expect(fc.after, "C: the final GOAWAY waits for the PING's timer").toBeGreaterThanOrEqual(900);
    // Idle connections end once the final GOAWAY is out.
    expect(await b.closedWithin(8000), 'B closed').toBe(true);
    expect(await c.closedWithin(8000), 'C closed').toBe(true);

    // After the final GOAWAY, a new stream is ignored (§6.8) and the tunnel still relays.
    const before = a.frames.length;
    a.send(getRequest(5));
    await a.roundTrip();
    await sleep(200);
    expect(a.frames.slice(before).filter((f) => f.streamId === 5), 'stream 5 is not answered').toEqual([]);
    // A connection error now: its GOAWAY may not raise the last stream id above 3.
    a.send(frame(T.PING, 0, 1, Buffer.alloc(8)));
    await a.waitFor(() => goaways(a, marks[0]!).length >= 3, 5000, 'the third GOAWAY');
    const lasts = goaways(a, marks[0]!).map((f) => readGoaway(f).lastStreamId);
    for (let i = 1; i < lasts.length; i++) expect(lasts[i], `GOAWAY last stream ids ${lasts.join(', ')}`).toBeLessThanOrEqual(lasts[i - 1]!);
    expect(readGoaway(goaways(a, marks[0]!)[2]!).code).toBe(E.PROTOCOL_ERROR);
    expect(await a.closedWithin(3000)).toBe(true);
    expect(await doomed.exited).toBe(0);
  }, 30_000);
});
