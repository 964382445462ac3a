/**
 * What an operator sees, with the gateway spawned under Node, Deno and Bun in turn: the
 * Prometheus samples at /metrics, the JSON log records on stderr (one `tunnel` record per
 * tunnel), /healthz and /readyz on the main or a separate admin listener, the log flags, and
 * the status page's own WebSocket over RFC 8441. A scripted sequence of tunnels (ok, refused,
 * 502, 504, a backend's 403, no route, resets either way) is replayed, and every counter it
 * moves is checked to the exact value computed from the frames that were sent.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type EchoBackend, type RawBackend, refusedPort, startEchoBackend, startRawBackend } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, runCli, startGateway } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, eventually, FrameSink, type H2Client, once, openTunnel, serverFrame } from '../helpers/h2-client.ts';
import { h2ErrorName } from '../../src/metrics/gateway-metrics.ts';
import { type LogRecord, logRecords, tunnelRecords } from '../helpers/logs.ts';
import { FrameType, frame, goaway, RawH2 } from '../helpers/raw-h2.ts';

const H2 = http2.constants;

let echo: EchoBackend;
let raw: RawBackend;
let hang: RawBackend;
let forbidden: RawBackend;
let refused: number;

beforeAll(async () => {
  echo = await startEchoBackend();
  raw = await startRawBackend(() => {});
  hang = await startRawBackend(() => {});
  forbidden = await startRawBackend((c) => c.socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nforbidden'));
  refused = await refusedPort();
});

afterAll(async () => {
  await Promise.all([echo, raw, hang, forbidden].map((b) => b?.close()));
});

/** A plain GET on a fresh HTTP/1.1 connection (Connection: close), so scrapes never hold a session open. */
function get(url: string): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
  });
}

