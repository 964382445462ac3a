/**
 * RFC 9113 at the connection level, on a sans-IO H2Connection with a fake clock: the preface,
 * SETTINGS and their ACK, PING, extension frames and settings, the two-step GOAWAY, the
 * client role's stream ids, limits and retries, PUSH_PROMISE, RFC 8441's setting, the
 * defences (rapid reset, glitches, CONTINUATION floods, header list size), content-length
 * and trailers.
 */
import { describe, expect, test } from 'vitest';
import { CONNECTION_PREFACE, DEFENCES } from '../../src/h2/connection.ts';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import { FrameType, MAX_WINDOW_SIZE, SettingId } from '../../src/h2/frame/types.ts';
import { H2ConnectionError } from '../../src/h2/protocol-error.ts';
import {
  type Bench, client, concat, CONNECT_WS, describeFrames, encodeContinuation, encodeFrame, encodeGoaway, encodePing, encodePushPromise,
  encodeRstStream, encodeSettings, encodeSettingsAck, GET, literalField, ofType, POST, server,
} from '../helpers/sans-io.ts';

const { PROTOCOL_ERROR, ENHANCE_YOUR_CALM, REFUSED_STREAM, CANCEL, NO_ERROR } = H2ErrorCode;
const OPAQUE = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('RFC 9113 §3.4 the connection preface', () => {
  test('§3.4 the server sends SETTINGS first, and acknowledges the client\'s', () => {
    const b = server({ handshake: 'none' });
    const first = b.take();
    expect(first[0]!.type).toBe(FrameType.SETTINGS);
    // §6.5.2 / §8.4: ENABLE_PUSH = 0 is always said.
    expect(describeFrames(first)[0]).toContain(`${SettingId.ENABLE_PUSH}=0`);
    const out = b.send(CONNECTION_PREFACE, encodeSettings([]));
    expect(describeFrames(out)).toEqual(['SETTINGS(ACK)']);
    expect(b.conn.ready).toBe(true);
    expect(b.remoteSettings).toEqual([true]);
  });

  test('§3.4 a bad preface is a connection error PROTOCOL_ERROR', () => {
    const b = server({ handshake: 'none' });
    b.take();
    const out = b.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'));
    expect(describeFrames(out)).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
    expect(b.conn.closed).toBe(true);
    expect(b.connectionErrors[0]?.h2Code).toBe(PROTOCOL_ERROR);
  });

  test('§3.4 a preface wrong only in its last octet is still refused', () => {
    const b = server({ handshake: 'none' });
    b.take();
    const bad = CONNECTION_PREFACE.slice();
    bad[bad.length - 1] = 0x0b;
    expect(describeFrames(b.send(bad))).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
  });

  test('§3.4 the preface and SETTINGS may arrive one octet at a time', () => {
    const b = server({ handshake: 'none' });
    b.take();
    const bytes = concat([CONNECTION_PREFACE, encodeSettings([[SettingId.MAX_CONCURRENT_STREAMS, 10]]), encodeSettingsAck()]);
    const out = b.sendEach(Array.from(bytes, (x) => Uint8Array.of(x)));
    expect(describeFrames(out)).toEqual(['SETTINGS(ACK)']);
    expect(b.conn.ready).toBe(true);
    expect(b.conn.remoteSettings.maxConcurrentStreams).toBe(10);
  });

  test.each([
    ['PING', encodePing(OPAQUE, false)],
    ['SETTINGS with ACK', encodeSettingsAck()],
    ['WINDOW_UPDATE', encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, Uint8Array.of(0, 0, 1, 0))],
    ['HEADERS', encodeFrame(FrameType.HEADERS, 0x5, 1, Uint8Array.of(0x82, 0x87, 0x84))],
  ])('§3.4 the first frame must be SETTINGS: %s first is a connection error PROTOCOL_ERROR', (_name, frame) => {
    const b = server({ handshake: 'none' });
    b.take();
    expect(describeFrames(b.send(CONNECTION_PREFACE, frame))).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
  });
});

