/**
 * h2ws in front of an existing app (docs/http-proxy.md): plain requests from HTTP/2 and
 * HTTP/1.1 clients go to the HTTP upstream while WebSocket handshakes on the same path go to
 * the ws backend, under Node, Deno and Bun. What the upstream receives (hop-by-hop fields
 * removed, the WebSocket path's forwarding fields, Host), what the client receives
 * (redirects, every Set-Cookie, a gzip body byte for byte), a server-sent-events stream, and
 * 502/504 when the upstream is down or slow.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoBackend, refusedPort, startEchoBackend } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, eventually, FrameSink, type H2Client, openTunnel } from '../helpers/h2-client.ts';
import { h1Request, h2Request, json, type PlainResponse } from '../helpers/http-clients.ts';
import { GZIP_BODY, type HttpUpstream, startHttpUpstream } from '../helpers/http-upstream.ts';
import { logRecords } from '../helpers/logs.ts';

const RESPONSE_MS = 1500;

type Echoed = { method: string; url: string; headers: Record<string, string> };

let upstream: HttpUpstream;
let echo: EchoBackend;
let down: number;
beforeAll(async () => {
  upstream = await startHttpUpstream();
  echo = await startEchoBackend();
  down = await refusedPort();
});
afterAll(async () => {
  await upstream?.close();
  await echo?.close();
});

describe.each(RUNTIMES)('HTTP reverse proxy under %s', (runtime) => {
  let gw: GatewayProcess;
  let client: H2Client;
  const authority = () => `127.0.0.1:${gw.port}`;
  const h2 = (path: string, init: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {}) => h2Request(client.session, { path, ...init });
  const h1 = (path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) => h1Request(gw.url, { path, ...init });

  beforeAll(async () => {
    gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', echo.url, '--http-backend', upstream.url], {
      routes: {
        '/down': `http://127.0.0.1:${down}`,
        '/rewritten': { http: `${upstream.url}/base`, rewriteHost: true },
      },
      timeouts: { upstreamResponseMs: RESPONSE_MS, drainMs: 1000 },
    });
    client = await connectH2(gw.url);
  });
  afterAll(async () => {
    await client?.close();
    expect(await gw?.stop()).toBe(0);
  });

  it('one path, both kinds: a WebSocket handshake goes to the ws backend, a GET to the HTTP upstream', async () => {
    const page = await h2('/app?x=1');
    expect(page.status).toBe(200);
    expect(json<Echoed>(page)).toMatchObject({ method: 'GET', url: '/app?x=1' });

    const before = echo.requests.length;
    const tunnel = await openTunnel(client, '/app');
    expect(tunnel.status).toBe(200);
    const sink = new FrameSink(false);
    tunnel.stream.on('data', (d: Buffer) => sink.write(d));
    tunnel.stream.write(clientFrame('through the same path'));
    await sink.until(() => sink.messages.length === 1);
    expect(sink.messages).toEqual(['through the same path']);
    expect(echo.requests.slice(before).map((r) => r.url)).toEqual(['/app']);
    tunnel.stream.close();
  });

  it.each(['h2', 'h1'] as const)('request fields over %s: hop-by-hop ones removed, forwarding fields as on the WebSocket path, Host kept', async (transport) => {
    const sent = {
      'x-forwarded-for': '203.0.113.9',
      forwarded: 'for=203.0.113.9',
      'x-real-ip': '203.0.113.9',
      'x-app-token': 't1',
      ...(transport === 'h1' ? { connection: 'keep-alive, X-Hop', 'x-hop': 'drop me', 'keep-alive': 'timeout=9', te: 'trailers' } : { te: 'trailers' }),
    };
    const response = transport === 'h2' ? await h2('/fields', { headers: sent }) : await h1('/fields', { headers: sent });
    expect(response.status).toBe(200);
    const seen = json<Echoed>(response).headers;
    expect(seen['x-app-token']).toBe('t1');
    for (const name of ['x-hop', 'keep-alive', 'te', 'x-real-ip']) expect(seen[name], name).toBeUndefined();
    // The client is not a trusted proxy: its claims are replaced by what h2ws saw.
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen.forwarded).toBe('for=127.0.0.1;proto=http');
    expect(seen.via).toBe(transport === 'h2' ? '2 h2ws' : '1.1 h2ws');
    expect(seen.host).toBe(authority());
    // The upstream connection's own persistence field, not the client's.
    expect(seen.connection).toBe('keep-alive');
  });

  it('response fields: hop-by-hop ones and those named in Connection are removed on both transports', async () => {
    for (const response of [await h2('/fields'), await h1('/fields')]) {
      expect(response.headers['x-app']).toBe('yes');
      expect(response.headers['x-internal']).toBeUndefined();
      // The upstream's "timeout=77" is its own connection's; h2ws's HTTP/1.1 side may send its own.
      expect(response.headers['keep-alive']).not.toBe('timeout=77');
    }
  });

  it('with rewriteHost the upstream gets its own host and the path under its base, and X-Forwarded-Host', async () => {
    const seen = json<Echoed>(await h2('/rewritten/page?q=2'));
    expect(seen.url).toBe('/base/page?q=2');
    expect(seen.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(seen.headers['x-forwarded-host']).toBe(authority());
  });

  it.each(['h2', 'h1'] as const)('redirects and every Set-Cookie pass through untouched over %s', async (transport) => {
    const response: PlainResponse = transport === 'h2' ? await h2('/redirect') : await h1('/redirect');
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/elsewhere?from=redirect');
    expect(response.headers['set-cookie']).toEqual(['session=abc; Path=/; HttpOnly', 'theme=dark, blue; Max-Age=60']);
  });

  it('a gzip body arrives byte for byte with its Content-Encoding', async () => {
    const response = await h2('/gzip', { headers: { 'accept-encoding': 'gzip' } });
    expect(response.headers['content-encoding']).toBe('gzip');
    expect(response.body.equals(GZIP_BODY)).toBe(true);
  });

  it('a POST body reaches the upstream and the answer comes back, on both transports', async () => {
    const body = 'name=h2ws&'.repeat(5000);
    for (const response of [await h2('/form', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }), await h1('/form', { method: 'POST', body })]) {
      expect(json<Echoed>(response)).toMatchObject({ method: 'POST', url: '/form' });
    }
    const uploaded = json<{ bytes: number }>(await h2('/upload', { method: 'POST', body }));
    expect(uploaded.bytes).toBe(body.length);
  });

  it('a GET that announces a body it is not forwarded with does not announce it upstream', async () => {
    const response = await h1('/get-with-body', { headers: { 'content-length': '5' }, body: 'hello' });
    expect(response.status).toBe(200);
    expect(json<Echoed>(response).headers['content-length']).toBeUndefined();
  });

  it('keeps upstream connections alive: sequential requests reuse one', async () => {
    await h2('/warm');
    const before = upstream.connections();
    for (let i = 0; i < 5; i++) expect((await h2(`/reuse/${i}`)).status).toBe(200);
    expect(upstream.connections() - before).toBe(0);
  });

  it('a server-sent-events stream stays open and delivers events; closing it reaches the upstream', async () => {
    const stream = client.session.request({ ':path': '/sse', accept: 'text/event-stream' });
    const headers = await new Promise<Record<string, unknown>>((resolve) => stream.once('response', resolve));
    expect(headers[':status']).toBe(200);
    expect(headers['content-type']).toBe('text/event-stream');
    let text = '';
    let ended = false;
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (text += d));
    stream.on('end', () => (ended = true));
    // Longer than the upstream response timeout: a started response is never cut by it.
    await eventually(() => (text.match(/^data: /gm) ?? []).length >= 20, 10_000, '20 events');
    expect(text).toContain('data: event 0\n\n');
    expect(text).toContain('data: event 19\n\n');
    expect(ended).toBe(false);
    const closedBefore = upstream.sseClosed.length;
    stream.close();
    await eventually(() => upstream.sseClosed.length > closedBefore, 5000, 'the upstream to see the client go');
  });

  it('upstream down: 502 on both transports, logged with the cause', async () => {
    for (const response of [await h2('/down/x'), await h1('/down/x')]) {
      expect(response.status).toBe(502);
      expect(response.body.toString()).toMatch(/ECONNREFUSED/);
    }
    await eventually(() => logRecords(gw.stderr()).some((r) => r.event === 'upstream_error' && r.status === 502 && r.code === 'H2WS_ERR_BACKEND_UNREACHABLE' && r.path === '/down/x'), 5000, 'upstream_error record');
  });

  it('upstream slow: 504 once upstreamResponseMs has passed', async () => {
    const started = Date.now();
    const response = await h2('/slow');
    expect(response.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(RESPONSE_MS - 100);
    expect((await h1('/slow')).status).toBe(504);
  });

  it('a path that cannot be normalized safely is 400 and never reaches the upstream', async () => {
    const before = upstream.requests.length;
    expect((await h2('/a/%2e%2e/b')).status).toBe(400);
    expect((await h2('/x%2Fy')).status).toBe(400);
    expect(upstream.requests.length).toBe(before);
    // A normalizable one is sent normalized: what is routed is what is sent.
    expect(json<Echoed>(await h2('/a/./b//c/../d')).url).toBe('/a/b/d');
  });
});

describe.each(RUNTIMES)('graceful shutdown with a proxied response in flight under %s', (runtime) => {
  it('SIGTERM lets a download that is still arriving finish, then h2ws exits 0', async () => {
    const gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--http-backend', upstream.url], { timeouts: { drainMs: 10_000 } });
    const client = await connectH2(gw.url);
    try {
      const size = 4 * 1024 * 1024;
      // The upstream stops for 1.5 s after the first 256 KiB: SIGTERM arrives during that pause.
      const paused = upstream.hold(256 * 1024, 1500);
      const download = h2Request(client.session, { path: `/download?bytes=${size}&drain=${runtime}` });
      await paused;
      const exited = gw.stop();
      const response = await download;
      expect(response.status).toBe(200);
      expect(response.body.length).toBe(size);
      expect(await exited).toBe(0);
    } finally {
      await client.close();
      await gw.stop();
    }
  });
});

/**
 * An upstream that closes each keep-alive connection as the second request arrives on it, the
 * race a pooled proxy meets when an idle connection times out upstream just as it is reused.
 */
async function startClosingUpstream(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let served = 0;
    let head = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      head += d;
      if (!head.includes('\r\n\r\n')) return;
      head = '';
      if (served++ > 0) return void socket.destroy();
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\nKeep-Alive: timeout=30\r\n\r\nok\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.each(RUNTIMES)('a pooled connection the upstream closes under %s', (runtime) => {
  it('a GET that fails on a reused connection is tried once more on a fresh one', async () => {
    const closing = await startClosingUpstream();
    const gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--http-backend', closing.url], { timeouts: { drainMs: 1000 } });
    const client = await connectH2(gw.url);
    try {
      for (let i = 0; i < 4; i++) {
        const response = await h2Request(client.session, { path: `/again/${i}` });
        expect([response.status, response.body.toString()], `request ${i}`).toEqual([200, 'ok\n']);
      }
      // Each request after the first met a closing connection and went out again on a new one.
      expect(closing.connections()).toBe(4);
    } finally {
      await client.close();
      expect(await gw.stop()).toBe(0);
      await closing.close();
    }
  });
});
