/**
 * RFC 6455 framing conformance of in-process WebSockets, in the spirit of the Autobahn suite,
 * with test/fixtures/conformance-server.ts spawned under Node, Deno and Bun in turn. Every
 * framing case runs against the three APIs (Hono's `upgradeWebSocket`, Web Streams, the
 * ws-compatible `WebSocketServer`) over HTTP/2 (RFC 8441: node:http2 extended CONNECT, or raw
 * h2 frames where the exact frames matter) and over HTTP/1.1 (raw TCP after an RFC 6455 §4
 * handshake), with hand-built frames, and asserts the bytes that come back: echoes, Close
 * codes, and how the stream or connection ends.
 */
import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { acceptFor } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, startScript } from '../helpers/gateway-process.ts';
import { connectH2, eventually, type H2Client, once, openTunnel } from '../helpers/h2-client.ts';
import { type Frame, frame as h2Frame, FrameType, RawH2, rstCode } from '../helpers/raw-h2.ts';
import {
  type CloseInfo,
  closeFrame,
  closePayload,
  deflateMessage,
  FrameParser,
  fragments,
  inflateMessage,
  MessageAssembler,
  Opcode,
  parseClose,
  type WsFrame,
  wsFrame,
  type WsMessage,
} from '../helpers/ws-frames.ts';

const FIXTURE = 'test/fixtures/conformance-server.ts';
const PING_MS = 200;
const APIS = ['hono', 'streams', 'ws'] as const;
type Api = (typeof APIS)[number];
type Transport = 'h2' | 'h1';
const MATRIX: ReadonlyArray<readonly [Api, Transport]> = APIS.flatMap((api) => (['h2', 'h1'] as const).map((t) => [api, t] as const));
const H2_CANCEL = http2.constants.NGHTTP2_CANCEL;

/** What the client has seen from the server, in order. */
class ServerSide {
  readonly frames: WsFrame[] = [];
  readonly messages: WsMessage[] = [];
  /**
   * Frames, the end of the server's side ("end") and the stream or socket going away ("gone"),
   * in order. Over h2, node:http2 also ends the readable side when the stream is reset, so
   * "end" means END_STREAM only when `rstCode` is 0.
   */
  readonly events: string[] = [];
  ended = false;
  gone = false;
  /** h2: the RST_STREAM code the stream closed with (0: closed cleanly). h1: undefined. */
  rstCode: number | undefined;
  /** h1: the socket error (e.g. ECONNRESET), if any. */
  socketError: string | undefined;
  readonly #parser = new FrameParser();
  readonly #assembler = new MessageAssembler();

  data(chunk: Buffer): void {
    for (const f of this.#parser.push(chunk)) {
      this.frames.push(f);
      this.events.push(f.opcode === Opcode.CLOSE ? `close ${parseClose(f.payload).code ?? 'empty'}` : (OPCODE_NAMES[f.opcode] ?? `opcode ${f.opcode}`));
      const message = this.#assembler.push(f);
      if (message) this.messages.push(message);
    }
  }

  end(): void {
    this.ended = true;
    this.events.push('end');
  }

  goneWith(rstCode: number | undefined): void {
    this.gone = true;
    this.rstCode = rstCode;
    this.events.push('gone');
  }

  /** The server's Close frame, if one arrived. */
  get close(): CloseInfo | undefined {
    const f = this.frames.find((x) => x.opcode === Opcode.CLOSE);
    return f ? parseClose(f.payload) : undefined;
  }

  get closeCount(): number {
    return this.frames.filter((f) => f.opcode === Opcode.CLOSE).length;
  }

  ofType(opcode: number): WsFrame[] {
    return this.frames.filter((f) => f.opcode === opcode);
  }
}

const OPCODE_NAMES: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 9: 'ping', 10: 'pong' };

/** One WebSocket seen from the client's side of the wire, over h2 or h1. */
interface Wire {
  readonly transport: Transport;
  /** 200 (h2) or 101 (h1) when accepted. */
  readonly status: number | undefined;
  header(name: string): string | undefined;
  readonly server: ServerSide;
  /** Writes frames in one write. */
  send(...frames: Buffer[]): void;
  /** END_STREAM (h2) or FIN (h1). */
  end(): void;
  dispose(): Promise<void>;
}

async function until(wire: Wire, predicate: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${wire.transport}: timed out waiting for ${what}; events so far: ${wire.server.events.join(', ') || 'none'}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A tunnel on a shared h2 connection, as browsers open them (RFC 8441: many WebSockets, one connection). */
async function openH2(client: H2Client, path: string, extra: http2.OutgoingHttpHeaders = {}): Promise<Wire> {
  const res = await openTunnel(client, path, extra);
  const server = new ServerSide();
  const { stream } = res;
  stream.on('data', (d: Buffer) => server.data(d));
  stream.once('end', () => server.end());
  if (stream.closed) server.goneWith(stream.rstCode);
  else stream.once('close', () => server.goneWith(stream.rstCode));
  return {
    transport: 'h2',
    status: res.status,
    header: (name) => {
      const v = res.headers[name];
      return Array.isArray(v) ? v.join(', ') : v === undefined ? undefined : String(v);
    },
    server,
    send: (...frames) => void (stream.writable && stream.write(Buffer.concat(frames))),
    end: () => void (stream.writableEnded || stream.end()),
    dispose: async () => {
      if (!stream.closed) stream.close(H2_CANCEL);
    },
  };
}

async function openH1(port: number, path: string, extra: Record<string, string> = {}): Promise<Wire> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  const server = new ServerSide();
  const head = await new Promise<{ status: number; headers: Map<string, string>; rest: Buffer }>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const at = buf.indexOf('\r\n\r\n');
      if (at < 0) return;
      socket.removeListener('data', onData);
      socket.pause();
      const [statusLine, ...fields] = buf.subarray(0, at).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const f of fields) {
        const i = f.indexOf(':');
        headers.set(f.slice(0, i).trim().toLowerCase(), f.slice(i + 1).trim());
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, rest: buf.subarray(at + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => (server.socketError = err.code ?? err.message));
  if (head.status === 101) expect(head.headers.get('sec-websocket-accept'), 'RFC 6455 §4.2.2 accept').toBe(acceptFor(key));
  if (head.rest.length > 0) server.data(head.rest);
  socket.on('data', (d: Buffer) => server.data(d));
  socket.once('end', () => server.end());
  socket.once('close', () => server.goneWith(undefined));
  socket.resume();
  return {
    transport: 'h1',
    status: head.status,
    header: (name) => head.headers.get(name),
    server,
    send: (...frames) => void (socket.writable && socket.write(Buffer.concat(frames))),
    end: () => void (socket.writableEnded || socket.end()),
    dispose: async () => {
      socket.destroy();
    },
  };
}