describe('RFC 9113 §6.5 SETTINGS', () => {
  test('§6.5.3 settingsAckPending until the peer acknowledges our SETTINGS', () => {
    const b = server({ handshake: 'no-ack' });
    expect(b.conn.settingsAckPending).toBe(true);
    expect(b.send(encodeSettingsAck())).toEqual([]);
    expect(b.conn.settingsAckPending).toBe(false);
  });

  test('§6.5.3 settingsTimeout() without the ACK: GOAWAY SETTINGS_TIMEOUT', () => {
    const b = server({ handshake: 'no-ack' });
    b.conn.settingsTimeout();
    expect(describeFrames(b.take())).toEqual(['GOAWAY(SETTINGS_TIMEOUT, last=0)']);
    expect(b.conn.closed).toBe(true);
  });

  test('§6.5.3 settingsTimeout() after the ACK does nothing', () => {
    const b = server();
    b.conn.settingsTimeout();
    expect(b.take()).toEqual([]);
    expect(b.conn.closed).toBe(false);
  });

  test('§6.5.3 every SETTINGS from the peer is acknowledged, in order', () => {
    const b = server();
    const out = b.send(encodeSettings([[SettingId.MAX_CONCURRENT_STREAMS, 5]]), encodeSettings([[SettingId.MAX_CONCURRENT_STREAMS, 6]]));
    expect(describeFrames(out)).toEqual(['SETTINGS(ACK)', 'SETTINGS(ACK)']);
    expect(b.conn.remoteSettings.maxConcurrentStreams).toBe(6);
  });

  test('§6.5.2 unknown settings are ignored', () => {
    const b = server();
    const out = b.send(encodeSettings([[0x99, 5], [0xff00, 0xffffffff], [SettingId.MAX_CONCURRENT_STREAMS, 7]]));
    expect(describeFrames(out)).toEqual(['SETTINGS(ACK)']);
    expect(b.conn.remoteSettings.maxConcurrentStreams).toBe(7);
    expect(b.conn.closed).toBe(false);
  });

  test('§6.5.3 an unsolicited SETTINGS ACK is not answered', () => {
    const b = server();
    expect(b.send(encodeSettingsAck())).toEqual([]);
    expect(b.conn.closed).toBe(false);
  });

  test('§6.5.2 SETTINGS_ENABLE_PUSH = 1 from a server is a connection error PROTOCOL_ERROR', () => {
    const b = client({ peerSettings: [[SettingId.ENABLE_PUSH, 1]] });
    expect(describeFrames(b.handshakeFrames)).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
    expect(b.conn.closed).toBe(true);
  });

  test('§6.5.2 SETTINGS_ENABLE_PUSH = 1 from a client is fine (a server just never pushes)', () => {
    const b = server({ peerSettings: [[SettingId.ENABLE_PUSH, 1]] });
    expect(describeFrames(b.handshakeFrames)).toEqual(['SETTINGS(ACK)']);
    expect(b.conn.closed).toBe(false);
  });

  test('RFC 8441 §3 SETTINGS_ENABLE_CONNECT_PROTOCOL going from 1 to 0 is a connection error PROTOCOL_ERROR', () => {
    const b = client({ peerSettings: [[SettingId.ENABLE_CONNECT_PROTOCOL, 1]] });
    expect(b.conn.remoteSettings.enableConnectProtocol).toBe(true);
    expect(describeFrames(b.send(encodeSettings([[SettingId.ENABLE_CONNECT_PROTOCOL, 0]])))).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
  });

  test('RFC 8441 §3 SETTINGS_ENABLE_CONNECT_PROTOCOL 0 then 1 is fine, and 1 again is fine', () => {
    const b = client({ peerSettings: [[SettingId.ENABLE_CONNECT_PROTOCOL, 0]] });
    expect(describeFrames(b.send(encodeSettings([[SettingId.ENABLE_CONNECT_PROTOCOL, 1]])))).toEqual(['SETTINGS(ACK)']);
    expect(describeFrames(b.send(encodeSettings([[SettingId.ENABLE_CONNECT_PROTOCOL, 1]])))).toEqual(['SETTINGS(ACK)']);
    expect(b.conn.remoteSettings.enableConnectProtocol).toBe(true);
  });

  test('RFC 8441 §3 a server that advertises ENABLE_CONNECT_PROTOCOL accepts an extended CONNECT; one that does not, refuses it', () => {
    const yes = server({ settings: { enableConnectProtocol: true } });
    expect(describeFrames(yes.initialFrames)).toEqual([`SETTINGS(${SettingId.ENABLE_PUSH}=0, ${SettingId.ENABLE_CONNECT_PROTOCOL}=1)`]);
    expect(yes.send(yes.headers(1, CONNECT_WS()))).toEqual([]);
    expect(yes.stream(1).head?.protocol).toBe('websocket');
    const no = server();
    expect(describeFrames(no.send(no.headers(1, CONNECT_WS())))).toEqual(['RST_STREAM(1, PROTOCOL_ERROR)']);
    expect(no.streams).toHaveLength(0);
  });
});

describe('RFC 9113 §6.7 PING', () => {
  test('§6.7 a PING is answered with a PING ACK carrying the same payload', () => {
    const b = server();
    expect(describeFrames(b.send(encodePing(OPAQUE, false)))).toEqual([`PING(ACK, ${hex(OPAQUE)})`]);
  });

  test('§6.7 a PING ACK is never answered; the owner hears of it', () => {
    const b = server();
    expect(b.send(encodePing(OPAQUE, true))).toEqual([]);
    expect(b.pingAcks).toEqual([hex(OPAQUE)]);
  });

  test('§6.7 ping() sends a PING without ACK', () => {
    const b = server();
    b.conn.ping(OPAQUE);
    expect(describeFrames(b.take())).toEqual([`PING(${hex(OPAQUE)})`]);
  });
});

describe('RFC 9113 §4.1 §5.5 extension frames', () => {
  test('§5.5 a frame of an unknown type is ignored, on stream 0, on an open stream and on an idle one', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    const out = b.send(
      encodeFrame(0xfa, 0xff, 0, Uint8Array.of(1, 2, 3)),
      encodeFrame(0xfb, 0x00, 1, new Uint8Array(100)),
      encodeFrame(0x20, 0x01, 99, new Uint8Array(0)),
    );
    expect(out).toEqual([]);
    expect(b.conn.closed).toBe(false);
    // Stream 99 stayed idle: a request on 3 is still a new stream.
    expect(b.send(b.headers(3, GET(), true))).toEqual([]);
    expect(b.streams.map((r) => r.stream.id)).toEqual([1, 3]);
  });

  test('§5.5 an extension frame in the middle of a field block is a connection error PROTOCOL_ERROR', () => {
    const b = server();
    const block = b.block(GET());
    const out = b.send(b.headersFragment(1, block.subarray(0, 2), { endStream: true, endHeaders: false }), encodeFrame(0xfa, 0, 0, new Uint8Array(0)));
    expect(describeFrames(out)).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
  });
});

