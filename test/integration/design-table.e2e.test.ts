/**
 * Every row of the design's event → behaviour table, on the wire, with the gateway spawned
 * under Node, Deno and Bun in turn. Clients are node:http2 (or raw frames where a library
 * would refuse to send what a hostile client sends); backends are real `ws` servers and
 * hand-written ones that misbehave.
 */
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type EchoBackend, type RawBackend, refusedPort, startEchoBackend, startRawBackend } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, eventually, FrameSink, openTunnel, serverFrame, type H2Client } from '../helpers/h2-client.ts';
import { FrameType, goaway, RawH2, rstCode } from '../helpers/raw-h2.ts';

const H2 = http2.constants;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let echo: EchoBackend;
let raw: RawBackend;
let badAccept: RawBackend;
let badProto: RawBackend;
let badExt: RawBackend;
let forbidden: RawBackend;
let hang: RawBackend;
let refused: number;

beforeAll(async () => {
  echo = await startEchoBackend();
  raw = await startRawBackend(() => {});
  badAccept = await startRawBackend((c) =>
    c.socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n'),
  );
  badProto = await startRawBackend((c) => c.accept(['Sec-WebSocket-Protocol: evil']));
  badExt = await startRawBackend((c) => c.accept(['Sec-WebSocket-Extensions: x-made-up']));
  forbidden = await startRawBackend((c) =>
    c.socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nX-Reason: policy\r\n\r\nno entry here'),
  );
  hang = await startRawBackend(() => {});
  refused = await refusedPort();
});

afterAll(async () => {
  await Promise.all([echo, raw, badAccept, badProto, badExt, forbidden, hang].map((b) => b?.close()));
});