/** An extended CONNECT's header fields (RFC 8441 §4), for the raw h2 client. */
const connect = (path: string): Array<readonly [string, string]> => [
  [':method', 'CONNECT'],
  [':protocol', 'websocket'],
  [':scheme', 'http'],
  [':path', path],
  [':authority', 'conformance.test'],
  ['sec-websocket-version', '13'],
];

/** The server's frames on one stream, in order: HEADERS, WebSocket frames in DATA, END_STREAM, RST_STREAM. */
function streamTrace(raw: RawH2, id: number): string[] {
  const trace: string[] = [];
  const parser = new FrameParser();
  for (const f of raw.frames) {
    if (f.streamId !== id) continue;
    // 0x88: HPACK static table entry 8, ":status: 200"
    if (f.type === FrameType.HEADERS) trace.push(f.payload[0] === 0x88 ? 'HEADERS 200' : 'HEADERS');
    if (f.type === FrameType.DATA) {
      for (const wf of parser.push(f.payload)) trace.push(wf.opcode === Opcode.CLOSE ? `Close ${parseClose(wf.payload).code}` : `opcode ${wf.opcode}`);
    }
    if ((f.type === FrameType.DATA || f.type === FrameType.HEADERS) && (f.flags & 0x1) !== 0) trace.push('END_STREAM');
    if (f.type === FrameType.RST_STREAM) trace.push(`RST_STREAM ${rstCode(f)}`);
  }
  return trace;
}

/** Whatever the server sent before answering a PING has arrived once the PING ACK is in. */
async function settle(raw: RawH2): Promise<void> {
  const opaque = randomBytes(8);
  raw.write(h2Frame(FrameType.PING, 0, 0, opaque));
  await raw.waitFor((f) => f.type === FrameType.PING && (f.flags & 0x1) !== 0 && f.payload.equals(opaque));
  await new Promise((r) => setTimeout(r, 100));
}

/** Matches the server's END_STREAM on a raw h2 stream (on DATA or HEADERS). */
const endStreamOn = (id: number) => (f: Frame) => f.streamId === id && (f.flags & 0x1) !== 0 && (f.type === FrameType.DATA || f.type === FrameType.HEADERS);

/** The data messages the server sent on one raw h2 stream. */
function messagesOn(raw: RawH2, id: number): WsMessage[] {
  const parser = new FrameParser();
  const assembler = new MessageAssembler();
  const messages: WsMessage[] = [];
  for (const f of raw.frames) {
    if (f.streamId !== id || f.type !== FrameType.DATA) continue;
    for (const wf of parser.push(f.payload)) {
      const m = assembler.push(wf);
      if (m) messages.push(m);
    }
  }
  return messages;
}

/**
 * Sends DATA within the peer's flow-control windows (RFC 9113 §5.2, §6.9), as every h2
 * client must: per stream and per connection, starting from SETTINGS_INITIAL_WINDOW_SIZE and
 * growing with each WINDOW_UPDATE. Call pump() often; it sends what the windows allow.
 */
class WindowedSender {
  connection = 65535;
  /** When the last WINDOW_UPDATE arrived. */
  lastUpdate = Date.now();
  readonly #raw: RawH2;
  readonly #windows = new Map<number, number>();
  readonly #queues = new Map<number, Buffer[]>();
  readonly #sent = new Map<number, number>();
  #initial = 65535;
  #seen = 0;

  constructor(raw: RawH2) {
    this.#raw = raw;
  }

  open(id: number): void {
    this.#windows.set(id, this.#initial);
    this.#queues.set(id, []);
    this.#sent.set(id, 0);
  }

  write(id: number, bytes: Buffer): void {
    this.#queues.get(id)!.push(bytes);
    this.pump();
  }

  window(id: number): number {
    return this.#windows.get(id) ?? 0;
  }

  sent(id: number): number {
    return this.#sent.get(id) ?? 0;
  }