describe('RFC 9113 §6.8 GOAWAY: the graceful two-step shutdown', () => {
  const SHUTDOWN_GOAWAY = `GOAWAY(NO_ERROR, last=${MAX_WINDOW_SIZE})`;

  function shutdownStarted(): { b: Bench; ping: Uint8Array } {
    const b = server();
    b.send(b.headers(1, POST('/')));
    b.conn.shutdown();
    const out = b.take();
    expect(describeFrames(out)[0]).toBe(SHUTDOWN_GOAWAY);
    const pings = ofType(out, FrameType.PING);
    expect(pings).toHaveLength(1);
    expect(pings[0]!.ack).toBe(false);
    expect(out).toHaveLength(2);
    return { b, ping: pings[0]!.opaque.slice() };
  }

  test('§6.8 shutdown(): GOAWAY with 2^31-1 and a PING; the PING ACK brings the GOAWAY with the last stream id', () => {
    const { b, ping } = shutdownStarted();
    // A stream the client opened before it saw the GOAWAY is still taken.
    expect(b.send(b.headers(3, GET(), true))).toEqual([]);
    expect(b.streams.map((r) => r.stream.id)).toEqual([1, 3]);
    expect(describeFrames(b.send(encodePing(ping, true)))).toEqual(['GOAWAY(NO_ERROR, last=3)']);
    expect(b.conn.goawaySent).toEqual({ lastStreamId: 3, code: NO_ERROR });
    expect(b.goawaysSent).toEqual([
      { code: NO_ERROR, lastStreamId: MAX_WINDOW_SIZE },
      { code: NO_ERROR, lastStreamId: 3 },
    ]);
    // The PING ACK was the shutdown's: it is not reported as a liveness answer.
    expect(b.pingAcks).toEqual([]);
  });

  test('§6.8 a PING ACK with another payload does not finish the shutdown', () => {
    const { b } = shutdownStarted();
    expect(b.send(encodePing(OPAQUE, true))).toEqual([]);
    expect(b.pingAcks).toEqual([hex(OPAQUE)]);
    expect(b.conn.goawaySent?.lastStreamId).toBe(MAX_WINDOW_SIZE);
  });

  test('§6.8 finishShutdown() without the PING ACK sends the GOAWAY with the last stream id', () => {
    const { b, ping } = shutdownStarted();
    b.conn.finishShutdown();
    expect(describeFrames(b.take())).toEqual(['GOAWAY(NO_ERROR, last=1)']);
    // A late PING ACK changes nothing; nor does a second finishShutdown() or shutdown().
    expect(b.send(encodePing(ping, true))).toEqual([]);
    b.conn.finishShutdown();
    b.conn.shutdown();
    expect(b.take()).toEqual([]);
  });

  test('§6.8 the last stream id never increases: a connection error after the GOAWAY repeats the lower id', () => {
    const { b } = shutdownStarted();
    b.conn.finishShutdown();
    b.take();
    b.conn.abort(H2ErrorCode.INTERNAL_ERROR, 'test');
    expect(describeFrames(b.take())).toEqual(['GOAWAY(INTERNAL_ERROR, last=1)']);
  });

  /** Shutdown finished with last stream id 1; the client, not having seen it, opens stream 3. */
  function lateStream(): Bench {
    const { b } = shutdownStarted();
    b.conn.finishShutdown();
    expect(describeFrames(b.take())).toEqual(['GOAWAY(NO_ERROR, last=1)']);
    expect(b.send(b.headers(3, [...POST('/late'), 'x-late', 'yes']))).toEqual([]);
    return b;
  }

  test('§6.8 HEADERS opening a stream above the last stream id of our GOAWAY are ignored, but decoded (HPACK stays in step)', () => {
    const b = lateStream();
    expect(b.streams.map((r) => r.stream.id)).toEqual([1]);
    expect(b.conn.closed).toBe(false);
    // Trailers on stream 1 that use the dynamic-table entry "x-late: yes" decode.
    expect(b.send(b.headers(1, ['x-late', 'yes'], true))).toEqual([]);
    expect(b.stream(1).trailers).toEqual({ 'x-late': 'yes' });
  });

  test.each([
    ['DATA', (b: Bench) => b.data(3, 10)],
    ['WINDOW_UPDATE', () => encodeFrame(FrameType.WINDOW_UPDATE, 0, 3, Uint8Array.of(0, 0, 1, 0))],
    ['RST_STREAM', () => encodeRstStream(3, CANCEL)],
    ['HEADERS (trailers)', (b: Bench) => b.headers(3, ['x-t', '1'], true)],
  ] as const)(
    '§6.8 "the sender will ignore frames sent on streams initiated by the receiver if the stream has an identifier higher than the included last stream identifier": %s on the ignored stream',
    (_name, frame) => {
      const b = lateStream();
      expect(describeFrames(b.send(frame(b)))).toEqual([]);
      expect(b.conn.closed).toBe(false);
      expect(b.streams.map((r) => r.stream.id)).toEqual([1]);
    },
  );

  test('§6.8 streams below the last id finish normally; the connection is finished once they close', () => {
    const { b, ping } = shutdownStarted();
    b.send(encodePing(ping, true));
    b.take();
    expect(b.conn.finished).toBe(false);
    const s = b.stream(1).stream;
    s.respond({ ':status': 200 }, true);
    expect(describeFrames(b.send(b.data(1, 3, true)))).toEqual(['HEADERS(1, END_STREAM)']);
    expect(b.stream(1).bytes).toBe(3);
    expect(b.conn.finished).toBe(true);
  });

  test('§6.8 a connection error\'s GOAWAY names the last stream processed', () => {
    const b = server();
    b.send(b.headers(1, GET(), true), b.headers(7, GET(), true));
    expect(describeFrames(b.send(encodeRstStream(9, CANCEL)))).toEqual(['GOAWAY(PROTOCOL_ERROR, last=7)']);
  });
});

