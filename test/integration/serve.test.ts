/**
 * `serve()` in this process on loopback: config errors, the app fall-through rules, in-process
 * tunnels in hooks and logs, limits, drain, idle timeout, and routing next to a bridged route.
 * Clients are node:http2 (RFC 8441 extended CONNECT) and `ws` (HTTP/1.1 Upgrade).
 */
import { Hono } from 'hono';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ErrorCode, H2wsError, serve, upgradeWebSocket } from '../../mod.ts';
import type { TunnelClosedEvent, TunnelEvent } from '../../src/server/gateway.ts';
import type { GatewayConfig } from '../../src/create-gateway.ts';
import { startEchoBackend } from '../helpers/backends.ts';
import { clientFrame, connectH2, eventually, FrameSink, type H2Client, once, openTunnel } from '../helpers/h2-client.ts';

const H2 = http2.constants;
const echoStreams = async (socket: { readable: ReadableStream; writable: WritableStream }) => {
  await socket.readable.pipeTo(socket.writable);
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Started {
  readonly server: Awaited<ReturnType<typeof serve>>;
  readonly logs: string[];
  readonly tunnels: TunnelEvent[];
  readonly closed: TunnelClosedEvent[];
}

/** Starts a server on 127.0.0.1:0 that records its log lines and hook events; closed after the test. */
async function start(config: Omit<GatewayConfig, 'listen' | 'log' | 'onTunnel' | 'onTunnelClosed'>): Promise<Started> {
  const logs: string[] = [];
  const tunnels: TunnelEvent[] = [];
  const closed: TunnelClosedEvent[] = [];
  const server = await serve({
    listen: '127.0.0.1:0',
    ...config,
    log: (line) => logs.push(line),
    onTunnel: (e) => tunnels.push(e),
    onTunnelClosed: (e) => closed.push(e),
  });
  cleanups.push(() => server.close());
  return { server, logs, tunnels, closed };
}

async function h2(url: string): Promise<H2Client> {
  const client = await connectH2(url);
  cleanups.push(() => client.close());
  return client;
}

/** An RFC 6455 Close frame payload: the code, then the reason. */
function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

/** An open h2 tunnel with its frames parsed. */
async function h2Socket(client: H2Client, path: string): Promise<{ stream: http2.ClientHttp2Stream; sink: FrameSink; status: number | undefined }> {
  const res = await openTunnel(client, path);
  const sink = new FrameSink(false);
  res.stream.on('data', (d: Buffer) => sink.write(d));
  return { stream: res.stream, sink, status: res.status };
}

/** Answers the server's Close (as a client must, RFC 6455 §5.5.1) and ends the stream. */
async function answerClose(stream: http2.ClientHttp2Stream, sink: FrameSink): Promise<{ code: number; reason: string }> {
  await sink.until(() => sink.close !== undefined);
  const { code, reason } = sink.close!;
  stream.end(clientFrame(closePayload(code), 8));
  return { code, reason };
}

type Handshake = { status: number; body: string; headers: Record<string, string | string[] | undefined>; ws?: WebSocket };

/** An HTTP/1.1 Upgrade with `ws`: 101 and the open socket, or the status line's code and the body. */
function h1Handshake(url: string, path: string): Promise<Handshake> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws').replace(/\/$/, '')}${path}`, { perMessageDeflate: false });
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ status: 101, body: '', headers: {}, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
  });
}

/** An extended CONNECT: :status and body (for a refusal), or the reset code. */
async function h2Handshake(client: H2Client, path: string): Promise<Handshake & { rstCode: number | undefined }> {
  const res = await openTunnel(client, path);
  if (res.status === undefined) return { status: 0, body: '', headers: {}, rstCode: res.rstCode };
  const body = res.status === 200 ? '' : await res.body();
  if (res.status === 200) res.stream.close(H2.NGHTTP2_CANCEL);
  return { status: res.status, body, headers: res.headers as Handshake['headers'], rstCode: undefined };
}