describe.each(RUNTIMES)('design table under %s', (runtime) => {
  let gw: GatewayProcess;
  let limited: GatewayProcess;
  let client: H2Client;

  beforeAll(async () => {
    const routes = {
      '/echo': echo.url,
      '/raw': raw.url,
      '/bad-accept': badAccept.url,
      '/bad-protocol': badProto.url,
      '/bad-extension': badExt.url,
      '/forbidden': forbidden.url,
      '/hang': hang.url,
      '/refused': `ws://127.0.0.1:${refused}`,
      '/dns': 'ws://no-such-host.invalid:80',
    };
    [gw, limited] = await Promise.all([
      startGateway(runtime, ['--listen', '127.0.0.1:0'], {
        routes,
        limits: { maxStreamsPerConnection: 123 },
        timeouts: { backendConnectMs: 2000, backendUpgradeMs: 1000, drainMs: 2000, pingIntervalMs: 500 },
      }),
      startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', raw.url], { limits: { maxTunnels: 1 }, timeouts: { drainMs: 2000 } }),
    ]);
    client = await connectH2(gw.url);
  });

  afterAll(async () => {
    await client?.close();
    const codes = await Promise.all([gw?.stop(), limited?.stop()]);
    // The gateway must never have crashed during the suite, and it exits 0 on SIGTERM.
    expect(codes, `gateway stderr:\n${gw?.stderr()}`).toEqual([0, 0]);
  });

  it('advertises SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 and the configured MAX_CONCURRENT_STREAMS (RFC 8441 §3)', () => {
    expect(client.settings.enableConnectProtocol).toBe(true);
    expect(client.settings.maxConcurrentStreams).toBe(123);
  });

  it('flow control: SETTINGS_INITIAL_WINDOW_SIZE is half of maxBufferedBytesPerTunnel, the connection window four of those (RFC 9113 §6.9)', async () => {
    const raw = await RawH2.connect(Number(new URL(gw.url).port));
    try {
      const settings = await raw.waitFor((f) => f.type === FrameType.SETTINGS && (f.flags & 0x1) === 0);
      const params = new Map<number, number>();
      for (let i = 0; i + 6 <= settings.payload.length; i += 6) params.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
      expect(params.get(0x4)).toBe(1_048_576 / 2); // SETTINGS_INITIAL_WINDOW_SIZE; the default limit is 1 MiB
      // The connection window starts at 65,535 whatever SETTINGS say (§6.9.2); a WINDOW_UPDATE on stream 0
      // raises it, on every runtime (one engine).
      const update = await raw.waitFor((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 0);
      expect(65_535 + (update.payload.readUInt32BE(0) & 0x7fffffff)).toBe(4 * (1_048_576 / 2));
    } finally {
      raw.destroy();
    }
  });

  it('valid extended CONNECT: replies 200 only after a verified 101, then relays both ways', async () => {
    let acceptedAt = 0;
    const next = raw.next().then((c) => {
      setTimeout(() => {
        acceptedAt = Date.now();
        c.accept(['Sec-WebSocket-Protocol: chat']);
      }, 300);
      return c;
    });
    const startedAt = Date.now();
    const res = await openTunnel(client, '/raw', { 'sec-websocket-protocol': 'chat, other' });
    const respondedAt = Date.now();
    const conn = await next;
    expect(res.status).toBe(200);
    expect(acceptedAt).toBeGreaterThan(0);
    expect(respondedAt).toBeGreaterThanOrEqual(acceptedAt);
    expect(respondedAt - startedAt).toBeGreaterThanOrEqual(250);
    expect(res.headers['sec-websocket-protocol']).toBe('chat');
    // Nothing HTTP/2 forbids (RFC 9113 §8.2.2), and no Accept (RFC 8441 §5).
    expect(res.headers.connection).toBeUndefined();
    expect(res.headers.upgrade).toBeUndefined();
    expect(res.headers['sec-websocket-accept']).toBeUndefined();
    res.stream.write(clientFrame('ping'));
    await eventually(() => conn.received().equals(clientFrame('ping')), 5000, 'frame at backend');
    const sink = new FrameSink(false);
    res.stream.on('data', (d: Buffer) => sink.write(d));
    conn.socket.write(serverFrame('pong'));
    await sink.until(() => sink.messages.includes('pong'));
    res.stream.close(H2.NGHTTP2_CANCEL);
  });

  it('echoes through a real ws backend with the request it expects (Host, Origin, cookies, X-Forwarded-*, offers, fresh key)', async () => {
    const clientKey = 'dGhlIHNhbXBsZSBub25jZQ==';
    const res = await openTunnel(client, '/echo?room=1', {
      origin: 'https://app.test',
      cookie: ['a=1', 'b=2'],
      'sec-websocket-protocol': 'chat',
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
      'sec-websocket-key': clientKey,
      'x-custom': 'kept',
    });
    expect(res.status).toBe(200);
    expect(res.headers['sec-websocket-protocol']).toBe('chat');
    const sink = new FrameSink(false);
    res.stream.on('data', (d: Buffer) => sink.write(d));
    res.stream.write(clientFrame('hello'));
    res.stream.write(clientFrame(Buffer.from([0, 1, 2, 255])));
    await sink.until(() => sink.messages.length === 2);
    expect(sink.messages[0]).toBe('hello');
    expect(sink.messages[1]).toEqual(Buffer.from([0, 1, 2, 255]));
    const req = echo.requests.at(-1)!;
    expect(req.url).toBe('/echo?room=1');
    expect(req.headers.host).toBe('gateway.test');
    expect(req.headers.origin).toBe('https://app.test');
    expect(req.headers.cookie).toBe('a=1; b=2');
    expect(req.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(req.headers['x-forwarded-proto']).toBe('http');
    expect(req.headers.via).toBe('2 h2ws');
    expect(req.headers['x-custom']).toBe('kept');
    expect(req.headers['sec-websocket-protocol']).toBe('chat');
    // The client's key over h2 is ignored: the backend gets h2ws's own (design table).
    expect(req.headers['sec-websocket-key']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(req.headers['sec-websocket-key']).not.toBe(clientKey);
    res.stream.end();
    await new Promise((r) => res.stream.once('close', r));
    expect(res.stream.rstCode).toBe(H2.NGHTTP2_NO_ERROR);
  });

  it('sec-websocket-version present and not 13: 400 with sec-websocket-version: 13', async () => {
    const res = await openTunnel(client, '/echo', { 'sec-websocket-version': '8' });
    expect(res.status).toBe(400);
    expect(res.headers['sec-websocket-version']).toBe('13');
  });

  it('sec-websocket-version missing (Firefox quirk): accepted as 13', async () => {
    const stream = client.session.request(
      { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/echo', ':authority': 'gateway.test' },
      { endStream: false },
    );
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
    expect(headers[':status']).toBe(200);
    expect(echo.requests.at(-1)!.headers['sec-websocket-version']).toBe('13');
    stream.close(H2.NGHTTP2_CANCEL);
  });

  it(':protocol other than websocket: 501', async () => {
    const res = await openTunnel(client, '/echo', { ':protocol': 'connect-udp' });
    expect(res.status).toBe(501);
  });

  it('plain CONNECT (no :protocol): 501, h2ws is not a forward proxy', async () => {
    const stream = client.session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' }, { endStream: false });
    stream.on('error', () => {});
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
    expect(headers[':status']).toBe(501);
    stream.close();
  });

  it('extended CONNECT missing :scheme, :path or :authority: RST_STREAM PROTOCOL_ERROR (RFC 9113 §8.1.1)', async () => {
    const full: Array<[string, string]> = [
      [':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', '/echo'], [':authority', 'gateway.test'],
    ];
    for (const name of [':scheme', ':path', ':authority']) {
      const rawClient = await RawH2.connect(gw.port);
      rawClient.headers(1, full.filter(([n]) => n !== name));
      const f = await rawClient.waitFor((x) => x.type === FrameType.RST_STREAM || x.type === FrameType.HEADERS || x.type === FrameType.GOAWAY);
      expect(f.type, `stream without ${name}`).toBe(FrameType.RST_STREAM);
      expect(rstCode(f), `stream without ${name}`).toBe(H2.NGHTTP2_PROTOCOL_ERROR);
      // A malformed request is a stream error only: no GOAWAY, the connection stays usable.
      await new Promise((r) => setTimeout(r, 100));
      expect(rawClient.frames.some((x) => x.type === FrameType.GOAWAY)).toBe(false);
      rawClient.destroy();
    }
  });

  it('no route for the path: 404', async () => {
    const res = await openTunnel(client, '/nowhere');
    expect(res.status).toBe(404);
  });

  it('backend refuses the TCP connection: 502', async () => {
    const res = await openTunnel(client, '/refused');
    expect(res.status).toBe(502);
  });

  it('backend DNS lookup fails: 502', async () => {
    const res = await openTunnel(client, '/dns');
    expect(res.status).toBe(502);
  });

  it('backend does not answer the upgrade in time: 504', async () => {
    const started = Date.now();
    const res = await openTunnel(client, '/hang');
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('backend answers with a non-101 status: that status and its small body', async () => {
    const res = await openTunnel(client, '/forbidden');
    expect(res.status).toBe(403);
    expect(res.headers['x-reason']).toBe('policy');
    expect(await res.body()).toBe('no entry here');
  });

  it('backend 101 with a wrong Sec-WebSocket-Accept: 502', async () => {
    expect((await openTunnel(client, '/bad-accept')).status).toBe(502);
  });

  it('backend 101 choosing a subprotocol the client did not offer: 502', async () => {
    expect((await openTunnel(client, '/bad-protocol', { 'sec-websocket-protocol': 'chat' })).status).toBe(502);
  });

  it('backend 101 with an extension the client did not offer: 502', async () => {
    expect((await openTunnel(client, '/bad-extension', { 'sec-websocket-extensions': 'permessage-deflate' })).status).toBe(502);
  });

  it('over the tunnel limit: RST_STREAM REFUSED_STREAM before any work; HTTP/1.1 gets 503', async () => {
    const h2 = await connectH2(limited.url);
    const first = raw.next();
    const open = openTunnel(h2, '/one');
    const conn = await first;
    conn.accept();
    expect((await open).status).toBe(200);
    const before = raw.connections.length;
    const second = await openTunnel(h2, '/two');
    expect(second.status).toBeUndefined();
    expect(second.rstCode).toBe(H2.NGHTTP2_REFUSED_STREAM);
    const h1Status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(limited.url.replace('http', 'ws') + 'three');
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });
    expect(h1Status).toBe(503);
    // "before any work": the backend never heard of the refused ones.
    expect(raw.connections.length).toBe(before);
    (await open).stream.close(H2.NGHTTP2_CANCEL);
    await conn.ended;
    await h2.close();
  });

  it('client END_STREAM: flush, then FIN to the backend; the other direction keeps relaying', async () => {
    const { conn, stream } = await rawTunnel(client);
    const sink = new FrameSink(false);
    let clientSawEnd = false;
    stream.on('data', (d: Buffer) => sink.write(d));
    stream.on('end', () => (clientSawEnd = true));
    stream.end(clientFrame('last words'));
    expect(await conn.ended).toBe('fin');
    expect(conn.received()).toEqual(clientFrame('last words'));
    conn.socket.write(serverFrame('still here'));
    await sink.until(() => sink.messages.includes('still here'));
    expect(clientSawEnd).toBe(false);
    conn.socket.end();
    await eventually(() => clientSawEnd, 5000, 'END_STREAM at the client');
    await new Promise((r) => (stream.closed ? r(null) : stream.once('close', r)));
    expect(stream.rstCode).toBe(H2.NGHTTP2_NO_ERROR);
  });

  it('backend FIN: flush, then END_STREAM to the client; the client keeps sending', async () => {
    const { conn, stream } = await rawTunnel(client);
    const sink = new FrameSink(false);
    stream.on('data', (d: Buffer) => sink.write(d));
    conn.socket.end(serverFrame('goodbye'));
    await once(stream, 'end');
    expect(sink.messages).toEqual(['goodbye']);
    stream.write(clientFrame('but wait'));
    await eventually(() => conn.received().equals(clientFrame('but wait')), 5000, 'late frame at backend');
    stream.end();
    expect(await conn.ended).toBe('fin');
  });

  it('client RST_STREAM: the backend sees a TCP reset, and h2ws never answers with RST_STREAM', async () => {
    const rawClient = await RawH2.connect(gw.port);
    const next = raw.next();
    rawClient.headers(1, [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', '/raw'], [':authority', 'gateway.test'], ['sec-websocket-version', '13']]);
    const conn = await next;
    conn.accept();
    await rawClient.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === 1);
    rawClient.data(1, clientFrame('x'));
    await eventually(() => conn.received().length > 0, 5000, 'data at backend');
    rawClient.rst(1, H2.NGHTTP2_CANCEL);
    expect(await conn.ended).toBe('reset');
    await new Promise((r) => setTimeout(r, 300));
    expect(rawClient.frames.filter((f) => f.type === FrameType.RST_STREAM)).toEqual([]);
    rawClient.destroy();
  });

  it('backend TCP reset mid-tunnel: RST_STREAM CONNECT_ERROR', async () => {
    const { conn, stream, status } = await rawTunnel(client);
    expect(status).toBe(200);
    conn.socket.resetAndDestroy();
    await new Promise((r) => stream.once('close', r));
    expect(stream.rstCode).toBe(H2.NGHTTP2_CONNECT_ERROR);
  });

  it('a clean close delivers every byte sent before it, both ways (4 MiB each)', async () => {
    const { conn, stream } = await rawTunnel(client);
    const up = Buffer.alloc(4 * 1024 * 1024);
    const down = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < up.length; i++) {
      up[i] = (i * 7) & 0xff;
      down[i] = (i * 13) & 0xff;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    const clientEnded = once(stream, 'end', 20_000);
    stream.end(up);
    conn.socket.end(down);
    expect(await conn.ended).toBe('fin');
    await clientEnded;
    expect(conn.received().length).toBe(up.length);
    expect(sha(conn.received())).toBe(sha(up));
    const got = Buffer.concat(chunks);
    expect(got.length).toBe(down.length);
    expect(sha(got)).toBe(sha(down));
  });

  it('backpressure: a backend that stops reading stops the client, without loss', async () => {
    const { conn, stream } = await rawTunnel(client);
    conn.socket.pause();
    const total = 16 * 1024 * 1024;
    const payload = Buffer.alloc(total, 0x61);
    stream.write(payload);
    await new Promise((r) => setTimeout(r, 1000));
    // The client's bytes are stuck in its own buffer: h2ws stopped granting window.
    expect(stream.writableLength).toBeGreaterThan(total / 2);
    conn.socket.resume();
    await eventually(() => conn.received().length === total, 20_000, 'all bytes at backend');
    stream.close(H2.NGHTTP2_CANCEL);
  });

  it('backpressure: a client that stops reading stops the backend, without loss', async () => {
    const { conn, stream } = await rawTunnel(client);
    stream.pause();
    const total = 16 * 1024 * 1024;
    conn.socket.write(Buffer.alloc(total, 0x62));
    await new Promise((r) => setTimeout(r, 1000));
    // The backend's socket cannot drain: h2ws stopped reading it.
    expect(conn.socket.writableLength).toBeGreaterThan(total / 2);
    let got = 0;
    stream.on('data', (d: Buffer) => (got += d.length));
    stream.resume();
    await eventually(() => got === total, 20_000, 'all bytes at client');
    stream.close(H2.NGHTTP2_CANCEL);
  });

  it('HTTP/1.1 client upgrade on the same port: same routing and bridging, 101', async () => {
    const ws = new WebSocket(gw.url.replace('http', 'ws') + 'echo', ['chat']);
    await once(ws, 'open');
    expect(ws.protocol).toBe('chat');
    ws.send('over h1');
    const [data] = await once<[Buffer]>(ws, 'message', 5000, true);
    expect(String(data)).toBe('over h1');
    expect(echo.requests.at(-1)!.headers.via).toBe('1.1 h2ws');
    ws.close(4000, 'done');
    await eventually(() => echo.closes.some((c) => c.code === 4000 && c.reason === 'done'), 5000, 'close 4000 at backend');
  });

  it('HTTP/1.1 client: the same statuses as h2 (404 no route, 400 bad version, 502, 504, 403)', async () => {
    const status = (path: string, opts: WebSocket.ClientOptions = {}) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(gw.url.replace('http', 'ws') + path.slice(1), opts);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => {});
      });
    expect(await status('/nowhere')).toBe(404);
    expect(await status('/echo', { protocolVersion: 8 })).toBe(400);
    expect(await status('/refused')).toBe(502);
    expect(await status('/hang')).toBe(504);
    expect(await status('/forbidden')).toBe(403);
    expect(await status('/bad-accept')).toBe(502);
  });

  it('connection-level protocol violation: GOAWAY PROTOCOL_ERROR, then the TCP connection closes', async () => {
    const rawClient = await RawH2.connect(gw.port);
    await rawClient.waitFor((f) => f.type === FrameType.SETTINGS);
    rawClient.data(0, Buffer.from('DATA on stream 0 is a connection error (RFC 9113 §6.1)'));
    const f = await rawClient.waitFor((x) => x.type === FrameType.GOAWAY);
    expect(goaway(f).code).toBe(H2.NGHTTP2_PROTOCOL_ERROR);
    // Deno and Bun close at once; on Node the PING liveness check (500 ms here) closes it.
    await rawClient.waitClosed(3000);
  });

  it('random bytes to the listener: the connection is dropped, the gateway keeps serving', async () => {
    for (const junk of [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x09garbage!'), Buffer.from([0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5]), createHash('sha512').update('x').digest()]) {
      const rawClient = await RawH2.connect(gw.port).catch(() => undefined);
      rawClient?.write(junk);
      rawClient?.destroy();
    }
    const res = await openTunnel(client, '/echo');
    expect(res.status).toBe(200);
    res.stream.close(H2.NGHTTP2_CANCEL);
  });
});

/** Opens a tunnel to the raw backend, which accepts it with a valid 101. */
async function rawTunnel(client: H2Client, path = '/raw') {
  const next = raw.next();
  const res = openTunnel(client, path);
  const conn = await next;
  conn.accept();
  const { stream, status } = await res;
  return { conn, stream, status };
}

function once<T = unknown>(emitter: NodeJS.EventEmitter, event: string, ms = 5000, all = false): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), ms);
    emitter.once(event, (...args: unknown[]) => {
      clearTimeout(t);
      resolve((all ? args : args[0]) as T);
    });
  });
}