describe('RFC 9113 client role', () => {
  test('§5.1.1 request() uses the odd ids 1, 3, 5 …', () => {
    const b = client();
    expect(b.conn.canOpenStream).toBe(true);
    const ids = [b.conn.request(GET('/a'), true), b.conn.request(GET('/b'), true), b.conn.request(GET('/c'), true)].map((s) => s.id);
    expect(ids).toEqual([1, 3, 5]);
    const out = b.take();
    expect(describeFrames(out)).toEqual(['HEADERS(1, END_STREAM)', 'HEADERS(3, END_STREAM)', 'HEADERS(5, END_STREAM)']);
    expect(ofType(out, FrameType.HEADERS).map((f) => (f as { fields?: readonly string[] }).fields![7])).toEqual(['/a', '/b', '/c']);
  });

  test('§3.4 a client opens no stream before the server\'s SETTINGS', () => {
    const b = client({ handshake: 'none' });
    expect(b.conn.canOpenStream).toBe(false);
    expect(() => b.conn.request(GET())).toThrow(H2ConnectionError);
    b.send(encodeSettings([]));
    expect(b.conn.canOpenStream).toBe(true);
  });

  test('§5.1.2 canOpenStream respects the server\'s SETTINGS_MAX_CONCURRENT_STREAMS, and a closed stream frees its slot', () => {
    const b = client({ peerSettings: [[SettingId.MAX_CONCURRENT_STREAMS, 2]] });
    const one = b.conn.request(GET('/1'), true);
    b.conn.request(GET('/2'), true);
    expect(b.conn.canOpenStream).toBe(false);
    expect(() => b.conn.request(GET('/3'))).toThrow(H2ConnectionError);
    b.take();
    const slots = b.streamSlots;
    b.send(b.respond(1, 200, [], true));
    expect(one.closed).toBe(true);
    expect(b.streamSlots).toBeGreaterThan(slots);
    expect(b.conn.canOpenStream).toBe(true);
    expect(b.conn.request(GET('/3')).id).toBe(5);
    expect(b.conn.canOpenStream).toBe(false);
  });

  test('§5.1.2 a lower SETTINGS_MAX_CONCURRENT_STREAMS takes effect at once; 0 allows none', () => {
    const b = client();
    b.conn.request(GET(), true);
    b.send(encodeSettings([[SettingId.MAX_CONCURRENT_STREAMS, 1]]));
    expect(b.conn.canOpenStream).toBe(false);
    const c = client({ peerSettings: [[SettingId.MAX_CONCURRENT_STREAMS, 0]] });
    expect(c.conn.canOpenStream).toBe(false);
  });

  test('§6.8 §8.7 a GOAWAY closes our streams above its last stream id as unprocessed (safe to retry); those at or below go on', () => {
    const b = client();
    const [s1, s3, s5] = [b.conn.request(GET('/1')), b.conn.request(GET('/3')), b.conn.request(GET('/5'))];
    const closes = new Map<number, unknown>();
    for (const s of [s1, s3, s5]) s.onClose = (c) => closes.set(s.id, c);
    b.take();
    expect(b.send(encodeGoaway(1, NO_ERROR))).toEqual([]);
    expect(closes.get(3)).toEqual({ code: REFUSED_STREAM, by: 'connection', unprocessed: true });
    expect(closes.get(5)).toEqual({ code: REFUSED_STREAM, by: 'connection', unprocessed: true });
    expect(closes.has(1)).toBe(false);
    expect(s1.closed).toBe(false);
    expect(b.conn.canOpenStream).toBe(false);
    expect(b.goawaysReceived).toEqual([{ code: NO_ERROR, lastStreamId: 1 }]);
    // Stream 1 still completes.
    b.send(b.respond(1, 200, [], true));
    expect(b.conn.finished).toBe(false);
    s1.end();
    b.take();
    expect(s1.closed).toBe(true);
    expect(b.conn.finished).toBe(true);
  });

  test('§6.8 a second GOAWAY may lower the last stream id, never raise it', () => {
    const b = client();
    for (let i = 0; i < 4; i++) b.conn.request(GET(), true);
    b.take();
    b.send(encodeGoaway(MAX_WINDOW_SIZE, NO_ERROR));
    expect(b.conn.goawayReceived?.lastStreamId).toBe(MAX_WINDOW_SIZE);
    b.send(encodeGoaway(3, NO_ERROR));
    expect(b.conn.goawayReceived?.lastStreamId).toBe(3);
    b.send(encodeGoaway(7, NO_ERROR));
    expect(b.conn.goawayReceived?.lastStreamId).toBe(3);
  });

  test('§8.7 RST_STREAM REFUSED_STREAM marks the stream unprocessed; other codes do not', () => {
    const b = client();
    const s1 = b.conn.request(GET(), true);
    const s3 = b.conn.request(GET(), true);
    let c1: unknown;
    let c3: unknown;
    s1.onClose = (c) => (c1 = c);
    s3.onClose = (c) => (c3 = c);
    b.take();
    b.send(encodeRstStream(1, REFUSED_STREAM), encodeRstStream(3, CANCEL));
    expect(c1).toEqual({ code: REFUSED_STREAM, by: 'peer', unprocessed: true });
    expect(c3).toEqual({ code: CANCEL, by: 'peer', unprocessed: false });
  });

  test('§6.6 §8.4 PUSH_PROMISE to a client that disabled push is a connection error PROTOCOL_ERROR', () => {
    const b = client();
    b.conn.request(GET(), true);
    b.take();
    const out = b.send(encodePushPromise(1, 2, b.block(GET('/pushed')), true));
    expect(describeFrames(out)).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
  });

  test('§8.4 PUSH_PROMISE from a client is a connection error PROTOCOL_ERROR', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    expect(describeFrames(b.send(encodePushPromise(1, 2, b.block(GET('/x')), true)))).toEqual(['GOAWAY(PROTOCOL_ERROR, last=1)']);
  });

  test('§8.1 the response head reaches onResponse; informational 1xx heads are skipped', () => {
    const b = client();
    const s = b.conn.request(GET());
    let status = 0;
    s.onResponse = (h) => (status = h.status);
    b.take();
    b.send(b.respond(1, 103, ['link', '</a.css>']));
    expect(status).toBe(0);
    b.send(b.respond(1, 200));
    expect(status).toBe(200);
  });

  test('§8.1 DATA before the response HEADERS is a stream error PROTOCOL_ERROR', () => {
    const b = client();
    b.conn.request(GET(), true);
    b.take();
    expect(describeFrames(b.send(b.data(1, 5)))).toEqual(['RST_STREAM(1, PROTOCOL_ERROR)']);
  });
});