/** Scrapes until `ready` holds (counters settle a moment after the client's side is done), then returns the last scrape. */
async function scrapeUntil(url: string, ready: (text: string) => boolean, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { body } = await get(url);
    if (ready(body) || Date.now() > deadline) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sample lines of one metric (its `_bucket`/`_sum`/`_count` series included when `name` names them). */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

/** The samples of a metric whose value is not 0, sorted: what a run has moved. */
function moved(text: string, name: string): string[] {
  return samples(text, name).filter((l) => !l.endsWith(' 0')).sort();
}

/** A node:http2 client over a socket of our own, so it can vanish without a GOAWAY. */
async function connectDroppable(url: string, port: number): Promise<H2Client & { drop(): void }> {
  const socket = net.connect(port, '127.0.0.1');
  const session = http2.connect(url, { createConnection: () => socket });
  session.on('error', () => {});
  const settings = await once<http2.Settings>(session, 'remoteSettings');
  return { session, settings, close: () => new Promise((resolve) => session.close(() => resolve())), drop: () => socket.destroy() };
}

/** An extended CONNECT's header fields (RFC 8441 §4), for the frame-level client. */
function connectFields(path: string): Array<[string, string]> {
  return [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', path], [':authority', 'gateway.test'], ['sec-websocket-version', '13']];
}

/** A masked Close frame from the client (RFC 6455 §5.5.1). */
function clientClose(code: number): Buffer {
  return clientFrame(Buffer.from([code >> 8, code & 0xff]), 0x8);
}

function ended(stream: http2.ClientHttp2Stream): Promise<void> {
  return new Promise((resolve) => (stream.closed ? resolve() : stream.once('close', () => resolve())));
}

/** An h1 WebSocket through the gateway: one echo round trip, then a 1000 close. */
async function h1Echo(gw: GatewayProcess, path: string, text: string): Promise<void> {
  const ws = new WebSocket(gw.url.replace('http', 'ws') + path.slice(1));
  ws.on('error', () => {});
  await once(ws, 'open');
  const reply = once<Buffer>(ws, 'message');
  ws.send(text);
  expect(String(await reply)).toBe(text);
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  ws.close(1000);
  expect(await closed).toBe(1000);
}

/** An h2 tunnel to the echo backend: one echo round trip, then Close 1000 and END_STREAM both ways. */
async function h2Echo(client: H2Client, path: string, text: string): Promise<void> {
  const res = await openTunnel(client, path);
  expect(res.status).toBe(200);
  const sink = new FrameSink(false);
  res.stream.on('data', (d: Buffer) => sink.write(d));
  res.stream.write(clientFrame(text));
  await sink.until(() => sink.messages.length === 1);
  expect(sink.messages).toEqual([text]);
  res.stream.write(clientClose(1000));
  await sink.until(() => sink.close !== undefined);
  expect(sink.close).toEqual({ code: 1000, reason: '' });
  res.stream.end();
  await ended(res.stream);
  expect(res.stream.rstCode).toBe(H2.NGHTTP2_NO_ERROR);
}

/** Resolves once the gateway has written `n` tunnel records: the previous tunnel is over, its slot free. */
function records(gw: GatewayProcess, n: number): Promise<void> {
  return eventually(() => tunnelRecords(gw.stderr()).length === n, 5000, `${n} tunnel records; stderr:\n${gw.stderr()}`);
}

describe.each(RUNTIMES)('observability under %s', (runtime) => {
  let scripted: GatewayProcess;
  let separate: GatewayProcess;
  let quiet: GatewayProcess;
  let silent: GatewayProcess;
  let pretty: GatewayProcess;
  let status: GatewayProcess;
  let wire: GatewayProcess;
  const started: GatewayProcess[] = [];

  beforeAll(async () => {
    const routes = { '/echo': echo.url, '/raw': raw.url, '/hang': hang.url, '/forbidden': forbidden.url, '/refused': `ws://127.0.0.1:${refused}` };
    const listen = ['--listen', '127.0.0.1:0'];
    const starting = await Promise.allSettled([
      startGateway(runtime, listen, { routes, limits: { maxTunnels: 1 }, timeouts: { backendUpgradeMs: 300, drainMs: 2000 } }),
      startGateway(runtime, [...listen, '--admin-listen', '127.0.0.1:0', '--route', `/echo=${echo.url}`], { timeouts: { drainMs: 4000 } }),
      startGateway(runtime, [...listen, '--no-metrics', '--log-level', 'warn'], { routes, timeouts: { drainMs: 2000 } }),
      startGateway(runtime, [...listen, '--log-level', 'silent'], { routes, timeouts: { drainMs: 2000 } }),
      startGateway(runtime, [...listen, '--log-format', 'pretty'], { routes, timeouts: { drainMs: 2000 } }),
      startGateway(runtime, listen, { routes, timeouts: { drainMs: 2000 } }),
      startGateway(runtime, listen, { routes, timeouts: { drainMs: 2000, pingIntervalMs: 300 } }),
    ]);
    for (const s of starting) if (s.status === 'fulfilled') started.push(s.value);
    const failed = starting.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    [scripted, separate, quiet, silent, pretty, status, wire] = started as [GatewayProcess, GatewayProcess, GatewayProcess, GatewayProcess, GatewayProcess, GatewayProcess, GatewayProcess];
  });

  afterAll(async () => {
    await Promise.all(started.map((gw) => gw.stop()));
  });

  it('a scripted sequence of tunnels: every metric it moves, exactly, and one log record per tunnel', async () => {
    const gw = scripted;
    const metricsUrl = `${gw.url}metrics`;

    // The frames, and so the bytes each way (RFC 6455 §5.2: 2-byte header, 4-byte mask from the client).
    const H2_TEXT = 'hello over h2';
    const H1_TEXT = 'hello over h1';
    expect(clientFrame(H2_TEXT).length + clientClose(1000).length).toBe(27); // 2+4+13, 2+4+2
    expect(serverFrame(H2_TEXT).length + 4).toBe(19); //                       2+13, and the echoed Close 1000: 2+2
    const held = { up: clientFrame('held open'), down: serverFrame('still held') }; // 15 and 12 bytes
    const doomed = { up: clientFrame('doomed'), down: serverFrame('bye') }; //          12 and 5 bytes
    expect([held.up.length, held.down.length, doomed.up.length, doomed.down.length]).toEqual([15, 12, 12, 5]);

    // Before any traffic: the configured routes are seeded at zero, nothing has moved.
    const fresh = await get(metricsUrl);
    expect(fresh.status).toBe(200);
    expect(fresh.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(samples(fresh.body, 'h2ws_tunnels_total')).toHaveLength(5 * 2 * 9);
    expect(moved(fresh.body, 'h2ws_tunnels_total')).toEqual([]);
    expect(samples(fresh.body, 'h2ws_tunnel_duration_seconds_count')).toEqual([]);

    const client = await connectDroppable(gw.url, gw.port);

    // 1. An ok h2 tunnel, closed cleanly (Close 1000 both ways, END_STREAM and FIN).
    await h2Echo(client, '/echo', H2_TEXT);
    await records(gw, 1);

    // 2. An ok HTTP/1.1 tunnel, the same exchange.
    await h1Echo(gw, '/echo', H1_TEXT);
    await records(gw, 2);

    // 3. A tunnel held open (by a second, frame-level client) fills the limit (maxTunnels 1):
    // the next handshake is refused before any work.
    const rawClient = await RawH2.connect(gw.port);
    const next = raw.next();
    rawClient.headers(1, connectFields('/raw'));
    const heldConn = await next;
    heldConn.accept();
    const heldHead = await rawClient.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === 1);
    expect(heldHead.flags & 0x1).toBe(0); // 200, no END_STREAM
    const before = raw.connections.length;
    const over = await openTunnel(client, '/echo');
    expect(over.status).toBeUndefined();
    expect(over.rstCode).toBe(H2.NGHTTP2_REFUSED_STREAM);
    expect(raw.connections.length).toBe(before);
    await records(gw, 3);

    // 4. The held tunnel carries a frame each way, then the client resets it: RST_STREAM CANCEL
    // alone (node:http2's stream.close(code) sends END_STREAM first, which is a FIN, not an abort).
    rawClient.data(1, held.up);
    await eventually(() => heldConn.received().equals(held.up), 5000, 'held frame at the backend');
    heldConn.socket.write(held.down);
    const heldData = () => Buffer.concat(rawClient.frames.filter((f) => f.type === FrameType.DATA && f.streamId === 1).map((f) => f.payload));
    await eventually(() => heldData().equals(held.down), 5000, 'held frame at the client');
    rawClient.rst(1, H2.NGHTTP2_CANCEL);
    expect(await heldConn.ended).toBe('reset');
    await records(gw, 4);
    // h2ws never answers RST_STREAM with RST_STREAM (RFC 9113 §5.4.2).
    expect(rawClient.frames.filter((f) => f.type === FrameType.RST_STREAM)).toEqual([]);
    // This client says goodbye with exactly one GOAWAY(NO_ERROR) (RFC 9113 §6.8).
    const goodbye = Buffer.alloc(8); // last stream id 0, NO_ERROR
    rawClient.write(frame(FrameType.GOAWAY, 0, 0, goodbye));
    await scrapeUntil(metricsUrl, (t) => moved(t, 'h2ws_goaways_total').length > 0);
    rawClient.destroy();

    // 5. 502: nothing listens on the backend's port.
    expect((await openTunnel(client, '/refused')).status).toBe(502);
    await records(gw, 5);

    // 6. 504: the backend accepts TCP but never answers the upgrade (backendUpgradeMs 300).
    expect((await openTunnel(client, '/hang')).status).toBe(504);
    await records(gw, 6);

    // 7. The backend answers 403: that status to the client.
    const denied = await openTunnel(client, '/forbidden');
    expect(denied.status).toBe(403);
    expect(await denied.body()).toBe('forbidden');
    await records(gw, 7);

    // 8. No route: 404.
    expect((await openTunnel(client, '/nowhere')).status).toBe(404);
    await records(gw, 8);

    // 9. The backend resets mid-tunnel: RST_STREAM CONNECT_ERROR to the client.
    const next2 = raw.next();
    const doomedOpen = openTunnel(client, '/raw');
    const doomedConn = await next2;
    doomedConn.accept();
    const doomedRes = await doomedOpen;
    expect(doomedRes.status).toBe(200);
    const doomedSink = new FrameSink(false);
    doomedRes.stream.on('data', (d: Buffer) => doomedSink.write(d));
    doomedRes.stream.write(doomed.up);
    await eventually(() => doomedConn.received().equals(doomed.up), 5000, 'doomed frame at the backend');
    doomedConn.socket.write(doomed.down);
    await doomedSink.until(() => doomedSink.messages.length === 1);
    doomedConn.socket.resetAndDestroy();
    await ended(doomedRes.stream);
    expect(doomedRes.stream.rstCode).toBe(H2.NGHTTP2_CONNECT_ERROR);
    await records(gw, 9);

    // The node:http2 client drops its connection without a GOAWAY: its close() would send two
    // GOAWAY frames (one from close(), one as the session is destroyed), of which runtimes
    // report one or both, depending on timing.
    client.drop();

    // Counters settle: no tunnel and no h2 session left; the only connection is this scrape's own.
    const text = await scrapeUntil(metricsUrl, (t) => samples(t, 'h2ws_sessions_open').includes('h2ws_sessions_open{transport="h2"} 0'));

    expect(moved(text, 'h2ws_tunnels_total')).toEqual(
      [
        'h2ws_tunnels_total{route="/echo",transport="h2",outcome="ok"} 1',
        // Refused over the limit, but the path matched /echo: counted under its route.
        'h2ws_tunnels_total{route="/echo",transport="h2",outcome="refused"} 1',
        'h2ws_tunnels_total{route="/echo",transport="h1",outcome="ok"} 1',
        'h2ws_tunnels_total{route="/raw",transport="h2",outcome="ok"} 2',
        'h2ws_tunnels_total{route="/hang",transport="h2",outcome="backend_timeout"} 1',
        'h2ws_tunnels_total{route="/forbidden",transport="h2",outcome="backend_status"} 1',
        'h2ws_tunnels_total{route="/refused",transport="h2",outcome="backend_unreachable"} 1',
        // No route: under route="none".
        'h2ws_tunnels_total{route="none",transport="h2",outcome="rejected"} 1',
      ].sort(),
    );
    expect(moved(text, 'h2ws_tunnels_open')).toEqual([]);
    expect(samples(text, 'h2ws_tunnels_open')).toHaveLength(5 * 2);
    expect(moved(text, 'h2ws_tunnel_bytes_total')).toEqual(
      [
        'h2ws_tunnel_bytes_total{route="/echo",direction="to_backend"} 54', // 27 over h2 + 27 over h1
        'h2ws_tunnel_bytes_total{route="/echo",direction="to_client"} 38', //  19 + 19
        'h2ws_tunnel_bytes_total{route="/raw",direction="to_backend"} 27', //   15 held + 12 doomed
        'h2ws_tunnel_bytes_total{route="/raw",direction="to_client"} 17', //    12 + 5
      ].sort(),
    );
    expect(samples(text, 'h2ws_tunnel_duration_seconds_count').sort()).toEqual(
      ['h2ws_tunnel_duration_seconds_count{route="/echo"} 2', 'h2ws_tunnel_duration_seconds_count{route="/raw"} 2'].sort(),
    );
    expect(samples(text, 'h2ws_tunnel_duration_seconds_bucket').filter((l) => l.includes('le="+Inf"')).sort()).toEqual(
      ['h2ws_tunnel_duration_seconds_bucket{route="/echo",le="+Inf"} 2', 'h2ws_tunnel_duration_seconds_bucket{route="/raw",le="+Inf"} 2'].sort(),
    );
    expect.soft(moved(text, 'h2ws_resets_total'), 'every RST_STREAM on the wire, by the side that sent it').toEqual(
      [
        'h2ws_resets_total{code="CANCEL",side="received"} 1',
        'h2ws_resets_total{code="CONNECT_ERROR",side="sent"} 1',
        'h2ws_resets_total{code="REFUSED_STREAM",side="sent"} 1',
      ].sort(),
    );
    // The one GOAWAY the frame-level client sent.
    expect(moved(text, 'h2ws_goaways_total').filter((l) => l.includes('side="received"'))).toEqual(['h2ws_goaways_total{code="NO_ERROR",side="received"} 1']);
    expect(samples(text, 'h2ws_sessions_open')).toEqual(['h2ws_sessions_open{transport="h2"} 0', 'h2ws_sessions_open{transport="h1"} 1']);

    // The log: exactly one tunnel record per tunnel, in order, and they agree with the metrics.
    const tunnels = tunnelRecords(gw.stderr());
    const common = { client: '127.0.0.1' };
    expect.soft(tunnels.map(({ time: _t, duration_ms: _d, ...r }) => r)).toEqual([
      { level: 'info', event: 'tunnel', route: '/echo', path: '/echo', transport: 'h2', ...common, backend: echo.url, outcome: 'ok', end: 'clean', bytes_to_backend: 27, bytes_to_client: 19 },
      { level: 'info', event: 'tunnel', route: '/echo', path: '/echo', transport: 'h1', ...common, backend: echo.url, outcome: 'ok', end: 'clean', bytes_to_backend: 27, bytes_to_client: 19 },
      { level: 'info', event: 'tunnel', route: '/echo', path: '/echo', transport: 'h2', ...common, outcome: 'refused', reset_code: 'REFUSED_STREAM', message: 'tunnel limit reached' },
      { level: 'info', event: 'tunnel', route: '/raw', path: '/raw', transport: 'h2', ...common, backend: raw.url, outcome: 'ok', end: 'reset by client', reset_code: 'CANCEL', bytes_to_backend: 15, bytes_to_client: 12 },
      { level: 'warn', event: 'tunnel', route: '/refused', path: '/refused', transport: 'h2', ...common, outcome: 'backend_unreachable', status: 502, message: expect.stringMatching(/ECONNREFUSED/) },
      { level: 'warn', event: 'tunnel', route: '/hang', path: '/hang', transport: 'h2', ...common, outcome: 'backend_timeout', status: 504, message: expect.any(String) },
      { level: 'warn', event: 'tunnel', route: '/forbidden', path: '/forbidden', transport: 'h2', ...common, outcome: 'backend_status', status: 403, message: expect.any(String) },
      { level: 'info', event: 'tunnel', route: null, path: '/nowhere', transport: 'h2', ...common, outcome: 'rejected', status: 404 },
      { level: 'info', event: 'tunnel', route: '/raw', path: '/raw', transport: 'h2', ...common, backend: raw.url, outcome: 'ok', end: 'reset by backend', reset_code: 'CONNECT_ERROR', bytes_to_backend: 12, bytes_to_client: 5 },
    ]);
    // Opened tunnels carry a whole-millisecond duration; the histogram's _sum is exactly theirs.
    const durations = tunnels.filter((r) => r.outcome === 'ok').map((r) => r.duration_ms as number);
    expect(durations.every((d) => Number.isInteger(d) && d >= 0)).toBe(true);
    const sums = Object.fromEntries(samples(text, 'h2ws_tunnel_duration_seconds_sum').map((l) => [/route="([^"]+)"/.exec(l)![1]!, Number(l.split(' ')[1])]));
    expect(sums['/echo']).toBeCloseTo((durations[0]! + durations[1]!) / 1000, 9);
    expect(sums['/raw']).toBeCloseTo((durations[2]! + durations[3]!) / 1000, 9);

    // /healthz and /readyz on the main listener; the application's 404 elsewhere.
    expect(await get(`${gw.url}healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(`${gw.url}readyz`)).toMatchObject({ status: 200, body: 'ready\n' });
    expect((await get(`${gw.url}status`)).status).toBe(200);
    expect((await get(`${gw.url}elsewhere`)).status).toBe(404);

    // SIGTERM: signal, draining, stopped, exit 0; `listening` was the first record.
    expect(await gw.stop()).toBe(0);
    const events = logRecords(gw.stderr()).map((r) => r.event);
    expect(events[0]).toBe('listening');
    expect(events.slice(-3)).toEqual(['signal', 'draining', 'stopped']);
    expect(events.filter((e) => e !== 'tunnel')).toEqual(['listening', 'signal', 'draining', 'stopped']);
    const [listening] = logRecords(gw.stderr());
    expect(listening).toMatchObject({ level: 'info', url: gw.url, admin: gw.url, runtime: expect.stringContaining(runtime) });
    expect(logRecords(gw.stderr()).find((r) => r.event === 'draining')).toMatchObject({ open_tunnels: 0, drain_ms: 2000 });
  });

  it('/metrics ends with the standard process metrics, read from the gateway\'s own process', async () => {
    const text = (await get(`${status.url}metrics`)).body;
    const value = (name: string) => Number(samples(text, name)[0]?.split(' ')[1]);
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value('process_cpu_seconds_total')).toBeCloseTo(value('process_cpu_user_seconds_total') + value('process_cpu_system_seconds_total'), 6);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(1 << 20);
    expect(value('process_start_time_seconds')).toBeLessThanOrEqual(Date.now() / 1000);
    expect(value('process_start_time_seconds')).toBeGreaterThan(Date.now() / 1000 - 600);
    expect(value('process_open_fds')).toBeGreaterThan(3);
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(value('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(value('nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0);
    expect(text.indexOf('# TYPE h2ws_tunnels_open')).toBeLessThan(text.indexOf('# TYPE process_cpu_user_seconds_total counter'));
  });

  it('--admin-listen: the endpoints move there, the main listener serves the app; /readyz is 503 "draining" during a drain', async () => {
    const gw = separate;
    const listening = logRecords(gw.stderr()).find((r) => r.event === 'listening') as LogRecord & { admin: string; url: string };
    expect(listening.url).toBe(gw.url);
    const admin = listening.admin;
    expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(admin).not.toBe(gw.url);

    expect(await get(`${admin}healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(`${admin}readyz`)).toMatchObject({ status: 200, body: 'ready\n' });
    expect((await get(`${admin}metrics`)).status).toBe(200);
    // On the main listener these paths are the application's (the default app: 404).
    for (const p of ['metrics', 'healthz', 'readyz', 'status']) expect((await get(`${gw.url}${p}`)).status, `/${p} on the main listener`).toBe(404);

    // A tunnel held open keeps the drain going (drainMs 4000).
    const client = await connectH2(gw.url);
    const res = await openTunnel(client, '/echo');
    expect(res.status).toBe(200);
    const sink = new FrameSink(false);
    res.stream.on('data', (d: Buffer) => sink.write(d));
    res.stream.write(clientFrame('during the drain'));
    await sink.until(() => sink.messages.length === 1);
    const goaway = once<number>(client.session, 'goaway');
    gw.proc.kill('SIGTERM');
    expect(await goaway).toBe(H2.NGHTTP2_NO_ERROR);
    await eventually(() => logRecords(gw.stderr()).some((r) => r.event === 'draining'), 5000, 'the draining record');
    expect(await get(`${admin}readyz`)).toMatchObject({ status: 503, body: 'draining\n' });
    expect(await get(`${admin}healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    // node:http2 answers a GOAWAY(NO_ERROR) by closing its own side: a GOAWAY(NO_ERROR) back.
    const during = await scrapeUntil(`${admin}metrics`, (t) => moved(t, 'h2ws_goaways_total').length === 2);
    expect(samples(during, 'h2ws_tunnels_open')).toContain('h2ws_tunnels_open{route="/echo",transport="h2"} 1');
    expect(samples(during, 'h2ws_goaways_total')).toEqual(['h2ws_goaways_total{code="NO_ERROR",side="sent"} 1', 'h2ws_goaways_total{code="NO_ERROR",side="received"} 1']);

    // Ending the tunnel ends the drain well before its deadline.
    res.stream.end(clientClose(1000));
    expect(await gw.exited).toBe(0);
    await client.close();
    const log = logRecords(gw.stderr());
    expect(log.map((r) => r.event)).toEqual(['listening', 'signal', 'draining', 'tunnel', 'stopped']);
    expect(log[2]).toMatchObject({ open_tunnels: 1, drain_ms: 4000 });
    expect(log[3]).toMatchObject({ route: '/echo', transport: 'h2', outcome: 'ok', end: 'clean', bytes_to_backend: clientFrame('during the drain').length + clientClose(1000).length });
  });

  it('--no-metrics: /metrics is 404; --log-level warn: no record for an ok tunnel, one for a 502', async () => {
    const gw = quiet;
    expect((await get(`${gw.url}metrics`)).status).toBe(404);
    expect((await get(`${gw.url}healthz`)).status).toBe(200);
    const client = await connectH2(gw.url);
    await h2Echo(client, '/echo', 'not worth a record');
    expect((await openTunnel(client, '/refused')).status).toBe(502);
    await client.close();
    await eventually(() => logRecords(gw.stderr()).length > 0, 5000, 'a record');
    expect(await gw.stop()).toBe(0);
    // Nothing below warn: no listening, no ok tunnel, no signal/draining/stopped.
    expect(logRecords(gw.stderr())).toEqual([
      { time: expect.any(String), level: 'warn', event: 'tunnel', route: '/refused', path: '/refused', transport: 'h2', client: '127.0.0.1', outcome: 'backend_unreachable', status: 502, message: expect.any(String) },
    ]);
  });

  it('--log-level silent: no records at all', async () => {
    const gw = silent;
    const client = await connectH2(gw.url);
    await h2Echo(client, '/echo', 'silence');
    expect((await openTunnel(client, '/refused')).status).toBe(502);
    await client.close();
    expect(await gw.stop()).toBe(0);
    expect(logRecords(gw.stderr())).toEqual([]);
    expect(gw.stderr()).toBe('');
  });

  it('--log-format pretty: readable key=value lines, no JSON', async () => {
    const gw = pretty;
    const client = await connectH2(gw.url);
    await h2Echo(client, '/echo', 'pretty please');
    await client.close();
    // The tunnel's record comes once the backend's side has closed too, which can be a moment
    // after the client's session is gone.
    await eventually(() => / tunnel /.test(gw.stderr()), 5000, 'the tunnel record');
    expect(await gw.stop()).toBe(0);
    const lines = gw.stderr().split('\n').filter((l) => l !== '');
    expect(logRecords(gw.stderr())).toEqual([]);
    expect(lines.map((l) => /^\d\d:\d\d:\d\d\.\d{3} (\w+) +(\w+)/.exec(l)?.slice(1, 3).join(' '))).toEqual([
      'INFO listening', 'INFO tunnel', 'INFO signal', 'INFO draining', 'INFO stopped',
    ]);
    expect(lines[0]).toContain(`url=${gw.url}`);
    expect(lines[1]).toMatch(/ route=\/echo path=\/echo transport=h2 client=127\.0\.0\.1 backend=ws:\/\/127\.0\.0\.1:\d+ outcome=ok end=clean bytes_to_backend=27 bytes_to_client=19 duration_ms=\d+$/);
  });

  it('a bad --log-level exits 2 naming the flag, no stack trace', async () => {
    const r = await runCli(runtime, ['--listen', '127.0.0.1:0', '--log-level', 'loud']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--log-level');
    expect(r.stderr).toContain('"loud"');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('the status WebSocket over h2 (RFC 8441): a JSON snapshot listing the open tunnels; not counted as a tunnel', async () => {
    const gw = status;
    const client = await connectH2(gw.url);
    const held = await openTunnel(client, '/echo');
    expect(held.status).toBe(200);
    held.stream.resume();
    const socket = await openTunnel(client, '/status/ws');
    expect(socket.status).toBe(200);
    const sink = new FrameSink(false);
    socket.stream.on('data', (d: Buffer) => sink.write(d));
    await sink.until(() => sink.messages.length >= 1);
    const snapshot = JSON.parse(sink.messages[0] as string) as Record<string, unknown>;
    expect(snapshot).toMatchObject({
      ready: true,
      openTotal: 1,
      open: [{ route: '/echo', transport: 'h2', count: 1 }],
      sessions: { h2: 1, h1: 0 },
      bytes: { toBackend: 0, toClient: 0 },
      recent: [],
    });
    expect(Date.parse(snapshot.time as string)).not.toBeNaN();
    // The next snapshot (a second later) still does not count the status socket itself.
    await sink.until(() => sink.messages.length >= 2, 3000);
    expect(JSON.parse(sink.messages[1] as string)).toMatchObject({ openTotal: 1, open: [{ route: '/echo', transport: 'h2', count: 1 }] });

    socket.stream.end(clientClose(1000));
    await sink.until(() => sink.close !== undefined);
    expect(sink.close).toEqual({ code: 1000, reason: '' });
    await ended(socket.stream);
    held.stream.end(clientClose(1000));
    await ended(held.stream);
    await client.close();
    await eventually(() => tunnelRecords(gw.stderr()).length === 1, 5000, 'the /echo record');
    const text = (await get(`${gw.url}metrics`)).body;
    expect(moved(text, 'h2ws_tunnels_total')).toEqual(['h2ws_tunnels_total{route="/echo",transport="h2",outcome="ok"} 1']);
    expect(samples(text, 'h2ws_tunnel_duration_seconds_count')).toEqual(['h2ws_tunnel_duration_seconds_count{route="/echo"} 1']);
    expect(tunnelRecords(gw.stderr()).map((r) => r.path)).toEqual(['/echo']);
  });

  it('GOAWAY: a client\'s is counted as received; every one h2ws sends is counted as sent, connection errors included', async () => {
    const gw = wire;
    // A client says goodbye with one GOAWAY(NO_ERROR) and no stream open: h2ws closes the connection.
    const polite = await RawH2.connect(gw.port);
    polite.write(frame(FrameType.GOAWAY, 0, 0, Buffer.alloc(8)));
    await polite.waitClosed(3000);
    // DATA on stream 0 is a connection error (RFC 9113 §6.1): GOAWAY PROTOCOL_ERROR, then the connection closes.
    const rude = await RawH2.connect(gw.port);
    rude.data(0, Buffer.from('not on stream 0'));
    await rude.waitFor((f) => f.type === FrameType.GOAWAY);
    await rude.waitClosed(3000);
    const fromServer = [...polite.frames, ...rude.frames].filter((f) => f.type === FrameType.GOAWAY).map((f) => h2ErrorName(goaway(f).code));
    expect(fromServer).toEqual(['PROTOCOL_ERROR']);

    const text = await scrapeUntil(`${gw.url}metrics`, (t) => samples(t, 'h2ws_sessions_open').includes('h2ws_sessions_open{transport="h2"} 0'));
    expect(samples(text, 'h2ws_sessions_open')).toEqual(['h2ws_sessions_open{transport="h2"} 0', 'h2ws_sessions_open{transport="h1"} 1']);
    // h2ws writes every GOAWAY itself (its own HTTP/2 engine), so each is counted.
    expect(moved(text, 'h2ws_goaways_total').sort(), `GOAWAY frames the server wrote: ${fromServer.join(', ')}`).toEqual([
      'h2ws_goaways_total{code="NO_ERROR",side="received"} 1',
      'h2ws_goaways_total{code="PROTOCOL_ERROR",side="sent"} 1',
    ]);
  });
});