  pending(id: number): number {
    return (this.#queues.get(id) ?? []).reduce((n, b) => n + b.length, 0);
  }

  pump(): void {
    this.#absorb();
    // One write per pump: many small writes would each wait on Nagle's algorithm.
    const out: Buffer[] = [];
    for (const [id, queue] of this.#queues) {
      while (queue.length > 0) {
        const n = Math.min(16384, queue[0]!.length, this.connection, this.window(id));
        if (n <= 0) break;
        out.push(h2Frame(FrameType.DATA, 0, id, queue[0]!.subarray(0, n)));
        if (n === queue[0]!.length) queue.shift();
        else queue[0] = queue[0]!.subarray(n);
        this.connection -= n;
        this.#windows.set(id, this.window(id) - n);
        this.#sent.set(id, this.sent(id) + n);
      }
    }
    if (out.length > 0) this.#raw.write(Buffer.concat(out));
  }

  #absorb(): void {
    const frames = this.#raw.frames;
    for (; this.#seen < frames.length; this.#seen++) {
      const f = frames[this.#seen]!;
      if (f.type === FrameType.WINDOW_UPDATE) {
        const increment = f.payload.readUInt32BE(0) & 0x7fffffff;
        if (f.streamId === 0) this.connection += increment;
        else if (this.#windows.has(f.streamId)) this.#windows.set(f.streamId, this.window(f.streamId) + increment);
        this.lastUpdate = Date.now();
      } else if (f.type === FrameType.SETTINGS && (f.flags & 0x1) === 0) {
        for (let i = 0; i + 6 <= f.payload.length; i += 6) {
          if (f.payload.readUInt16BE(i) !== 0x4) continue; // SETTINGS_INITIAL_WINDOW_SIZE
          const value = f.payload.readUInt32BE(i + 2);
          for (const [id, w] of this.#windows) this.#windows.set(id, w + value - this.#initial);
          this.#initial = value;
        }
      }
    }
  }
}

describe.each(RUNTIMES)('WebSocket conformance under %s', (runtime) => {
  let fixture: GatewayProcess;

  beforeAll(async () => {
    // These clients all send END_STREAM after the closing handshake, some only after a check
    // or two: a long close grace keeps h2ws's RST_STREAM NO_ERROR for clients that never do
    // (close-grace.e2e.test.ts) out of their way on a busy machine.
    fixture = await startScript(runtime, FIXTURE, { PING_MS: String(PING_MS), CLOSE_GRACE_MS: '10000' });
  });

  let shared: H2Client | undefined;
  let goneAway = false;

  /** The h2 connection the tests share, replaced if the server has sent GOAWAY. */
  async function h2(): Promise<H2Client> {
    if (shared !== undefined && !goneAway && !shared.session.closed && !shared.session.destroyed) return shared;
    void shared?.close();
    shared = await connectH2(fixture.url);
    goneAway = false;
    shared.session.once('goaway', () => (goneAway = true));
    return shared;
  }

  afterAll(async () => {
    await shared?.close();
    const code = await fixture?.stop();
    // The server must never have crashed during the suite, and it exits 0 on SIGTERM.
    expect(code, `fixture stderr:\n${fixture?.stderr()}`).toBe(0);
  });

  /** Fails fast, with the server's last words, once the fixture has died. */
  function expectAlive(): void {
    const { proc } = fixture;
    if (proc.exitCode === null && proc.signalCode === null) return;
    const last = fixture.stderr().trim().split('\n').slice(-3).join('\n');
    throw new Error(`the ${runtime} server has exited (${proc.exitCode ?? proc.signalCode}):\n${last}`);
  }

  beforeEach(() => expectAlive());

  /** Opens a WebSocket on /API[suffix], runs `body`, and always cleans up. */
  async function withWire(transport: Transport, path: string, body: (wire: Wire) => Promise<void>, headers: Record<string, string> = {}): Promise<void> {
    const wire = transport === 'h2' ? await openH2(await h2(), path, headers) : await openH1(fixture.port, path, headers);
    try {
      expect(wire.status, `handshake on ${path}`).toBe(transport === 'h2' ? 200 : 101);
      await body(wire);
    } finally {
      await wire.dispose();
    }
  }

  /**
   * The server closed with `code` (RFC 6455 §7.1.7 "fail the connection"): its Close arrives,
   * nothing was echoed, it ends the stream (END_STREAM/FIN) without waiting for our Close, and
   * once we answer and end ours the h2 stream closes without RST_STREAM.
   */
  async function expectServerClose(wire: Wire, code: number): Promise<void> {
    await until(wire, () => wire.server.close !== undefined, `a Close ${code}`);
    expect(wire.server.close?.code).toBe(code);
    expect(wire.server.messages).toEqual([]);
    await until(wire, () => wire.server.ended, 'END_STREAM/FIN after the Close');
    wire.send(closeFrame(code));
    await expectCleanEnd(wire);
    expect(wire.server.events).toEqual([`close ${code}`, 'end', 'gone']);
  }

  /**
   * Ends our side after the server's END_STREAM/FIN. Over h2 the stream must close with no
   * RST_STREAM (node:http2 reports a stream that ended both ways with rstCode 0); over h1 the
   * socket closes without an error.
   */
  async function expectCleanEnd(wire: Wire): Promise<void> {
    await until(wire, () => wire.server.ended, 'END_STREAM/FIN');
    wire.end();
    await until(wire, () => wire.server.gone, 'the stream/socket to close');
    if (wire.transport === 'h2') expect(wire.server.rstCode, 'RST_STREAM code').toBe(0);
    else expect(wire.server.socketError).toBeUndefined();
    expect(wire.server.closeCount).toBe(1);
    expect(wire.server.events.slice(-2)).toEqual(['end', 'gone']);
  }

  /** A clean close handshake started by us (RFC 6455 §7.1.2): the server echoes our code. */
  async function closeCleanly(wire: Wire, code = 1000): Promise<void> {
    wire.send(closeFrame(code));
    await until(wire, () => wire.server.close !== undefined, 'the Close echo');
    expect(wire.server.close?.code).toBe(code);
    await expectCleanEnd(wire);
  }

  describe('RFC 6455 §5.4 fragmentation', () => {
    it.each(MATRIX)('/%s over %s: a text message in 3 fragments (FIN=0, 0, 1) echoes as one message', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        const text = 'fragmented text: κόσμε, one message';
        for (const f of fragments(Opcode.TEXT, text, 3)) wire.send(f);
        await until(wire, () => wire.server.messages.length > 0, 'the echo');
        expect(wire.server.messages).toEqual([expect.objectContaining({ binary: false, text })]);
        await closeCleanly(wire);
      });
    });

    it.each(MATRIX)('/%s over %s: a binary message in 3 fragments echoes as one message', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        const data = randomBytes(3000);
        for (const f of fragments(Opcode.BINARY, data, 3)) wire.send(f);
        await until(wire, () => wire.server.messages.length > 0, 'the echo');
        expect(wire.server.messages).toHaveLength(1);
        expect(wire.server.messages[0]!.binary).toBe(true);
        expect(wire.server.messages[0]!.data.equals(data)).toBe(true);
        await closeCleanly(wire);
      });
    });