describe('CVE-2023-44487 rapid reset (RFC 9113 §10.5)', () => {
  const { burst, perSecond } = DEFENCES.rapidReset;

  /** HEADERS + RST_STREAM for `count` new streams from `first`, as one byte array. */
  function openAndReset(b: Bench, first: number, count: number): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const id = first + 2 * i;
      parts.push(b.headers(id, POST(`/${id}`)), encodeRstStream(id, CANCEL));
    }
    return concat(parts);
  }

  test(`${burst} streams opened and reset in one read: none is announced, and the budget is just enough`, () => {
    const b = server();
    expect(b.send(openAndReset(b, 1, burst))).toEqual([]);
    expect(b.streams).toHaveLength(0);
    expect(b.conn.closed).toBe(false);
    // One more, in the next read: GOAWAY ENHANCE_YOUR_CALM with the last stream id processed.
    const next = 2 * burst + 1;
    expect(describeFrames(b.send(openAndReset(b, next, 1)))).toEqual([`GOAWAY(ENHANCE_YOUR_CALM, last=${next})`]);
    expect(b.defences).toEqual(['rapid-reset']);
    expect(b.streams).toHaveLength(0);
  });

  test(`${burst + 1} streams opened and reset in the same read: no onStream at all, then GOAWAY ENHANCE_YOUR_CALM`, () => {
    const b = server();
    const out = describeFrames(b.send(openAndReset(b, 1, burst + 1)));
    expect(out).toEqual([`GOAWAY(ENHANCE_YOUR_CALM, last=${2 * burst + 1})`]);
    expect(b.streams).toHaveLength(0);
  });

  test(`the budget refills at ${perSecond} a second on the connection's clock`, () => {
    const b = server();
    b.send(openAndReset(b, 1, burst));
    b.clock.t += 1_000;
    expect(b.send(openAndReset(b, 2 * burst + 1, perSecond))).toEqual([]);
    expect(b.conn.closed).toBe(false);
    expect(describeFrames(b.send(openAndReset(b, 2 * (burst + perSecond) + 1, 1)))[0]).toMatch(/^GOAWAY\(ENHANCE_YOUR_CALM/);
  });

  test('resets after the response HEADERS (established tunnels) are never counted: 10,000 with the clock frozen', () => {
    const b = server({ settings: { enableConnectProtocol: true } });
    let id = 1;
    for (let batch = 0; batch < 100; batch++) {
      const ids: number[] = [];
      for (let i = 0; i < 100; i++, id += 2) ids.push(id);
      b.send(...ids.map((x) => b.headers(x, CONNECT_WS(`/${x}`))));
      for (const x of ids) b.stream(x).stream.respond({ ':status': 200 });
      b.take();
      const out = b.send(...ids.map((x) => encodeRstStream(x, CANCEL)));
      expect(out).toEqual([]);
    }
    expect(b.streams).toHaveLength(10_000);
    expect(b.streams.every((r) => r.close?.by === 'peer')).toBe(true);
    expect(b.conn.closed).toBe(false);
    expect(b.defences).toEqual([]);
  });
});

