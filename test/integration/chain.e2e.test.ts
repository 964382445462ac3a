/**
 * Two gateways in a row, both spawned under Node, Deno and Bun in turn:
 *
 *   client ──h2/h1──▶ h2ws A ──RFC 8441 over pooled h2 (route h2: "require")──▶ h2ws B ──h1──▶ ws backend
 *
 * Every row of the design table must still hold end to end (handshake outcomes, half-close,
 * resets and their codes), and all the tunnels through A share one A→B connection. Clients are
 * h2ws's own `connect` (in this process), `node:http2` where the test must see frames and
 * reset codes, and `ws` for HTTP/1.1.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, H2SessionPool } from '../../mod.ts';
import { type EchoBackend, type RawBackend, type RawConnection, refusedPort, startEchoBackend, startRawBackend } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, eventually, FrameSink, type H2Client, once, openTunnel, serverFrame } from '../helpers/h2-client.ts';
import { FrameType, RawH2 } from '../helpers/raw-h2.ts';

const H2 = http2.constants;

let echo: EchoBackend;
let raw: RawBackend;
let forbidden: RawBackend;
let refused: number;

beforeAll(async () => {
  [echo, raw, forbidden, refused] = await Promise.all([
    startEchoBackend({ perMessageDeflate: true }),
    startRawBackend(() => {}),
    startRawBackend((c) => c.socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nX-Reason: policy\r\n\r\nno entry here')),
    refusedPort(),
  ]);
});

afterAll(async () => {
  await Promise.all([echo, raw, forbidden].map((b) => b?.close()));
});

/** A plain GET on a fresh HTTP/1.1 connection, so scrapes never hold an h2 session open. */
function scrape(gw: GatewayProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${gw.url}metrics`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

/** The value of one sample, e.g. `h2ws_sessions_open{transport="h2"}`; 0 when absent. */
async function sample(gw: GatewayProcess, name: string): Promise<number> {
  const line = (await scrape(gw)).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

async function eventuallySample(gw: GatewayProcess, name: string, want: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = await sample(gw, name);
  while (last !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    last = await sample(gw, name);
  }
  expect(last, `${gw.runtime} ${name}`).toBe(want);
}

const CANCEL_RECEIVED = 'h2ws_resets_total{code="CANCEL",side="received"}';

/** One echo round trip on a `ws`-shaped socket. */
async function roundTrip(ws: WebSocket, data: string | Buffer): Promise<string | Buffer> {
  const reply = new Promise<string | Buffer>((resolve) => ws.once('message', (d: Buffer, isBinary: boolean) => resolve(isBinary ? Buffer.from(d) : d.toString())));
  ws.send(data);
  return reply;
}

function closeWith(ws: WebSocket, code = 1000): Promise<number> {
  return new Promise((resolve) => {
    ws.once('close', (c: number) => resolve(c));
    ws.close(code);
  });
}

/** Opens a tunnel to the raw backend with `open` and accepts it there once it arrives. */
async function acceptedAtRaw<T>(open: () => Promise<T>): Promise<{ conn: RawConnection; opened: T }> {
  const next = raw.next();
  const pending = open();
  const conn = await next;
  conn.accept();
  return { conn, opened: await pending };
}

describe.each(RUNTIMES)('client → A → B → ws backend, gateways under %s', (runtime) => {
  let a: GatewayProcess;
  let b: GatewayProcess;
  let pool: H2SessionPool;
  let client: H2Client;
  const url = (path: string) => `${a.url.replace(/^http/, 'ws')}${path.slice(1)}`;

  beforeAll(async () => {
    const timeouts = { backendConnectMs: 2000, backendUpgradeMs: 2000, drainMs: 2000 };
    b = await startGateway(runtime, ['--listen', '127.0.0.1:0'], {
      routes: { '/echo': echo.url, '/raw': raw.url, '/forbidden': forbidden.url, '/refused': `ws://127.0.0.1:${refused}` },
      // A is the proxy in front of B: B keeps A's forwarding fields (docs/operations.md, "Forwarding headers").
      trustedProxies: ['127.0.0.1'],
      timeouts,
    });
    const viaB = { backend: `ws://127.0.0.1:${b.port}`, h2: 'require' };
    a = await startGateway(runtime, ['--listen', '127.0.0.1:0'], {
      routes: {
        '/echo': viaB,
        '/raw': viaB,
        '/forbidden': viaB,
        '/refused': viaB,
        '/nothing': viaB,
        '/prefer-plain': { backend: echo.url, h2: 'prefer' },
        '/require-plain': { backend: echo.url, h2: 'require' },
      },
      timeouts,
    });
    pool = new H2SessionPool();
    client = await connectH2(a.url);
  });

  afterAll(async () => {
    pool?.destroy();
    await client?.close();
    // B first: its GOAWAY (RFC 9113 §6.8) lands on A's pooled connection, which has carried
    // every tunnel of this suite; A goes on, and drains cleanly after.
    const codes = [await b?.stop(), await a?.stop()];
    expect(codes, `A stderr:\n${a?.stderr()}\nB stderr:\n${b?.stderr()}`).toEqual([0, 0]);
  });

  it('echoes text and binary byte-exact over h2 all the way, with both hops in Via, X-Forwarded-For and Forwarded (B trusts A as a proxy, so it appends rather than replaces)', async () => {
    const ws = await connect(url('/echo/hops'), { pool });
    expect(ws.transport).toBe('h2');
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(await roundTrip(ws, 'through two gateways ✓')).toBe('through two gateways ✓');
    expect(await roundTrip(ws, every)).toEqual(every);
    const req = echo.requests.at(-1)!;
    expect(req.url).toBe('/echo/hops');
    expect(req.headers.via).toBe('2 h2ws, 2 h2ws');
    expect(req.headers['x-forwarded-for']).toBe('127.0.0.1, 127.0.0.1');
    expect(req.headers.forwarded).toBe('for=127.0.0.1;proto=http, for=127.0.0.1;proto=http');
    const closes = echo.closes.length;
    expect(await closeWith(ws)).toBe(1000);
    await eventually(() => echo.closes.length > closes, 5000, 'the backend’s close');
    expect(echo.closes.at(-1)).toEqual({ code: 1000, reason: '' });
  });

  it('negotiates the subprotocol end to end: the backend sees the offer, the client gets its choice', async () => {
    const ws = await connect(url('/echo'), { pool, protocols: ['chat', 'x-other'] });
    expect(ws.protocol).toBe('chat');
    expect(echo.requests.at(-1)!.headers['sec-websocket-protocol']).toBe('chat, x-other');
    expect(await roundTrip(ws, 'hi')).toBe('hi');
    await closeWith(ws);
  });

  it('negotiates permessage-deflate end to end (RFC 7692): an h2 client gets the backend’s answer', async () => {
    const res = await openTunnel(client, '/echo', { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits', 'sec-websocket-protocol': 'chat' });
    expect(res.status).toBe(200);
    expect(res.headers['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
    expect(res.headers['sec-websocket-protocol']).toBe('chat');
    expect(echo.requests.at(-1)!.headers['sec-websocket-extensions']).toBe('permessage-deflate; client_max_window_bits');
    res.stream.close(H2.NGHTTP2_CANCEL);
    await new Promise((r) => res.stream.once('close', r));
  });

  it('an HTTP/1.1 client (ws) → A → B over h2: works, compressed end to end', async () => {
    const h2Before = await sample(b, 'h2ws_tunnels_total{route="/echo",transport="h2",outcome="ok"}');
    const h1Before = await sample(b, 'h2ws_tunnels_total{route="/echo",transport="h1",outcome="ok"}');
    const ws = new WebSocket(url('/echo'), ['chat']);
    ws.on('error', () => {});
    await once(ws, 'open');
    expect(ws.protocol).toBe('chat');
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    expect(echo.sockets.at(-1)!.extensions).toMatch(/^permessage-deflate/);
    expect(echo.requests.at(-1)!.headers.via).toBe('1.1 h2ws, 2 h2ws');
    const big = 'compress me '.repeat(5000);
    expect(await roundTrip(ws, big)).toBe(big);
    expect(await closeWith(ws)).toBe(1000);
    // B got this tunnel over HTTP/2 from A, not over HTTP/1.1.
    await eventuallySample(b, 'h2ws_tunnels_total{route="/echo",transport="h2",outcome="ok"}', h2Before + 1);
    expect(await sample(b, 'h2ws_tunnels_total{route="/echo",transport="h1",outcome="ok"}')).toBe(h1Before);
  });

  it('client END_STREAM → backend FIN, and the backend’s data still reaches the client; then backend FIN → END_STREAM', async () => {
    const { conn, opened: res } = await acceptedAtRaw(() => openTunnel(client, '/raw'));
    expect(res.status).toBe(200);
    const sink = new FrameSink(false);
    res.stream.on('data', (d: Buffer) => sink.write(d));
    const ended = new Promise<void>((resolve) => res.stream.once('end', () => resolve()));
    res.stream.end(clientFrame('last words'));
    expect(await conn.ended).toBe('fin');
    expect(conn.received().equals(clientFrame('last words'))).toBe(true);
    conn.socket.write(serverFrame('still flowing'));
    await sink.until(() => sink.messages.includes('still flowing'));
    conn.socket.end();
    await ended;
    await new Promise((r) => (res.stream.closed ? r(undefined) : res.stream.once('close', r)));
    expect(res.stream.rstCode).toBe(H2.NGHTTP2_NO_ERROR);
  });

  it('backend FIN → END_STREAM to the client, and the client’s data still reaches the backend', async () => {
    const { conn, opened: res } = await acceptedAtRaw(() => openTunnel(client, '/raw'));
    expect(res.status).toBe(200);
    const sink = new FrameSink(false);
    res.stream.on('data', (d: Buffer) => sink.write(d));
    const ended = new Promise<void>((resolve) => res.stream.once('end', () => resolve()));
    conn.socket.end(serverFrame('goodbye'));
    await ended;
    expect(sink.messages).toEqual(['goodbye']);
    res.stream.end(clientFrame('after your FIN'));
    expect(await conn.ended).toBe('fin');
    expect(conn.received().equals(clientFrame('after your FIN'))).toBe(true);
    await new Promise((r) => (res.stream.closed ? r(undefined) : res.stream.once('close', r)));
    expect(res.stream.rstCode).toBe(H2.NGHTTP2_NO_ERROR);
  });

  // The client is a frame-level one, so that RST_STREAM is all it sends (as browsers do):
  // node:http2's close(code) sends END_STREAM before the RST_STREAM.
  it('client RST_STREAM(CANCEL) → B resets the backend’s TCP connection (not FIN); A and B each count one CANCEL received', async () => {
    const aBefore = await sample(a, CANCEL_RECEIVED);
    const bBefore = await sample(b, CANCEL_RECEIVED);
    const rawClient = await RawH2.connect(a.port);
    try {
      const next = raw.next();
      rawClient.headers(1, [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', '/raw'], [':authority', 'gateway.test'], ['sec-websocket-version', '13']]);
      const conn = await next;
      conn.accept();
      await rawClient.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === 1);
      rawClient.data(1, clientFrame('about to vanish'));
      await eventually(() => conn.received().equals(clientFrame('about to vanish')), 5000, 'the frame at the backend');
      rawClient.rst(1, H2.NGHTTP2_CANCEL);
      expect(await conn.ended).toBe('reset');
      await eventuallySample(a, CANCEL_RECEIVED, aBefore + 1);
      await eventuallySample(b, CANCEL_RECEIVED, bBefore + 1);
      // h2ws never answers a RST_STREAM with one.
      await new Promise((r) => setTimeout(r, 200));
      expect(rawClient.frames.filter((f) => f.type === FrameType.RST_STREAM)).toEqual([]);
    } finally {
      rawClient.destroy();
    }
  });

  it('connect()’s abort (terminate) → RST_STREAM(CANCEL) all the way: the backend sees a TCP reset, not FIN', async () => {
    const bBefore = await sample(b, CANCEL_RECEIVED);
    const { conn, opened: ws } = await acceptedAtRaw(() => connect(url('/raw'), { pool }));
    expect(ws.transport).toBe('h2');
    ws.send('about to vanish');
    await eventually(() => conn.received().length > 0, 5000, 'a frame at the backend');
    ws.terminate();
    expect(await conn.ended).toBe('reset');
    await eventuallySample(b, CANCEL_RECEIVED, bBefore + 1);
  });

  // What the client sees for a backend's TCP reset: RST_STREAM(CONNECT_ERROR), the same as with
  // one gateway. B turns the reset into CONNECT_ERROR (design table), and A passes the code
  // it received from B straight through.
  it('backend TCP reset → RST_STREAM(CONNECT_ERROR) at an h2 client; close 1006 at connect()', async () => {
    {
      const { conn, opened: res } = await acceptedAtRaw(() => openTunnel(client, '/raw'));
      expect(res.status).toBe(200);
      const closed = new Promise((r) => res.stream.once('close', r));
      conn.socket.resetAndDestroy();
      await closed;
      expect(res.stream.rstCode).toBe(H2.NGHTTP2_CONNECT_ERROR);
    }
    {
      const { conn, opened: ws } = await acceptedAtRaw(() => connect(url('/raw'), { pool }));
      const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
      conn.socket.resetAndDestroy();
      expect(await closed).toBe(1006);
    }
  });

  it('backend 403 → 403 at the client, with its body and headers', async () => {
    await expect(connect(url('/forbidden'), { pool })).rejects.toMatchObject({ code: 'H2WS_ERR_HANDSHAKE', status: 403 });
    const res = await openTunnel(client, '/forbidden');
    expect(res.status).toBe(403);
    expect(res.headers['x-reason']).toBe('policy');
    expect(await res.body()).toBe('no entry here');
  });

  it('backend refuses the TCP connection → 502', async () => {
    await expect(connect(url('/refused'), { pool })).rejects.toMatchObject({ code: 'H2WS_ERR_HANDSHAKE', status: 502 });
  });

  it('no route at B → 404 at the client', async () => {
    await expect(connect(url('/nothing'), { pool })).rejects.toMatchObject({ code: 'H2WS_ERR_HANDSHAKE', status: 404 });
    expect((await openTunnel(client, '/nothing/deeper')).status).toBe(404);
  });

  it('h2 "prefer" to a plain ws backend falls back to HTTP/1.1 and works; h2 "require" to it → 502', async () => {
    const ws = await connect(url('/prefer-plain'), { pool, protocols: ['chat'] });
    expect(ws.protocol).toBe('chat');
    expect(echo.requests.at(-1)!.url).toBe('/prefer-plain');
    expect(await roundTrip(ws, 'fell back')).toBe('fell back');
    await closeWith(ws);
    await expect(connect(url('/require-plain'), { pool })).rejects.toMatchObject({ code: 'H2WS_ERR_HANDSHAKE', status: 502 });
  });

  it('20 tunnels through A share ONE A→B connection', async () => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => connect(url('/echo'), { pool })));
    expect(sockets.every((ws) => ws.transport === 'h2')).toBe(true);
    await eventuallySample(b, 'h2ws_tunnels_open{route="/echo",transport="h2"}', 20);
    expect(await sample(b, 'h2ws_sessions_open{transport="h2"}')).toBe(1);
    // And the client's 20 sockets share one client→A connection.
    expect(await sample(a, 'h2ws_sessions_open{transport="h2"}')).toBe(2); // this pool's, and the node:http2 test client's
    const replies = await Promise.all(sockets.map((ws, i) => roundTrip(ws, `tunnel ${i}`)));
    expect(replies).toEqual(sockets.map((_, i) => `tunnel ${i}`));
    expect((await Promise.all(sockets.map((ws) => closeWith(ws)))).every((c) => c === 1000)).toBe(true);
    await eventuallySample(b, 'h2ws_tunnels_open{route="/echo",transport="h2"}', 0);
    expect(await sample(b, 'h2ws_sessions_open{transport="h2"}')).toBe(1);
  });

  it('300 more tunnels, 50 at a time, still ride that ONE A→B connection: no per-connection stream budget', async () => {
    const goawaysBefore = await sample(b, 'h2ws_goaways_total{code="NO_ERROR",side="received"}');
    for (let batch = 0; batch < 6; batch++) {
      const sockets = await Promise.all(Array.from({ length: 50 }, () => connect(url('/echo'), { pool })));
      const replies = await Promise.all(sockets.map((ws, i) => roundTrip(ws, `batch ${batch} tunnel ${i}`)));
      expect(replies).toEqual(sockets.map((_, i) => `batch ${batch} tunnel ${i}`));
      expect((await Promise.all(sockets.map((ws) => closeWith(ws)))).every((c) => c === 1000)).toBe(true);
    }
    await eventuallySample(b, 'h2ws_tunnels_open{route="/echo",transport="h2"}', 0);
    expect(await sample(b, 'h2ws_sessions_open{transport="h2"}')).toBe(1);
    // A never retired its connection with a GOAWAY of its own.
    expect(await sample(b, 'h2ws_goaways_total{code="NO_ERROR",side="received"}')).toBe(goawaysBefore);
  });
});