    it.each(MATRIX)('/%s over %s: a Ping between fragments gets a Pong with its payload, and the message still arrives whole', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        const [a, b, c] = fragments(Opcode.TEXT, 'abc-def-ghi', 3);
        wire.send(a!);
        wire.send(wsFrame({ opcode: Opcode.PING, payload: 'ping in the middle' }));
        wire.send(b!, c!);
        await until(wire, () => wire.server.messages.length > 0 && wire.server.ofType(Opcode.PONG).length > 0, 'the Pong and the echo');
        expect(wire.server.ofType(Opcode.PONG).map((f) => f.payload.toString())).toEqual(['ping in the middle']);
        expect(wire.server.messages.map((m) => m.text)).toEqual(['abc-def-ghi']);
        await closeCleanly(wire);
      });
    });

    it.each(MATRIX)('/%s over %s: a UTF-8 character split across fragments is valid (§8.1 checks the whole message)', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        const euro = Buffer.from('€'); // e2 82 ac
        wire.send(wsFrame({ opcode: Opcode.TEXT, fin: false, payload: Buffer.concat([Buffer.from('price: '), euro.subarray(0, 1)]) }));
        wire.send(wsFrame({ opcode: Opcode.CONTINUATION, fin: true, payload: Buffer.concat([euro.subarray(1), Buffer.from('5')]) }));
        await until(wire, () => wire.server.messages.length > 0, 'the echo');
        expect(wire.server.messages.map((m) => m.text)).toEqual(['price: €5']);
        await closeCleanly(wire);
      });
    });

    it.each(MATRIX)('/%s over %s: empty first and last fragments still make one message', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(
          wsFrame({ opcode: Opcode.TEXT, fin: false, payload: '' }),
          wsFrame({ opcode: Opcode.CONTINUATION, fin: false, payload: 'only' }),
          wsFrame({ opcode: Opcode.CONTINUATION, fin: true, payload: '' }),
        );
        await until(wire, () => wire.server.messages.length > 0, 'the echo');
        expect(wire.server.messages.map((m) => m.text)).toEqual(['only']);
        await closeCleanly(wire);
      });
    });
  });

  describe('RFC 6455 §8.1 invalid UTF-8 → 1007', () => {
    it.each(MATRIX)('/%s over %s: invalid UTF-8 in a text message closes with 1007', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        // κόσμε followed by an encoded surrogate (ed a0 80), Autobahn case 6.3.1
        wire.send(wsFrame({ opcode: Opcode.TEXT, payload: Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex') }));
        await expectServerClose(wire, 1007);
      });
    });

    it.each(MATRIX)('/%s over %s: invalid UTF-8 split across fragments closes with 1007', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        // f4 90 80 80 is above U+10FFFF; each fragment alone holds only part of the sequence.
        wire.send(wsFrame({ opcode: Opcode.TEXT, fin: false, payload: Buffer.from([0x6f, 0x6b, 0xf4]) }));
        wire.send(wsFrame({ opcode: Opcode.CONTINUATION, fin: false, payload: Buffer.from([0x90]) }));
        wire.send(wsFrame({ opcode: Opcode.CONTINUATION, fin: true, payload: Buffer.from([0x80, 0x80, 0x21]) }));
        await expectServerClose(wire, 1007);
      });
    });
  });

  describe('RFC 6455 §7.4.1 message too big → 1009', () => {
    it.each(MATRIX)('/%s/small over %s: exactly maxPayload (1024 B) echoes; 1025 B closes with 1009', async (api, transport) => {
      await withWire(transport, `/${api}/small`, async (wire) => {
        const limit = randomBytes(1024);
        wire.send(wsFrame({ opcode: Opcode.BINARY, payload: limit }));
        await until(wire, () => wire.server.messages.length > 0, 'the echo of 1024 B');
        expect(wire.server.messages[0]!.data.equals(limit)).toBe(true);
        await closeCleanly(wire);
      });
      await withWire(transport, `/${api}/small`, async (wire) => {
        wire.send(wsFrame({ opcode: Opcode.BINARY, payload: randomBytes(1025) }));
        await expectServerClose(wire, 1009);
      });
    });

    it.each(MATRIX)('/%s/small over %s: fragments each under the limit but over it together close with 1009', async (api, transport) => {
      await withWire(transport, `/${api}/small`, async (wire) => {
        for (const f of fragments(Opcode.TEXT, 'x'.repeat(1500), 3)) wire.send(f);
        await expectServerClose(wire, 1009);
      });
    });

    it.each(APIS)('/%s over h2: the default route takes a 1 MiB message (the default limit is 16 MiB)', async (api) => {
      await withWire('h2', `/${api}`, async (wire) => {
        const big = randomBytes(1024 * 1024);
        wire.send(wsFrame({ opcode: Opcode.BINARY, payload: big }));
        await until(wire, () => wire.server.messages.length > 0, 'the echo of 1 MiB');
        expect(wire.server.messages[0]!.data.equals(big)).toBe(true);
        await closeCleanly(wire);
      });
    });
  });

  describe('RFC 6455 §5.2, §5.4, §5.5 protocol errors → 1002', () => {
    // [what, frames, also over HTTP/1.1]
    const violations: ReadonlyArray<readonly [string, () => Buffer[], boolean]> = [
      ['reserved data opcode 3', () => [wsFrame({ opcode: 0x3, payload: 'x' })], true],
      ['reserved control opcode 0xB', () => [wsFrame({ opcode: 0xb, payload: 'x' })], false],
      ['RSV1 set without an extension', () => [wsFrame({ opcode: Opcode.TEXT, rsv1: true, payload: 'x' })], true],
      ['RSV2 set', () => [wsFrame({ opcode: Opcode.TEXT, rsv2: true, payload: 'x' })], false],
      ['RSV3 set', () => [wsFrame({ opcode: Opcode.TEXT, rsv3: true, payload: 'x' })], false],
      ['an unmasked client frame (§5.1)', () => [wsFrame({ opcode: Opcode.TEXT, mask: false, payload: 'x' })], true],
      ['a Ping with a 126-byte payload (control frames ≤ 125)', () => [wsFrame({ opcode: Opcode.PING, payload: Buffer.alloc(126, 0x61) })], false],
      ['a fragmented Ping (FIN=0)', () => [wsFrame({ opcode: Opcode.PING, fin: false, payload: 'x' }), wsFrame({ opcode: Opcode.CONTINUATION, payload: 'y' })], true],
      ['a continuation with nothing to continue', () => [wsFrame({ opcode: Opcode.CONTINUATION, payload: 'x' })], true],
      ['a new text frame while a fragmented message is open', () => [wsFrame({ opcode: Opcode.TEXT, fin: false, payload: 'a' }), wsFrame({ opcode: Opcode.TEXT, payload: 'b' })], false],
    ];
    const cases = MATRIX.flatMap(([api, transport]) => violations.filter(([, , h1]) => transport === 'h2' || h1).map(([what, build]) => [api, transport, what, build] as const));

    it.each(cases)('/%s over %s: %s', async (api, transport, _what, build) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(...build());
        await expectServerClose(wire, 1002);
      });
    });
  });

  describe('RFC 6455 §7.4 close codes', () => {
    const VALID = [1000, 1001, 1003, 1011, 3000, 4999];
    const INVALID = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000];
    const H1_CODES = new Set([1000, 4999, 0, 1005, 5000]);
    const withCodes = (codes: number[]) => MATRIX.flatMap(([api, t]) => codes.filter((c) => t === 'h2' || H1_CODES.has(c)).map((code) => [api, t, code] as const));

    it.each(withCodes(VALID))('/%s over %s: a client Close %i is echoed with the same code and reason, then the stream ends cleanly', async (api, transport, code) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(closeFrame(code, 'see you'));
        await until(wire, () => wire.server.close !== undefined, 'the Close echo');
        expect(wire.server.close).toEqual({ code, reason: 'see you' });
        await expectCleanEnd(wire);
        expect(wire.server.events).toEqual([`close ${code}`, 'end', 'gone']);
      });
    });

    it.each(MATRIX)('/%s over %s: an empty Close (no code) is answered with an empty Close', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(closeFrame());
        await until(wire, () => wire.server.close !== undefined, 'the Close');
        expect(wire.server.close).toEqual({ code: undefined, reason: '' });
        await expectCleanEnd(wire);
      });
    });

    it.each(withCodes(INVALID))('/%s over %s: a client Close with the invalid code %i is answered with 1002', async (api, transport, code) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(closeFrame(code));
        await expectServerClose(wire, 1002);
      });
    });

    it.each(MATRIX)('/%s over %s: a Close with a 1-byte payload is answered with 1002', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(wsFrame({ opcode: Opcode.CLOSE, payload: Buffer.from([0x03]) }));
        await expectServerClose(wire, 1002);
      });
    });

    it.each(MATRIX)('/%s over %s: a Close reason with invalid UTF-8 is answered with 1007', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(wsFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000, Buffer.from([0x62, 0x79, 0xff, 0xfe])) }));
        await expectServerClose(wire, 1007);
      });
    });

    it.each(MATRIX)('/%s over %s: a Close with a 124-byte reason (126 B payload) is answered with 1002', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(wsFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000, 'r'.repeat(124)) }));
        await expectServerClose(wire, 1002);
      });
    });

    it.each(MATRIX)('/%s over %s: server close(4001, "bye") arrives with that code and reason; END_STREAM/FIN follows our Close', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(wsFrame({ opcode: Opcode.TEXT, payload: 'close 4001 bye' }));
        await until(wire, () => wire.server.close !== undefined, 'the server Close');
        expect(wire.server.close).toEqual({ code: 4001, reason: 'bye' });
        expect(wire.server.messages).toEqual([]);
        // The server waits for our Close before it ends the stream (RFC 6455 §7.1.1).
        expect(wire.server.ended).toBe(false);
        wire.send(closeFrame(4001));
        await expectCleanEnd(wire);
        expect(wire.server.events).toEqual(['close 4001', 'end', 'gone']);
      });
    });

    it.each(MATRIX)('/%s over %s: data sent after our Close is not echoed', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        wire.send(closeFrame(1000), wsFrame({ opcode: Opcode.TEXT, payload: 'too late' }));
        await until(wire, () => wire.server.close !== undefined, 'the Close echo');
        expect(wire.server.close?.code).toBe(1000);
        await expectCleanEnd(wire);
        expect(wire.server.messages).toEqual([]);
      });
    });
  });

  describe('RFC 8441 §5 and RFC 9113 §8.5: how the h2 stream ends', () => {
    it.each(APIS)('/%s: a clean close handshake ends the stream with END_STREAM both ways and no RST_STREAM', async (api) => {
      const raw = await RawH2.connect(fixture.port);
      try {
        raw.headers(1, connect(`/${api}`));
        await raw.waitFor((f) => f.streamId === 1 && f.type === FrameType.HEADERS);
        raw.data(1, wsFrame({ opcode: Opcode.TEXT, payload: 'hello' }));
        // The echo first: a handler that echoes through Web Streams answers a Close that
        // arrives in the same read before its pipe has written (RFC 6455 §5.5.1 lets an
        // endpoint answer a Close at once), so the Close waits for the echo here.
        await raw.waitFor((f) => f.streamId === 1 && f.type === FrameType.DATA && f.payload.length > 0);
        raw.data(1, closeFrame(1000, 'done'));
        await raw.waitFor(endStreamOn(1));
        raw.data(1, Buffer.alloc(0), true);
        await settle(raw);
        expect(streamTrace(raw, 1)).toEqual(['HEADERS 200', 'opcode 1', 'Close 1000', 'END_STREAM']);
        expect(raw.frames.filter((f) => f.type === FrameType.RST_STREAM || f.type === FrameType.GOAWAY)).toEqual([]);
      } finally {
        raw.destroy();
      }
    });

    it.each(APIS)('/%s: after a protocol error the server Close 1002 arrives before its END_STREAM, with no RST_STREAM', async (api) => {
      const raw = await RawH2.connect(fixture.port);
      try {
        raw.headers(1, connect(`/${api}`));
        await raw.waitFor((f) => f.streamId === 1 && f.type === FrameType.HEADERS);
        raw.data(1, wsFrame({ opcode: 0x3, payload: 'reserved' }));
        await raw.waitFor(endStreamOn(1));
        raw.data(1, closeFrame(1002), true);
        await settle(raw);
        expect(streamTrace(raw, 1)).toEqual(['HEADERS 200', 'Close 1002', 'END_STREAM']);
        expect(raw.frames.filter((f) => f.type === FrameType.RST_STREAM || f.type === FrameType.GOAWAY)).toEqual([]);
      } finally {
        raw.destroy();
      }
    });

    it.each(APIS)('/%s: a client END_STREAM without a Close: the server ends its side too, with no Close frame and no RST_STREAM', async (api) => {
      const raw = await RawH2.connect(fixture.port);
      try {
        raw.headers(1, connect(`/${api}`));
        await raw.waitFor((f) => f.streamId === 1 && f.type === FrameType.HEADERS);
        raw.data(1, wsFrame({ opcode: Opcode.TEXT, payload: 'then silence' }), true);
        await raw.waitFor(endStreamOn(1));
        await settle(raw);
        expect(streamTrace(raw, 1)).toEqual(['HEADERS 200', 'opcode 1', 'END_STREAM']);
        expect(raw.frames.filter((f) => f.type === FrameType.RST_STREAM || f.type === FrameType.GOAWAY)).toEqual([]);
      } finally {
        raw.destroy();
      }
    });
  });

  describe('RFC 7692 permessage-deflate', () => {
    const OFFER = 'permessage-deflate; client_max_window_bits';
    // Above ws's default threshold (1024 B), so the echo is compressed too.
    const TEXT = 'permessage-deflate over RFC 8441. '.repeat(120);

    it.each(APIS)('/%s/deflate over h2: the 200 carries the extension; a compressed frame (RSV1) is echoed compressed', async (api) => {
      await withWire(
        'h2',
        `/${api}/deflate`,
        async (wire) => {
          expect(wire.header('sec-websocket-extensions')).toMatch(/^permessage-deflate(;|$)/);
          const compressed = deflateMessage(TEXT);
          expect(compressed.length).toBeLessThan(TEXT.length / 4);
          wire.send(wsFrame({ opcode: Opcode.TEXT, rsv1: true, payload: compressed }));
          await until(wire, () => wire.server.messages.length > 0, 'the echo');
          const [echo] = wire.server.messages;
          expect(echo!.compressed).toBe(true);
          expect(echo!.data.length).toBeLessThan(TEXT.length);
          expect(inflateMessage(echo!.data).toString()).toBe(TEXT);
          await closeCleanly(wire);
        },
        { 'sec-websocket-extensions': OFFER },
      );
    });

    it.each(APIS)('/%s/deflate over h2: a compressed message in 2 fragments (RSV1 on the first only) echoes whole', async (api) => {
      await withWire(
        'h2',
        `/${api}/deflate`,
        async (wire) => {
          const compressed = deflateMessage(TEXT);
          const half = Math.floor(compressed.length / 2);
          wire.send(wsFrame({ opcode: Opcode.TEXT, fin: false, rsv1: true, payload: compressed.subarray(0, half) }));
          wire.send(wsFrame({ opcode: Opcode.CONTINUATION, payload: compressed.subarray(half) }));
          await until(wire, () => wire.server.messages.length > 0, 'the echo');
          expect(inflateMessage(wire.server.messages[0]!.data).toString()).toBe(TEXT);
          await closeCleanly(wire);
        },
        { 'sec-websocket-extensions': OFFER },
      );
    });

    it.each(APIS)('/%s/deflate over h2: RSV1 on a continuation frame closes with 1002 (RFC 7692 §6.1)', async (api) => {
      await withWire(
        'h2',
        `/${api}/deflate`,
        async (wire) => {
          const compressed = deflateMessage('abcabcabc');
          wire.send(wsFrame({ opcode: Opcode.TEXT, fin: false, rsv1: true, payload: compressed }));
          wire.send(wsFrame({ opcode: Opcode.CONTINUATION, rsv1: true, payload: compressed }));
          await expectServerClose(wire, 1002);
        },
        { 'sec-websocket-extensions': OFFER },
      );
    });

    it.each(APIS)('/%s over h2: without the option the extension is not negotiated, and RSV1 is a protocol error', async (api) => {
      await withWire(
        'h2',
        `/${api}`,
        async (wire) => {
          expect(wire.header('sec-websocket-extensions')).toBeUndefined();
          wire.send(wsFrame({ opcode: Opcode.TEXT, rsv1: true, payload: deflateMessage(TEXT) }));
          await expectServerClose(wire, 1002);
        },
        { 'sec-websocket-extensions': OFFER },
      );
    });

    it.each(APIS)('/%s/deflate over h1: the 101 carries the extension; the ws client agrees and echoes', async (api) => {
      await withWire('h1', `/${api}/deflate`, async (wire) => expect(wire.header('sec-websocket-extensions')).toMatch(/^permessage-deflate(;|$)/), {
        'Sec-WebSocket-Extensions': OFFER,
      });
      const ws = new WebSocket(`${fixture.url.replace('http', 'ws')}${api}/deflate`, { perMessageDeflate: true });
      try {
        await once(ws, 'open');
        expect(ws.extensions).toMatch(/^permessage-deflate/);
        ws.send(TEXT);
        expect(String(await once<Buffer>(ws, 'message'))).toBe(TEXT);
      } finally {
        ws.terminate();
      }
    });

    it.each(APIS)('/%s over h1: without the option the ws client gets no extension', async (api) => {
      const ws = new WebSocket(`${fixture.url.replace('http', 'ws')}${api}`, { perMessageDeflate: true });
      try {
        await once(ws, 'open');
        expect(ws.extensions).toBe('');
        ws.send(TEXT);
        expect(String(await once<Buffer>(ws, 'message'))).toBe(TEXT);
      } finally {
        ws.terminate();
      }
    });
  });

  describe('RFC 6455 §4.2.2 subprotocol', () => {
    it.each(MATRIX)('/%s/chat over %s: offered "a, chat", the server picks chat', async (api, transport) => {
      await withWire(transport, `/${api}/chat`, async (wire) => {
        expect(wire.header('sec-websocket-protocol')).toBe('chat');
        await closeCleanly(wire);
      }, { 'sec-websocket-protocol': 'a, chat' });
    });

    it.each(MATRIX)('/%s/chat over %s: offered only "a", no subprotocol is chosen', async (api, transport) => {
      await withWire(transport, `/${api}/chat`, async (wire) => {
        expect(wire.header('sec-websocket-protocol')).toBeUndefined();
        await closeCleanly(wire);
      }, { 'sec-websocket-protocol': 'a' });
    });

    it.each(MATRIX)('/%s over %s: a route without a choice picks the first offered', async (api, transport) => {
      await withWire(transport, `/${api}`, async (wire) => {
        expect(wire.header('sec-websocket-protocol')).toBe('a');
        await closeCleanly(wire);
      }, { 'sec-websocket-protocol': 'a, chat' });
    });

    it.each(APIS)('/%s/chat over h1 with the ws client: ws.protocol is chat', async (api) => {
      const ws = new WebSocket(`${fixture.url.replace('http', 'ws')}${api}/chat`, ['a', 'chat']);
      try {
        await once(ws, 'open');
        expect(ws.protocol).toBe('chat');
      } finally {
        ws.terminate();
      }
    });
  });

  describe('RFC 6455 §5.5.2, §5.5.3 keepalive (Ping/Pong)', () => {
    // A WebSocketServer route keeps its own heartbeat, so only hono and streams have the option.
    const KEEPALIVE = MATRIX.filter(([api]) => api !== 'ws');

    it.each(['hono', 'streams'] as const)('/%s/keepalive over h2: a client that answers each Ping with a Pong stays open over several rounds', async (api) => {
      await withWire('h2', `/${api}/keepalive`, async (wire) => {
        let answered = 0;
        const deadline = Date.now() + 20 * PING_MS;
        while (answered < 3) {
          const pings = wire.server.ofType(Opcode.PING);
          for (const ping of pings.slice(answered)) wire.send(wsFrame({ opcode: Opcode.PONG, payload: ping.payload }));
          answered = pings.length;
          expect(wire.server.gone || wire.server.ended, `the server gave up after ${answered} Pings: ${wire.server.events.join(', ')}`).toBe(false);
          if (Date.now() > deadline) throw new Error(`only ${answered} Pings in ${20 * PING_MS} ms`);
          await new Promise((r) => setTimeout(r, 10));
        }
        wire.send(wsFrame({ opcode: Opcode.TEXT, payload: 'still here' }));
        await until(wire, () => wire.server.messages.length > 0, 'the echo');
        expect(wire.server.messages.map((m) => m.text)).toEqual(['still here']);
        expect(wire.server.close).toBeUndefined();
        await closeCleanly(wire);
      });
    });

    it.each(KEEPALIVE)('/%s/keepalive over %s: a client that never answers is dropped without a Close frame', async (api, transport) => {
      await withWire(transport, `/${api}/keepalive`, async (wire) => {
        await until(wire, () => wire.server.ofType(Opcode.PING).length > 0, 'a Ping', 5 * PING_MS);
        // h2: RST_STREAM; h1: the TCP connection is closed (we see its FIN).
        await until(wire, () => wire.server.gone || wire.server.ended, 'the server to drop us', 6 * PING_MS);
        expect(wire.server.close).toBeUndefined();
        expect(wire.server.ofType(Opcode.PING)).toHaveLength(1);
        if (transport === 'h2') {
          await until(wire, () => wire.server.gone, 'the stream to close');
          expect(wire.server.rstCode, 'RST_STREAM CANCEL').toBe(H2_CANCEL);
        } else {
          expect(wire.server.events).toEqual(['ping', 'end']);
        }
      });
    });
  });

  describe('RFC 9113 §5.2 flow control: backpressure from a handler that does not read', () => {
    it('h2: 8 MiB to a Web Streams handler that never reads closes the stream window after a bounded amount; the connection stays usable; every byte arrives once it reads', async () => {
      const raw = await RawH2.connect(fixture.port);
      const sender = new WindowedSender(raw);
      const pump = setInterval(() => sender.pump(), 1);
      const id = randomBytes(6).toString('hex');
      const TOTAL = 8 * 1024 * 1024;
      const CHUNK = 64 * 1024;
      try {
        raw.headers(1, connect(`/streams/slow?id=${id}`));
        sender.open(1);
        expect((await raw.waitFor((f) => f.streamId === 1 && f.type === FrameType.HEADERS)).payload[0]).toBe(0x88);
        for (let at = 0; at < TOTAL; at += CHUNK) sender.write(1, wsFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(CHUNK, at / CHUNK) }));
        // The writes stall: the stream's window stays at 0 (no WINDOW_UPDATE for a while).
        const deadline = Date.now() + 10_000;
        while (!(sender.window(1) === 0 && Date.now() - sender.lastUpdate > 500)) {
          expect(sender.pending(1), 'the server took all 8 MiB without reading it').toBeGreaterThan(0);
          if (Date.now() > deadline) throw new Error(`no stall: ${sender.sent(1)} B sent, window ${sender.window(1)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        // What the server took is bounded (its 16-message read queue, socket buffers and one
        // stream window), not the 8 MiB: the rest waits with the client.
        expect(sender.sent(1)).toBeLessThan(4 * 1024 * 1024);
        expect(sender.pending(1)).toBeGreaterThan(TOTAL / 2);
        // Only this stream is held back: the connection window is open, and another tunnel on
        // the same connection echoes meanwhile.
        expect(sender.connection).toBeGreaterThan(0);
        raw.headers(3, connect('/streams'));
        sender.open(3);
        await raw.waitFor((f) => f.streamId === 3 && f.type === FrameType.HEADERS);
        sender.write(3, wsFrame({ opcode: Opcode.TEXT, payload: 'beside the stalled stream' }));
        await eventually(() => messagesOn(raw, 3).length > 0, 5000, 'the echo on the other stream');
        expect(messagesOn(raw, 3).map((m) => m.text)).toEqual(['beside the stalled stream']);
        // Once the handler reads, the rest flows, and every byte arrives.
        const control = await connectH2(fixture.url);
        try {
          const release = control.session.request({ ':method': 'GET', ':path': `/release?id=${id}`, ':scheme': 'http', ':authority': 'conformance.test' });
          release.resume();
          expect((await once<http2.IncomingHttpHeaders>(release, 'response'))[':status']).toBe(200);
        } finally {
          await control.close();
        }
        sender.write(1, wsFrame({ opcode: Opcode.TEXT, payload: 'done' }));
        await eventually(() => messagesOn(raw, 1).length > 0, 15_000, 'the byte count');
        expect(messagesOn(raw, 1).map((m) => m.text)).toEqual([String(TOTAL)]);
        expect(sender.pending(1)).toBe(0);
        // Both tunnels then close cleanly: Close echoed, END_STREAM both ways, no RST_STREAM.
        for (const stream of [1, 3]) {
          sender.write(stream, closeFrame(1000));
          await eventually(() => sender.pending(stream) === 0, 5000, 'the Close to go out');
          raw.data(stream, Buffer.alloc(0), true);
        }
        await raw.waitFor(endStreamOn(1));
        await raw.waitFor(endStreamOn(3));
        await settle(raw);
        expect(streamTrace(raw, 1).slice(-3)).toEqual(['opcode 1', 'Close 1000', 'END_STREAM']);
        expect(streamTrace(raw, 3)).toEqual(['HEADERS 200', 'opcode 1', 'Close 1000', 'END_STREAM']);
        expect(raw.frames.filter((f) => f.type === FrameType.RST_STREAM || f.type === FrameType.GOAWAY)).toEqual([]);
      } finally {
        clearInterval(pump);
        raw.destroy();
      }
    });
  });
});