/** The server's log records (one JSON object a line when a log function is given). */
function records(logs: readonly string[]): Array<Record<string, unknown>> {
  return logs.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

function wsClosed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

describe('serve(): config errors', () => {
  it('an in-process route prefix that does not start with "/" names the field', async () => {
    const attempt = serve({ listen: '127.0.0.1:0', routes: { chat: echoStreams } });
    await expect(attempt).rejects.toBeInstanceOf(H2wsError);
    await expect(attempt).rejects.toMatchObject({ code: ErrorCode.CONFIG, field: 'routes.chat' });
  });

  it.each([
    ['a plain object', { foo: 1 }],
    ['{ handler } that is not a function', { handler: 'nope' }],
    ['a number', 42],
    ['null', null],
  ])('a route value that is %s names the field', async (_what, value) => {
    const attempt = serve({ listen: '127.0.0.1:0', routes: { '/x': value as never } });
    await expect(attempt).rejects.toMatchObject({ name: 'H2wsError', code: ErrorCode.CONFIG, field: 'routes./x' });
  });

  it('nothing to serve (no route, no backend, no fetch) names routes', async () => {
    const attempt = serve({ listen: '127.0.0.1:0' });
    await expect(attempt).rejects.toBeInstanceOf(H2wsError);
    await expect(attempt).rejects.toMatchObject({ code: ErrorCode.CONFIG, field: 'routes' });
  });

  it('a backend and an in-process "/" both claiming "/" names routes./', async () => {
    const attempt = serve({ listen: '127.0.0.1:0', backend: 'ws://127.0.0.1:9', routes: { '/': echoStreams } });
    await expect(attempt).rejects.toMatchObject({ code: ErrorCode.CONFIG, field: 'routes./' });
  });
});

/** Handshakes the app turns down or fails, the same over both transports. */
describe.each(['h2', 'h1'] as const)('serve(): the app fall-through over %s', (transport) => {
  async function handshake(url: string, path: string): Promise<Handshake & { rstCode?: number | undefined }> {
    return transport === 'h2' ? h2Handshake(await h2(url), path) : h1Handshake(url, path);
  }

  it('the app answers 401 with a body: the client gets 401 and that body', async () => {
    const app = new Hono();
    app.get('/private', (c) => {
      c.header('www-authenticate', 'Bearer realm="h2ws"');
      return c.text('log in first', 401);
    });
    const { server, tunnels } = await start({ fetch: app.fetch });
    const res = await handshake(server.url, '/private');
    expect(res.status).toBe(401);
    expect(res.body).toBe('log in first');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="h2ws"');
    expect(tunnels).toEqual([expect.objectContaining({ transport, path: '/private', route: undefined, outcome: 'rejected', status: 401 })]);
  });

  it('the app answers 200 without upgrading: the client gets 404, never a 2xx that would open a socket', async () => {
    const app = new Hono();
    app.get('/page', (c) => c.text('just a page'));
    const { server, tunnels } = await start({ fetch: app.fetch });
    const res = await handshake(server.url, '/page');
    expect(res.status).toBe(404);
    expect(res.body).toBe('no WebSocket at /page\n');
    expect(tunnels).toEqual([expect.objectContaining({ outcome: 'rejected', status: 404 })]);
  });

  it('the app throws: the client gets 500 and a log line names the path and the error', async () => {
    const { server, logs } = await start({
      fetch: () => {
        throw new Error('kaboom');
      },
    });
    const res = await handshake(server.url, '/boom?x=1');
    expect(res.status).toBe(500);
    // The query is left out of logs: it may carry tokens.
    expect(records(logs)).toContainEqual(expect.objectContaining({ level: 'error', event: 'app_error', path: '/boom', message: 'kaboom' }));
  });

  it('a Hono upgradeWebSocket route opens in-process; its pattern is the route in onTunnel and onTunnelClosed', async () => {
    const app = new Hono();
    const seen: string[] = [];
    app.get(
      '/rooms/:id',
      upgradeWebSocket((c) => ({
        onMessage(event, ws) {
          seen.push(`${c.req.param('id')}:${String(event.data)}`);
          ws.send(`room ${c.req.param('id')} got ${String(event.data)}`);
        },
      })),
    );
    const { server, tunnels, closed } = await start({ fetch: app.fetch });
    let reply: string;
    if (transport === 'h2') {
      const client = await h2(server.url);
      const { stream, sink, status } = await h2Socket(client, '/rooms/7');
      expect(status).toBe(200);
      stream.write(clientFrame('hi'));
      await sink.until(() => sink.messages.length === 1);
      reply = String(sink.messages[0]);
      stream.end(clientFrame(closePayload(1000), 8));
    } else {
      const { ws, status } = await h1Handshake(server.url, '/rooms/7');
      expect(status).toBe(101);
      ws!.send('hi');
      reply = String(await once<Buffer>(ws!, 'message'));
      ws!.close(1000);
    }
    expect(reply).toBe('room 7 got hi');
    expect(seen).toEqual(['7:hi']);
    await eventually(() => closed.length === 1, 5000, 'onTunnelClosed');
    expect(tunnels).toEqual([expect.objectContaining({ transport, path: '/rooms/7', route: '/rooms/:id', outcome: 'ok' })]);
    expect(closed[0]).toMatchObject({ transport, path: '/rooms/7', route: '/rooms/:id', backend: 'in-process', closeCode: 1000 });
  });

  it('a plain GET still reaches the Hono app', async () => {
    const app = new Hono();
    app.get('/health', (c) => c.text(`ok ${new URL(c.req.url).pathname}`));
    const { server } = await start({ fetch: app.fetch });
    if (transport === 'h2') {
      const client = await h2(server.url);
      const req = client.session.request({ ':path': '/health' });
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      const headers = await once<http2.IncomingHttpHeaders>(req, 'response');
      await once(req, 'end');
      expect(headers[':status']).toBe(200);
      expect(body).toBe('ok /health');
    } else {
      const res = await fetch(`${server.url}health`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok /health');
    }
  });
});

describe('serve(): in-process tunnels in hooks and logs', () => {
  it('h2: onTunnel/onTunnelClosed report backend "in-process" with exact bytes and the close code; one log line', async () => {
    const { server, tunnels, closed, logs } = await start({ routes: { '/echo': echoStreams } });
    const client = await h2(server.url);
    const { stream, sink, status } = await h2Socket(client, '/echo?room=1');
    expect(status).toBe(200);
    stream.write(clientFrame('hi'));
    await sink.until(() => sink.messages.includes('hi'));
    stream.end(clientFrame(closePayload(1000), 8));
    await sink.until(() => sink.close !== undefined);
    expect(sink.close).toEqual({ code: 1000, reason: '' });
    await eventually(() => closed.length === 1, 5000, 'onTunnelClosed');
    expect(tunnels).toEqual([expect.objectContaining({ transport: 'h2', path: '/echo?room=1', route: '/echo', backend: 'in-process', outcome: 'ok' })]);
    // Up: masked "hi" (2 + 4 + 2) and masked Close 1000 (2 + 4 + 2). Down: "hi" (2 + 2) and Close 1000 (2 + 2).
    expect(closed[0]).toMatchObject({ transport: 'h2', path: '/echo?room=1', route: '/echo', backend: 'in-process', bytesToBackend: 16, bytesToClient: 8, closeCode: 1000, aborted: undefined, closedByGateway: false });
    const tunnelRecords = records(logs).filter((r) => r.event === 'tunnel');
    expect(tunnelRecords).toEqual([
      expect.objectContaining({ route: '/echo', path: '/echo', transport: 'h2', backend: 'in-process', outcome: 'ok', end: 'clean', close_code: 1000, bytes_to_backend: 16, bytes_to_client: 8 }),
    ]);
    expect(server.openTunnels).toBe(0);
  });

  it('h1: the same report, counting only the WebSocket bytes after the upgrade', async () => {
    const { server, tunnels, closed } = await start({ routes: { '/echo': echoStreams } });
    const { ws, status } = await h1Handshake(server.url, '/echo');
    expect(status).toBe(101);
    ws!.send('hi');
    expect(String(await once<Buffer>(ws!, 'message'))).toBe('hi');
    const done = wsClosed(ws!);
    ws!.close(1000);
    expect((await done).code).toBe(1000);
    await eventually(() => closed.length === 1, 5000, 'onTunnelClosed');
    expect(tunnels).toEqual([expect.objectContaining({ transport: 'h1', path: '/echo', route: '/echo', backend: 'in-process', outcome: 'ok' })]);
    expect(closed[0]).toMatchObject({ transport: 'h1', backend: 'in-process', bytesToBackend: 16, bytesToClient: 8, closeCode: 1000, aborted: undefined });
  });

  it('a client that resets its stream is reported as aborted by the client (1006)', async () => {
    const { server, closed } = await start({ routes: { '/echo': echoStreams } });
    const client = await h2(server.url);
    const { stream, status } = await h2Socket(client, '/echo');
    expect(status).toBe(200);
    stream.close(H2.NGHTTP2_CANCEL);
    await eventually(() => closed.length === 1, 5000, 'onTunnelClosed');
    expect(closed[0]).toMatchObject({ backend: 'in-process', closeCode: 1006, aborted: 'client', closedByGateway: false });
  });

  describe.each([
    ['throws', () => {
      throw new Error('handler broke');
    }],
    ['rejects', async () => {
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('handler broke');
    }],
  ] as const)('a Web Streams handler that %s', (_how, handler) => {
    it('h2: the client gets Close 1011 and a log line is written', async () => {
      const { server, logs } = await start({ routes: { '/bad': handler } });
      const client = await h2(server.url);
      const { stream, sink, status } = await h2Socket(client, '/bad?q=secret');
      expect(status).toBe(200);
      expect(await answerClose(stream, sink)).toEqual({ code: 1011, reason: 'internal error' });
      await eventually(() => records(logs).some((r) => r.event === 'handler_error'), 5000, 'the log line');
      expect(records(logs)).toContainEqual(expect.objectContaining({ level: 'error', event: 'handler_error', route: '/bad', path: '/bad', message: 'handler broke', close_code: 1011 }));
    });

    it('h1: the client gets Close 1011', async () => {
      const { server, logs } = await start({ routes: { '/bad': handler } });
      const { ws, status } = await h1Handshake(server.url, '/bad');
      expect(status).toBe(101);
      expect(await wsClosed(ws!)).toEqual({ code: 1011, reason: 'internal error' });
      expect(records(logs)).toContainEqual(expect.objectContaining({ event: 'handler_error', path: '/bad', message: 'handler broke', close_code: 1011 }));
    });
  });
});

describe('serve(): limits, drain and idle timeout for in-process tunnels', () => {
  it('limits.maxTunnels counts in-process tunnels: REFUSED_STREAM on h2, 503 on h1, and room again after a close', async () => {
    const app = new Hono();
    app.get('/hono', upgradeWebSocket(() => ({})));
    const { server, tunnels } = await start({ fetch: app.fetch, routes: { '/echo': echoStreams }, limits: { maxTunnels: 1 } });
    const client = await h2(server.url);
    const first = await h2Socket(client, '/echo');
    expect(first.status).toBe(200);
    expect(server.openTunnels).toBe(1);

    const second = await h2Handshake(client, '/echo');
    expect(second.status).toBe(0);
    expect(second.rstCode).toBe(H2.NGHTTP2_REFUSED_STREAM);
    // An app-claimed handshake is refused too, before the app is asked.
    expect((await h2Handshake(client, '/hono')).rstCode).toBe(H2.NGHTTP2_REFUSED_STREAM);
    const h1 = await h1Handshake(server.url, '/echo');
    expect(h1.status).toBe(503);
    expect(h1.headers['retry-after']).toBe('1');
    expect(tunnels.filter((t) => t.outcome === 'refused').map((t) => [t.transport, t.error?.code])).toEqual([
      ['h2', ErrorCode.TUNNEL_LIMIT],
      ['h2', ErrorCode.TUNNEL_LIMIT],
      ['h1', ErrorCode.TUNNEL_LIMIT],
    ]);

    first.stream.end(clientFrame(closePayload(1000), 8));
    await eventually(() => server.openTunnels === 0, 5000, 'the first tunnel to close');
    const again = await h2Socket(client, '/hono');
    expect(again.status).toBe(200);
    expect(server.openTunnels).toBe(1);
    again.stream.end(clientFrame(closePayload(1000), 8));
  });

  it('close() drains: in-process sockets on h2 and h1 get Close 1001 after drainMs, and close() resolves', async () => {
    const { server, closed } = await start({ routes: { '/echo': echoStreams }, timeouts: { drainMs: 200 } });
    const client = await h2(server.url);
    const tunnel = await h2Socket(client, '/echo');
    expect(tunnel.status).toBe(200);
    const { ws, status } = await h1Handshake(server.url, '/echo');
    expect(status).toBe(101);
    expect(server.openTunnels).toBe(2);
    const h1Closed = wsClosed(ws!);

    const closing = server.close();
    expect(server.draining).toBe(true);
    // The sockets keep working during the drain.
    tunnel.stream.write(clientFrame('still here'));
    await tunnel.sink.until(() => tunnel.sink.messages.includes('still here'));
    expect(await answerClose(tunnel.stream, tunnel.sink)).toEqual({ code: 1001, reason: 'going away' });
    expect(await h1Closed).toEqual({ code: 1001, reason: 'going away' });
    await closing;
    expect(server.openTunnels).toBe(0);
    expect(closed.map((c) => [c.transport, c.closeCode, c.closedByGateway])).toEqual(
      expect.arrayContaining([
        ['h2', 1001, true],
        ['h1', 1001, true],
      ]),
    );
    expect(closed).toHaveLength(2);
  });

  it('timeouts.idleMs closes an idle in-process socket with 1001', async () => {
    const { server, closed } = await start({ routes: { '/echo': echoStreams }, timeouts: { idleMs: 200 } });
    const { ws, status } = await h1Handshake(server.url, '/echo');
    expect(status).toBe(101);
    expect(await wsClosed(ws!)).toEqual({ code: 1001, reason: 'idle timeout' });
    await eventually(() => closed.length === 1, 5000, 'onTunnelClosed');
    expect(closed[0]).toMatchObject({ backend: 'in-process', closeCode: 1001, closedByGateway: true });

    const client = await h2(server.url);
    const tunnel = await h2Socket(client, '/echo');
    expect(tunnel.status).toBe(200);
    expect(await answerClose(tunnel.stream, tunnel.sink)).toEqual({ code: 1001, reason: 'idle timeout' });
  });
});

describe('serve(): bridged and in-process routes share one longest-prefix table', () => {
  it.each(['h2', 'h1'] as const)('%s: "/a" goes to the ws backend, "/a/b" stays in-process', async (transport) => {
    const echo = await startEchoBackend();
    cleanups.push(() => echo.close());
    const local = (socket: { readable: ReadableStream<string | Uint8Array>; writable: WritableStream<string> }, request: Request) =>
      socket.readable.pipeTo(
        new WritableStream({
          async write(message) {
            const writer = socket.writable.getWriter();
            await writer.write(`local ${new URL(request.url).pathname}: ${String(message)}`);
            writer.releaseLock();
          },
        }),
      );
    const { server, tunnels } = await start({ routes: { '/a': echo.url, '/a/b': local as never } });

    const exchange = async (path: string): Promise<string> => {
      if (transport === 'h2') {
        const client = await h2(server.url);
        const { stream, sink, status } = await h2Socket(client, path);
        expect(status).toBe(200);
        stream.write(clientFrame('ping'));
        await sink.until(() => sink.messages.length === 1);
        stream.end(clientFrame(closePayload(1000), 8));
        return String(sink.messages[0]);
      }
      const { ws, status } = await h1Handshake(server.url, path);
      expect(status).toBe(101);
      ws!.send('ping');
      const reply = String(await once<Buffer>(ws!, 'message'));
      ws!.close(1000);
      return reply;
    };

    expect(await exchange('/a/x')).toBe('ping');
    expect(await exchange('/a/b/c')).toBe('local /a/b/c: ping');
    expect(await exchange('/a/bc')).toBe('ping');
    // A backend URL without a path gets the client's target unchanged.
    expect(echo.requests.map((r) => r.url)).toEqual(['/a/x', '/a/bc']);
    expect(tunnels.map((t) => [t.path, t.route, t.outcome])).toEqual([
      ['/a/x', '/a', 'ok'],
      ['/a/b/c', '/a/b', 'ok'],
      ['/a/bc', '/a', 'ok'],
    ]);
  });
});