describe('glitches (MadeYouReset, CVE-2025-8671; RFC 9113 §10.5)', () => {
  const { burst, perSecond } = DEFENCES.glitches;
  const GOAWAY_CALM = /^GOAWAY\(ENHANCE_YOUR_CALM, last=\d+\)$/;

  test(`empty DATA frames without END_STREAM: ${burst} pass, the next is GOAWAY ENHANCE_YOUR_CALM`, () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    const empty = b.data(1, 0);
    expect(b.send(...Array.from({ length: burst }, () => empty))).toEqual([]);
    expect(b.conn.closed).toBe(false);
    expect(describeFrames(b.send(empty))).toEqual(['GOAWAY(ENHANCE_YOUR_CALM, last=1)']);
    expect(b.defences).toEqual(['glitches']);
  });

  test('an empty DATA frame with END_STREAM is not a glitch', () => {
    const b = server({ glitches: { burst: 0, perSecond: 0 } });
    b.send(b.headers(1, POST('/')));
    expect(b.send(b.data(1, 0, true))).toEqual([]);
    expect(b.stream(1).ended).toBe(true);
  });

  test(`a SETTINGS flood: ${burst} SETTINGS after the first pass (each acknowledged), the next is GOAWAY ENHANCE_YOUR_CALM`, () => {
    const b = server();
    const settings = encodeSettings([[SettingId.MAX_CONCURRENT_STREAMS, 100]]);
    const out = b.send(...Array.from({ length: burst }, () => settings));
    expect(out).toHaveLength(burst);
    expect(out.every((f) => f.type === FrameType.SETTINGS)).toBe(true);
    expect(describeFrames(b.send(settings))).toEqual(['GOAWAY(ENHANCE_YOUR_CALM, last=0)']);
  });

  test(`stream errors the peer causes: ${burst} malformed requests each get RST_STREAM, the next also brings GOAWAY ENHANCE_YOUR_CALM`, () => {
    const b = server();
    const malformed = (id: number): Uint8Array => b.headers(id, [':method', 'GET', ':scheme', 'https', ':authority', 'example.com'], true); // no :path
    const out = b.send(...Array.from({ length: burst }, (_, i) => malformed(2 * i + 1)));
    expect(out).toHaveLength(burst);
    expect(describeFrames(out).every((f) => /^RST_STREAM\(\d+, PROTOCOL_ERROR\)$/.test(f))).toBe(true);
    expect(b.conn.closed).toBe(false);
    const last = 2 * burst + 1;
    expect(describeFrames(b.send(malformed(last)))).toEqual([`RST_STREAM(${last}, PROTOCOL_ERROR)`, `GOAWAY(ENHANCE_YOUR_CALM, last=${last})`]);
  });

  test(`the glitch budget refills at ${perSecond} a second on the connection's clock`, () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    const empty = b.data(1, 0);
    b.send(...Array.from({ length: burst }, () => empty));
    b.clock.t += 1_000;
    expect(b.send(...Array.from({ length: perSecond }, () => empty))).toEqual([]);
    expect(describeFrames(b.send(empty))).toEqual(['GOAWAY(ENHANCE_YOUR_CALM, last=1)']);
  });

  test('a PING flood: a PING costs a tenth of a glitch (about 10× the budget in PINGs)', () => {
    const b = server();
    const ping = encodePing(OPAQUE, false);
    expect(b.send(...Array.from({ length: burst * 10 - 10 }, () => ping)).every((f) => f.type === FrameType.PING)).toBe(true);
    expect(b.conn.closed).toBe(false);
    const out = describeFrames(b.send(...Array.from({ length: 20 }, () => ping)));
    expect(out.at(-1)).toMatch(GOAWAY_CALM);
  });

  test('a wall clock stepped back a minute does not turn one PING into ENHANCE_YOUR_CALM', () => {
    const b = server();
    b.clock.t -= 60_000;
    expect(describeFrames(b.send(encodePing(OPAQUE, false)))).toEqual([`PING(ACK, ${hex(OPAQUE)})`]);
    expect(b.conn.closed).toBe(false);
  });

  test('a wall clock stepped back a minute does not turn one early reset into ENHANCE_YOUR_CALM', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    b.clock.t -= 60_000;
    expect(describeFrames(b.send(encodeRstStream(1, CANCEL)))).toEqual([]);
    expect(b.conn.closed).toBe(false);
  });

  test('unsolicited SETTINGS ACKs are glitches', () => {
    const b = server();
    const ack = encodeSettingsAck();
    expect(b.send(...Array.from({ length: burst }, () => ack))).toEqual([]);
    expect(describeFrames(b.send(ack))).toEqual(['GOAWAY(ENHANCE_YOUR_CALM, last=0)']);
  });
});

describe('RFC 9113 §6.10 CONTINUATION and §10.5.1 field block limits', () => {
  const max = DEFENCES.maxContinuationFrames;

  /** HEADERS + CONTINUATIONs carrying `block` in `frames` frames (the last with END_HEADERS). */
  function split(b: Bench, id: number, block: Uint8Array, frames: number, endStream = true): Uint8Array {
    const per = Math.ceil(block.length / frames);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < frames; i++) {
      const piece = block.subarray(i * per, (i + 1) * per);
      const last = i === frames - 1;
      parts.push(i === 0 ? b.headersFragment(id, piece, { endStream, endHeaders: last }) : encodeContinuation(id, piece, last));
    }
    return concat(parts);
  }

  const bigRequest = (): string[] => [...GET(), 'x-pad', 'p'.repeat(200)];

  test(`§6.10 a field block in ${max} frames (HEADERS + ${max - 1} CONTINUATION) is taken`, () => {
    const b = server();
    const block = b.block(bigRequest());
    expect(block.length).toBeGreaterThanOrEqual(max);
    expect(b.send(split(b, 1, block, max))).toEqual([]);
    expect(b.stream(1).head?.headers['x-pad']).toBe('p'.repeat(200));
  });

  test(`§6.10 §10.5 a field block in more than ${max} frames is GOAWAY ENHANCE_YOUR_CALM`, () => {
    const b = server();
    const block = b.block(bigRequest());
    expect(describeFrames(b.send(split(b, 1, block, max + 1)))).toEqual(['GOAWAY(ENHANCE_YOUR_CALM, last=0)']);
    expect(b.defences).toEqual(['header-block']);
    expect(b.streams).toHaveLength(0);
  });

  test('§10.5.1 a field block larger than the header list limit allows is GOAWAY ENHANCE_YOUR_CALM, and one octet less is not', () => {
    // Limit: 2 × SETTINGS_MAX_HEADER_LIST_SIZE + 16,384 octets of block.
    const listLimit = 1_000;
    const blockLimit = 2 * listLimit + 16_384;
    const blockOf = (size: number): Uint8Array => {
      const head = literalField(':method', 'GET');
      for (let v = size; v > 0; v--) {
        const block = concat([head, literalField('x-big', 'b'.repeat(v))]);
        if (block.length === size) return block;
      }
      throw new Error(`no block of ${size} octets`);
    };
    const atLimit = blockOf(blockLimit);
    expect(atLimit.length).toBe(blockLimit);
    const ok = server({ settings: { maxHeaderListSize: listLimit } });
    // Not a flood: decoded, and refused as too large a header list (RST_STREAM, connection kept).
    expect(describeFrames(ok.send(ok.headersFragment(1, atLimit.subarray(0, 16_384), { endStream: true, endHeaders: false }), encodeContinuation(1, atLimit.subarray(16_384), true)))).toEqual([
      'RST_STREAM(1, ENHANCE_YOUR_CALM)',
    ]);
    const over = blockOf(blockLimit + 1);
    const b = server({ settings: { maxHeaderListSize: listLimit } });
    expect(describeFrames(b.send(b.headersFragment(1, over.subarray(0, 16_384), { endStream: true, endHeaders: false }), encodeContinuation(1, over.subarray(16_384), true)))).toEqual([
      'GOAWAY(ENHANCE_YOUR_CALM, last=0)',
    ]);
    expect(b.defences).toEqual(['header-block']);
  });

  test('§6.10 a field block interrupted by another frame is a connection error PROTOCOL_ERROR', () => {
    const b = server();
    const block = b.block(GET());
    const out = b.send(b.headersFragment(1, block.subarray(0, 3), { endStream: true, endHeaders: false }), encodePing(OPAQUE, false));
    expect(describeFrames(out)).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
  });

  test('§6.10 a CONTINUATION on another stream than the HEADERS is a connection error PROTOCOL_ERROR', () => {
    const b = server();
    const block = b.block(GET());
    const out = b.send(b.headersFragment(1, block.subarray(0, 3), { endStream: true, endHeaders: false }), encodeContinuation(3, block.subarray(3), true));
    expect(describeFrames(out)).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
  });

  test('§6.10 a CONTINUATION without a field block in progress is a connection error PROTOCOL_ERROR', () => {
    const b = server();
    b.send(b.headers(1, GET(), true));
    expect(describeFrames(b.send(encodeContinuation(1, b.block(['x-a', 'b']), true)))).toEqual(['GOAWAY(PROTOCOL_ERROR, last=1)']);
  });

  test('§6.5.2 §10.5.1 a header list over SETTINGS_MAX_HEADER_LIST_SIZE: RST_STREAM ENHANCE_YOUR_CALM, and HPACK stays in step', () => {
    const b = server({ settings: { maxHeaderListSize: 300 } });
    // 177 octets of pseudo-headers + "x-small: v" (40) + "x-big: 300 octets" (337): over 300.
    const first = [...GET('/'), 'x-small', 'v', 'x-big', 'q'.repeat(300)];
    expect(describeFrames(b.send(b.headers(1, first, true)))).toEqual(['RST_STREAM(1, ENHANCE_YOUR_CALM)']);
    expect(b.streams).toHaveLength(0);
    // The peer's encoder inserted "x-small: v" (and the rest) into its dynamic table; the
    // next request refers to them by index. The engine decoded the refused block too, so it agrees.
    const tableBefore = b.hpack.table.length;
    expect(tableBefore).toBeGreaterThanOrEqual(2);
    const second = b.block([...GET('/'), 'x-small', 'v']);
    expect(b.hpack.table.length).toBe(tableBefore); // nothing new: every field was an index
    expect(b.send(b.headersFragment(3, second, { endStream: true }))).toEqual([]);
    expect(b.stream(3).head?.headers['x-small']).toBe('v');
    expect(b.stream(3).head?.headers[':authority']).toBe('example.com');
  });

  test('§5.1.2 over our SETTINGS_MAX_CONCURRENT_STREAMS a new stream is refused with REFUSED_STREAM', () => {
    const b = server({ settings: { maxConcurrentStreams: 1 } });
    b.send(b.headers(1, POST('/')));
    expect(describeFrames(b.send(b.headers(3, GET(), true)))).toEqual(['RST_STREAM(3, REFUSED_STREAM)']);
    expect(b.streams.map((r) => r.stream.id)).toEqual([1]);
    // Once stream 1 is gone, a new one is taken.
    b.send(encodeRstStream(1, CANCEL));
    expect(b.send(b.headers(5, GET(), true))).toEqual([]);
    expect(b.streams.map((r) => r.stream.id)).toEqual([1, 5]);
  });

  // A peer that forgets a stream once it has the whole response (Firefox after a WebSocket's
  // closing handshake) opens its next one at once; h2ws's owner yielded that stream's slot.
  test('§5.1.2 §8.1 at the limit, a stream that yielded its slot is ended with RST_STREAM NO_ERROR and the new stream taken', () => {
    const b = server({ settings: { maxConcurrentStreams: 2, enableConnectProtocol: true } });
    b.send(b.headers(1, CONNECT_WS()), b.headers(3, CONNECT_WS()));
    const first = b.stream(1).stream;
    first.respond({ ':status': 200 });
    first.end(new Uint8Array([0x88, 0x00]));
    expect(describeFrames(b.take())).toEqual(['HEADERS(1)', 'DATA(1, 2, END_STREAM)']);
    first.yieldSlot();
    // The newcomer is taken; the yielded stream goes, as a clean-looking local NO_ERROR reset.
    expect(describeFrames(b.send(b.headers(5, CONNECT_WS())))).toEqual(['RST_STREAM(1, NO_ERROR)']);
    expect(b.stream(1).close).toEqual({ code: NO_ERROR, by: 'local', unprocessed: false });
    expect(b.streams.map((r) => r.stream.id)).toEqual([1, 3, 5]);
    // Nothing else has yielded: the next one is refused as usual, and nothing else is touched.
    expect(describeFrames(b.send(b.headers(7, CONNECT_WS())))).toEqual(['RST_STREAM(7, REFUSED_STREAM)']);
    expect([b.stream(3).close, b.stream(5).close, b.goawaysSent]).toEqual([undefined, undefined, []]);
  });

  test('§5.1.2 a yielded stream whose END_STREAM still waits for window keeps its slot: its response is never cut', () => {
    const b = server({ settings: { maxConcurrentStreams: 1, enableConnectProtocol: true }, peerSettings: [[SettingId.INITIAL_WINDOW_SIZE, 4]] });
    b.send(b.headers(1, CONNECT_WS()));
    const { stream } = b.stream(1);
    stream.respond({ ':status': 200 });
    stream.end(new Uint8Array(10));
    expect(describeFrames(b.take())).toEqual(['HEADERS(1)', 'DATA(1, 4)']);
    stream.yieldSlot();
    expect(describeFrames(b.send(b.headers(3, CONNECT_WS())))).toEqual(['RST_STREAM(3, REFUSED_STREAM)']);
    expect(b.stream(1).close).toBeUndefined();
  });
});

describe('RFC 9113 §8.1.1 content-length', () => {
  test('§8.1.1 DATA beyond content-length is a stream error PROTOCOL_ERROR', () => {
    const b = server();
    b.send(b.headers(1, POST('/', 5)));
    expect(describeFrames(b.send(b.data(1, 6)))).toEqual(['RST_STREAM(1, PROTOCOL_ERROR)']);
    expect(b.conn.closed).toBe(false);
  });

  test('§8.1.1 END_STREAM before content-length octets arrived is a stream error PROTOCOL_ERROR', () => {
    const b = server();
    b.send(b.headers(1, POST('/', 5)));
    expect(describeFrames(b.send(b.data(1, 3), b.data(1, 1, true)))).toEqual(['RST_STREAM(1, PROTOCOL_ERROR)']);
    expect(b.stream(1).ended).toBe(false);
  });

  test('§8.1.1 HEADERS with END_STREAM and a non-zero content-length is a stream error PROTOCOL_ERROR', () => {
    const b = server();
    expect(describeFrames(b.send(b.headers(1, POST('/', 5), true)))).toEqual(['RST_STREAM(1, PROTOCOL_ERROR)']);
    expect(b.streams).toHaveLength(0);
  });

  test('§8.1.1 content-length met exactly, across frames, ends the stream cleanly; content-length 0 with END_STREAM too', () => {
    const b = server();
    b.send(b.headers(1, POST('/', 5)));
    expect(b.send(b.data(1, 3), b.data(1, 2, true))).toEqual([]);
    expect(b.stream(1).bytes).toBe(5);
    expect(b.stream(1).ended).toBe(true);
    expect(b.send(b.headers(3, POST('/', 0), true))).toEqual([]);
    expect(b.stream(3).ended || b.stream(3).endStream).toBe(true);
  });

  test('§8.1.1 trailers may end a stream whose content-length was met', () => {
    const b = server();
    b.send(b.headers(1, POST('/', 2)), b.data(1, 2));
    expect(b.send(b.headers(1, ['x-sum', '2'], true))).toEqual([]);
    expect(b.stream(1).trailers).toEqual({ 'x-sum': '2' });
  });

  test('§8.1.1 trailers that end a stream short of its content-length are a stream error PROTOCOL_ERROR', () => {
    const b = server();
    b.send(b.headers(1, POST('/', 5)), b.data(1, 2));
    expect(describeFrames(b.send(b.headers(1, ['x-sum', '2'], true)))).toEqual(['RST_STREAM(1, PROTOCOL_ERROR)']);
  });
});

describe('RFC 9113 §8.1 trailers', () => {
  test('§8.1 request trailers reach onTrailers and end the stream', () => {
    const b = server();
    b.send(b.headers(1, POST('/')), b.data(1, 5));
    expect(b.send(b.headers(1, ['x-checksum', 'abc', 'x-other', '1'], true))).toEqual([]);
    const rec = b.stream(1);
    expect(rec.trailers).toEqual({ 'x-checksum': 'abc', 'x-other': '1' });
    expect(rec.ended).toBe(true);
    expect(rec.bytes).toBe(5);
  });

  test('§8.1 a second HEADERS without END_STREAM is a stream error PROTOCOL_ERROR', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    expect(describeFrames(b.send(b.headers(1, ['x-checksum', 'abc'], false)))).toEqual(['RST_STREAM(1, PROTOCOL_ERROR)']);
  });

  test('§8.1 trailers with a pseudo-header are a stream error PROTOCOL_ERROR', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    expect(describeFrames(b.send(b.headers(1, [':status', '200'], true)))).toEqual(['RST_STREAM(1, PROTOCOL_ERROR)']);
  });

  test('§8.1 the server\'s trailers go after the DATA queued before them, with END_STREAM', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    const { stream } = b.stream(1);
    stream.respond({ ':status': 200 });
    stream.write(new Uint8Array(100));
    stream.sendHeaders(['x-trailer', 'done'], true);
    const out = b.take();
    expect(describeFrames(out)).toEqual(['HEADERS(1)', 'DATA(1, 100)', 'HEADERS(1, END_STREAM)']);
    expect(ofType(out, FrameType.HEADERS)[1]).toMatchObject({ fields: ['x-trailer', 'done'] });
    expect(stream.state).toBe(2); // half-closed (local)
  });

  test('§8.1 trailers while DATA waits for window are held until the DATA is out', () => {
    const b = server({ peerSettings: [[SettingId.INITIAL_WINDOW_SIZE, 10]] });
    b.send(b.headers(1, POST('/')));
    const { stream } = b.stream(1);
    stream.respond({ ':status': 200 });
    stream.write(new Uint8Array(15));
    stream.sendHeaders(['x-trailer', 'done'], true);
    expect(describeFrames(b.take())).toEqual(['HEADERS(1)', 'DATA(1, 10)']);
    expect(describeFrames(b.send(encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, Uint8Array.of(0, 0, 0, 5))))).toEqual(['DATA(1, 5)', 'HEADERS(1, END_STREAM)']);
  });
});
