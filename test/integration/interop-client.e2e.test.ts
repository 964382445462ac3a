/**
 * h2ws's HTTP/2 client (the H2SessionPool, `connect`, and the gateway's RFC 8441 backend
 * path) against HTTP/2 servers it did not write: `node:http2` (Node's bundled nghttp2) in this
 * process, and nghttpx (Debian's nghttp2-proxy) as an RFC 8441 front (RFC 8441 §3: it
 * advertises SETTINGS_ENABLE_CONNECT_PROTOCOL) with a `ws` echo server behind it.
 *
 * `connect` runs inside Node, Deno and Bun in turn (test/fixtures/client-runner.ts); the
 * pool's own cases run in this process; the gateway is spawned under each runtime.
 *
 * A missing nghttpx fails its tests with the package to install (.ci/run installs it with
 * apt-get); nothing is skipped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, mkdtempSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, type H2Stream, H2SessionPool, type TunnelOpen } from '../../mod.ts';
import { type EchoBackend, startEchoBackend } from '../helpers/backends.ts';
import { localhostCertificate } from '../helpers/certs.ts';
import { binary, type Message, type Opened, Runner, text } from '../helpers/client-runner.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { connectH2, eventually, once, openTunnel } from '../helpers/h2-client.ts';

const H2 = http2.constants;

// ---------------------------------------------------------------------------------------------
// nghttpx

/** The absolute path of nghttpx, or an error that says which package to install. */
function nghttpxPath(): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const file = path.join(dir, 'nghttpx');
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  throw new Error('nghttpx is not installed: this interop suite needs Debian\'s nghttp2-proxy package. Install it with `apt-get install nghttp2-proxy` (.ci/run does this on a fresh machine).');
}

/** A port nothing listens on now (nghttpx cannot bind port 0 and say which it got). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Nghttpx {
  /** h2c (prior knowledge) frontend. */
  readonly port: number;
  /** TLS frontend (ALPN h2). */
  readonly tlsPort: number;
  log(): string;
  stop(): Promise<void>;
}

/**
 * nghttpx in its default (reverse proxy) mode: an h2c and a TLS frontend on 127.0.0.1, every
 * request to `backendPort` over HTTP/1.1, where an extended CONNECT becomes an Upgrade.
 */
async function startNghttpx(backendPort: number, tls: { certFile: string; keyFile: string }): Promise<Nghttpx> {
  const bin = nghttpxPath();
  let lastLog = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const [port, tlsPort] = [await freePort(), await freePort()];
    if (port === tlsPort) continue;
    const args = [
      `--frontend=127.0.0.1,${port};no-tls`,
      `--frontend=127.0.0.1,${tlsPort}`,
      `--backend=127.0.0.1,${backendPort}`,
      // No system configuration, no OCSP fetcher, one worker, logs on stderr.
      '--conf=/dev/null',
      '--no-ocsp',
      '--workers=1',
      '--log-level=NOTICE',
      '--errorlog-file=/dev/stderr',
      tls.keyFile,
      tls.certFile,
    ];
    const proc: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const collect = (d: string) => (log += d);
    proc.stdout!.setEncoding('utf8').on('data', collect);
    proc.stderr!.setEncoding('utf8').on('data', collect);
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (log.includes(`Listening on 127.0.0.1:${port}`) && log.includes(`Listening on 127.0.0.1:${tlsPort}`) && /worker process.*spawned/i.test(log)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      proc.stdout!.on('data', check);
      proc.stderr!.on('data', check);
      void exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    lastLog = log;
    if (!ready) {
      proc.kill('SIGKILL');
      await exited;
      continue; // a port taken in between: try others
    }
    return {
      port,
      tlsPort,
      log: () => log,
      async stop() {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      },
    };
  }
  throw new Error(`nghttpx did not start:\n${lastLog}`);
}

// ---------------------------------------------------------------------------------------------
// node:http2 servers

/** A server-side `ws` WebSocket on a node:http2 stream (RFC 8441 §5: the stream is the socket). */
function serverWebSocket(stream: http2.ServerHttp2Stream): WebSocket {
  const ws = new WebSocket(null as never, undefined, { autoPong: true } as never);
  (ws as unknown as { setSocket(socket: unknown, head: Buffer, options: object): void }).setSocket(stream, Buffer.alloc(0), {
    allowSynchronousEvents: true,
    maxPayload: 64 * 1024 * 1024,
    skipUTF8Validation: false,
  });
  ws.on('error', () => {});
  return ws;
}

interface NodeServer {
  readonly url: string;
  readonly port: number;
  readonly sessions: http2.Http2Session[];
  readonly streams: Array<{ stream: http2.ServerHttp2Stream; headers: http2.IncomingHttpHeaders; session: http2.Http2Session }>;
  /** GOAWAY frames the server received, per session. */
  readonly goaways: Array<{ session: http2.Http2Session; code: number }>;
  close(): Promise<void>;
}

/**
 * A node:http2 server (h2c, or TLS with ALPN h2) with `settings`. Paths decide the answer:
 *   /ws/…      200, then a WebSocket echo (ws on the stream)
 *   /raw/…     200, then every DATA byte echoed; END_STREAM answered with END_STREAM
 *   /status    403 with a body
 *   /reset     200, then RST_STREAM(INTERNAL_ERROR) once the first DATA arrives
 *   /complete  200, a body and END_STREAM, then RST_STREAM(NO_ERROR) (RFC 9113 §8.1)
 *   /hang      never answered
 */
async function startNodeServer(settings: http2.Settings, tls?: { cert: string; key: string }): Promise<NodeServer> {
  const server = tls === undefined ? http2.createServer({ settings }) : http2.createSecureServer({ settings, cert: tls.cert, key: tls.key });
  const sessions: http2.Http2Session[] = [];
  const streams: NodeServer['streams'] = [];
  const goaways: NodeServer['goaways'] = [];
  server.on('session', (session) => {
    sessions.push(session);
    session.on('error', () => {});
    session.on('goaway', (code: number) => goaways.push({ session, code }));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    streams.push({ stream, headers, session: stream.session! });
    const p = String(headers[':path']);
    if (p.startsWith('/ws/')) {
      stream.respond({ ':status': 200 });
      const ws = serverWebSocket(stream);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    } else if (p.startsWith('/raw/')) {
      stream.respond({ ':status': 200 });
      stream.pipe(stream);
    } else if (p === '/status') {
      stream.respond({ ':status': 403, 'content-type': 'text/plain', 'x-reason': 'policy' });
      stream.end('not for you');
    } else if (p === '/complete') {
      stream.respond({ ':status': 200 });
      stream.end('the whole answer', () => stream.close(H2.NGHTTP2_NO_ERROR));
    } else if (p === '/reset') {
      stream.respond({ ':status': 200 });
      stream.once('data', () => stream.close(H2.NGHTTP2_INTERNAL_ERROR));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    sessions,
    streams,
    goaways,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Fixtures

let certPem: string;
let keyPem: string;
let echo: EchoBackend;
let ng: Nghttpx;
let nodeH2c: NodeServer; // SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, h2c
let nodeTls: NodeServer; // the same over TLS
let nodePlain: NodeServer; // h2c without the setting
let http1Tls: { url: string; close(): Promise<void> }; // HTTPS that offers no h2 in ALPN

beforeAll(async () => {
  const pems = await localhostCertificate();
  certPem = pems.cert;
  keyPem = pems.private;
  const dir = mkdtempSync(path.join(tmpdir(), 'h2ws-interop-client-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  writeFileSync(certFile, certPem);
  writeFileSync(keyFile, keyPem);
  echo = await startEchoBackend();
  [ng, nodeH2c, nodeTls, nodePlain] = await Promise.all([
    startNghttpx(echo.port, { certFile, keyFile }),
    startNodeServer({ enableConnectProtocol: true }),
    startNodeServer({ enableConnectProtocol: true }, { cert: certPem, key: keyPem }),
    startNodeServer({}),
  ]);
  const h1 = https.createServer({ cert: certPem, key: keyPem }, (_req, res) => res.end('HTTP/1.1 only\n'));
  await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', () => resolve()));
  http1Tls = {
    url: `https://127.0.0.1:${(h1.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        h1.closeAllConnections();
        h1.close(() => resolve());
      }),
  };
});

afterAll(async () => {
  await Promise.all([ng?.stop(), nodeH2c?.close(), nodeTls?.close(), nodePlain?.close(), http1Tls?.close(), echo?.close()]);
});

const asWs = (url: string) => url.replace(/^http/, 'ws');

/** The close code the echo backend's socket for `pathname` (already open) ends with. */
function backendClose(pathname: string): Promise<number> {
  const i = echo.requests.findIndex((r) => r.url === pathname);
  if (i === -1) throw new Error(`no backend socket for ${pathname}`);
  const socket = echo.sockets[i]!;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the backend socket for ${pathname} did not close`)), 5000);
    socket.once('close', (code: number) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The pool itself, in this process, against node:http2.

/** Collects a stream's DATA until END_STREAM and its close. */
function drain(stream: H2Stream): Promise<{ data: Buffer; ended: boolean; code: number | undefined; by: string | undefined }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let ended = false;
    stream.onData = (chunk) => void chunks.push(Buffer.from(chunk));
    stream.onEnd = () => (ended = true);
    stream.onClose = (close) => resolve({ data: Buffer.concat(chunks), ended, code: close.code, by: close.by });
    // Closed (and told) before these callbacks were set: nothing more will come.
    const told = stream.closeInfo;
    if (told !== undefined) resolve({ data: Buffer.alloc(0), ended: false, code: told.code, by: told.by });
    else stream.resume();
  });
}

/** Writes `data` in 16 KiB pieces, waiting for onDrain whenever write() says so, then END_STREAM. */
async function writeAll(stream: H2Stream, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; offset += 16_384) {
    if (!stream.write(data.subarray(offset, offset + 16_384))) await new Promise<void>((resolve) => (stream.onDrain = resolve));
  }
  stream.end();
}

function opened(result: TunnelOpen): Extract<TunnelOpen, { kind: 'open' }> {
  if (result.kind !== 'open') throw new Error(`expected an open tunnel, got ${JSON.stringify(result.kind === 'status' ? { kind: result.kind, status: result.status } : result)}`);
  return result;
}

describe('H2SessionPool against node:http2 (in this process)', () => {
  it('opens an extended CONNECT (RFC 8441 §4) and moves 4 MiB each way under flow control; END_STREAM both ways closes cleanly', async () => {
    const pool = new H2SessionPool();
    try {
      const tunnel = opened(await pool.openTunnel(nodeH2c.url, '/raw/big', `127.0.0.1:${nodeH2c.port}`, { 'sec-websocket-version': '13' }));
      expect(tunnel.headers[':status']).toBe('200');
      const seen = nodeH2c.streams.find((s) => s.headers[':path'] === '/raw/big')!;
      expect(seen.headers).toMatchObject({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':authority': `127.0.0.1:${nodeH2c.port}`, 'sec-websocket-version': '13' });
      // The client never accepts pushes (RFC 9113 §8.4).
      expect(seen.session.remoteSettings.enablePush).toBe(false);
      const payload = randomBytes(4 * 1024 * 1024);
      const back = drain(tunnel.stream);
      await writeAll(tunnel.stream, payload);
      const result = await back;
      expect(result.ended).toBe(true);
      expect(result.code).toBeUndefined();
      expect(result.data.equals(payload)).toBe(true);
    } finally {
      pool.destroy();
    }
  });

  it('over TLS: ALPN h2, SNI for a host name, the certificate trusted as `ca`', async () => {
    const pool = new H2SessionPool({ tls: { ca: certPem } });
    try {
      const url = nodeTls.url.replace('127.0.0.1', 'localhost');
      const tunnel = opened(await pool.openTunnel(url, '/raw/tls', 'localhost', {}));
      const seen = nodeTls.streams.find((s) => s.headers[':path'] === '/raw/tls')!;
      expect(seen.headers[':scheme']).toBe('https');
      expect((seen.session.socket as unknown as { servername?: string }).servername).toBe('localhost');
      expect((seen.session.socket as unknown as { alpnProtocol?: string }).alpnProtocol).toBe('h2');
      const back = drain(tunnel.stream);
      tunnel.stream.end(Buffer.from('over tls'));
      expect((await back).data.toString()).toBe('over tls');
    } finally {
      pool.destroy();
    }
  });

  it('a non-2xx answer is "status", with its headers and its body still on the stream', async () => {
    const pool = new H2SessionPool();
    try {
      const result = await pool.openTunnel(nodeH2c.url, '/status', 'x', {});
      if (result.kind !== 'status') throw new Error(`expected status, got ${result.kind}`);
      expect(result.status).toBe(403);
      expect(result.headers['x-reason']).toBe('policy');
      expect((await drain(result.stream)).data.toString()).toBe('not for you');
    } finally {
      pool.destroy();
    }
  });

  it('the server’s RST_STREAM reaches the stream with its code, as the peer’s', async () => {
    const pool = new H2SessionPool();
    try {
      const tunnel = opened(await pool.openTunnel(nodeH2c.url, '/reset', 'x', {}));
      const closed = drain(tunnel.stream);
      tunnel.stream.write(Buffer.from('trigger'));
      const result = await closed;
      expect(result).toMatchObject({ code: H2.NGHTTP2_INTERNAL_ERROR, by: 'peer' });
    } finally {
      pool.destroy();
    }
  });

  it('RST_STREAM(NO_ERROR) after a complete response keeps the response, even one held back unread (RFC 9113 §8.1)', async () => {
    const pool = new H2SessionPool();
    try {
      // openTunnel hands the stream over paused: the body and END_STREAM wait in it.
      const tunnel = opened(await pool.openTunnel(nodeH2c.url, '/complete', 'x', {}));
      const seen = nodeH2c.streams.find((s) => s.headers[':path'] === '/complete')!;
      await eventually(() => seen.stream.closed, 5000, 'the server’s RST_STREAM');
      await new Promise((r) => setTimeout(r, 50));
      const result = await drain(tunnel.stream);
      expect(result).toMatchObject({ ended: true, code: H2.NGHTTP2_NO_ERROR, by: 'peer' });
      expect(result.data.toString()).toBe('the whole answer');
    } finally {
      pool.destroy();
    }
  });

  it('an abort before the answer is RST_STREAM(CANCEL) (RFC 9113 §8.7)', async () => {
    const pool = new H2SessionPool();
    try {
      const controller = new AbortController();
      const pending = pool.openTunnel(nodeH2c.url, '/hang', 'x', {}, controller.signal);
      await eventually(() => nodeH2c.streams.some((s) => s.headers[':path'] === '/hang'), 5000, 'the request at the server');
      controller.abort();
      expect(await pending).toEqual({ kind: 'error', message: 'aborted' });
      const seen = nodeH2c.streams.find((s) => s.headers[':path'] === '/hang')!;
      await eventually(() => seen.stream.closed, 5000, 'the stream closed at the server');
      expect(seen.stream.rstCode).toBe(H2.NGHTTP2_CANCEL);
    } finally {
      pool.destroy();
    }
  });

  it('close() sends GOAWAY: the open stream finishes, then the connection closes', async () => {
    const pool = new H2SessionPool();
    const tunnel = opened(await pool.openTunnel(nodeH2c.url, '/raw/goaway', 'x', {}));
    const seen = nodeH2c.streams.find((s) => s.headers[':path'] === '/raw/goaway')!;
    pool.close();
    await eventually(() => nodeH2c.goaways.some((g) => g.session === seen.session), 5000, 'GOAWAY at the server');
    expect(nodeH2c.goaways.find((g) => g.session === seen.session)!.code).toBe(H2.NGHTTP2_NO_ERROR);
    expect(await pool.openTunnel(nodeH2c.url, '/raw/after', 'x', {})).toEqual({ kind: 'error', message: 'the client pool is closed' });
    const back = drain(tunnel.stream);
    tunnel.stream.end(Buffer.from('still carried'));
    expect((await back).data.toString()).toBe('still carried');
    await eventually(() => seen.session.closed || seen.session.destroyed, 5000, 'the connection closed at the server');
    await eventually(() => pool.sessions === 0, 5000, 'the connection closed at the pool');
  });

  it('a server without SETTINGS_ENABLE_CONNECT_PROTOCOL is "no-rfc8441" (RFC 8441 §3), learnt once', async () => {
    const pool = new H2SessionPool();
    try {
      const before = nodePlain.sessions.length;
      const first = await pool.openTunnel(nodePlain.url, '/ws/x', 'x', {});
      expect(first).toMatchObject({ kind: 'no-rfc8441' });
      expect((first as { reason: string }).reason).toMatch(/SETTINGS_ENABLE_CONNECT_PROTOCOL/);
      expect(await pool.openTunnel(nodePlain.url, '/ws/y', 'x', {})).toEqual(first);
      expect(nodePlain.sessions.length - before).toBe(1);
      expect(nodePlain.streams).toHaveLength(0);
      // The connection is given up with a GOAWAY of ours.
      await eventually(() => nodePlain.sessions.at(-1)!.closed || nodePlain.sessions.at(-1)!.destroyed, 5000, 'the connection closed');
    } finally {
      pool.destroy();
    }
  });

  it('TLS where ALPN does not select h2 (an HTTP/1.1 server) is "no-rfc8441"', async () => {
    const pool = new H2SessionPool({ tls: { ca: certPem } });
    try {
      const result = await pool.openTunnel(http1Tls.url, '/x', 'x', {});
      expect(result).toMatchObject({ kind: 'no-rfc8441' });
      expect((result as { reason: string }).reason).toMatch(/ALPN/);
    } finally {
      pool.destroy();
    }
  });

  it('nghttpx (h2c): the pool opens a tunnel through it to the ws backend (101 there, 200 here)', async () => {
    const pool = new H2SessionPool();
    try {
      const result = await pool.openTunnel(`http://127.0.0.1:${ng.port}`, '/pool-through-nghttpx', `127.0.0.1:${ng.port}`, { 'sec-websocket-version': '13' });
      const tunnel = opened(result);
      expect(tunnel.headers[':status']).toBe('200');
      expect(tunnel.headers.via).toMatch(/nghttpx/);
      await eventually(() => echo.requests.some((r) => r.url === '/pool-through-nghttpx'), 5000, 'the upgrade at the backend');
      const done = drain(tunnel.stream);
      tunnel.stream.reset(H2.NGHTTP2_CANCEL);
      expect(await done).toMatchObject({ code: H2.NGHTTP2_CANCEL, by: 'local' });
    } finally {
      pool.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// connect() inside each runtime.

describe.each(RUNTIMES)('connect() under %s', (runtime) => {
  let runner: Runner;

  beforeAll(async () => {
    runner = await Runner.start(runtime);
  });

  afterAll(async () => {
    await runner?.stop();
  });

  describe('against node:http2', () => {
    it('h2c with SETTINGS_ENABLE_CONNECT_PROTOCOL: rides h2, echoes text and 1 MiB of binary byte-exact', async () => {
      const ws = await runner.call<Opened>('connect', { url: asWs(`${nodeH2c.url}/ws/${runtime}`), pool: `node-h2c-${runtime}` });
      expect(ws.transport).toBe('h2');
      const sent: Message[] = [text('hello node:http2 ✓'), binary(randomBytes(1024 * 1024)), text('')];
      expect(await runner.call('echo', { handles: [ws.handle], messages: sent })).toEqual([sent]);
      expect(await runner.call('close', { handles: [ws.handle], code: 1000, reason: 'done' })).toEqual([{ code: 1000, reason: 'done' }]);
    });

    it('TLS with ALPN h2, the certificate as `ca`', async () => {
      const ws = await runner.call<Opened>('connect', { url: asWs(`${nodeTls.url}/ws/tls-${runtime}`), options: { ca: certPem } });
      expect(ws.transport).toBe('h2');
      expect(await runner.call('echo', { handles: [ws.handle], messages: [text('tls')] })).toEqual([[text('tls')]]);
      await runner.call('close', { handles: [ws.handle], code: 1000 });
    });

    it('without SETTINGS_ENABLE_CONNECT_PROTOCOL: transport "h2" rejects, and no stream was opened', async () => {
      const error = await runner.failure('connect', { url: asWs(`${nodePlain.url}/ws/${runtime}`), options: { transport: 'h2' } });
      expect(error.code).toBe('H2WS_ERR_HANDSHAKE');
      expect(error.message).toMatch(/RFC 8441/);
      expect(nodePlain.streams).toHaveLength(0);
    });
  });

  describe('against nghttpx (RFC 8441 front, ws echo behind it)', () => {
    it('ws://127.0.0.1:PORT/echo rides h2 and echoes 100 messages', async () => {
      const ws = await runner.call<Opened>('connect', { url: `ws://127.0.0.1:${ng.port}/echo`, pool: `nghttpx-${runtime}` });
      expect(ws.transport).toBe('h2');
      const sent = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? text(`message ${i} ✓`) : binary(randomBytes(i * 37))));
      expect(await runner.call('echo', { handles: [ws.handle], messages: sent })).toEqual([sent]);
      const req = echo.requests.at(-1)!;
      expect(req.url).toBe('/echo');
      // nghttpx got the socket over HTTP/2 and upgraded to the backend over HTTP/1.1.
      expect(req.headers.via).toMatch(/^2 nghttpx/);
      expect(await runner.call('close', { handles: [ws.handle], code: 1000 })).toEqual([{ code: 1000, reason: '' }]);
    });

    it('a subprotocol is negotiated through it (RFC 6455 §4.1 as RFC 8441 §5 keeps it)', async () => {
      const ws = await runner.call<Opened>('connect', { url: `ws://127.0.0.1:${ng.port}/echo`, pool: `nghttpx-${runtime}`, options: { protocols: ['chat', 'other'] } });
      expect(ws).toMatchObject({ transport: 'h2', protocol: 'chat' });
      await runner.call('close', { handles: [ws.handle], code: 1000 });
    });

    it('20 sockets share one connection to it', async () => {
      const pool = `nghttpx-many-${runtime}`;
      const opened = await runner.call<{ handles: number[]; transports: Record<string, number>; errors: string[] }>('connectMany', { url: `ws://127.0.0.1:${ng.port}/echo`, count: 20, pool });
      expect(opened).toMatchObject({ transports: { h2: 20 }, errors: [] });
      expect(await runner.call('sessions', { pool })).toBe(1);
      const back = await runner.call<Message[][]>('echo', { handles: opened.handles, messages: [text('together')] });
      expect(back).toEqual(opened.handles.map(() => [text('together')]));
      await runner.call('close', { handles: opened.handles, code: 1000 });
    });

    it('wss:// to its TLS frontend (ALPN h2)', async () => {
      const ws = await runner.call<Opened>('connect', { url: `wss://127.0.0.1:${ng.tlsPort}/echo`, options: { ca: certPem } });
      expect(ws.transport).toBe('h2');
      expect(await runner.call('echo', { handles: [ws.handle], messages: [text('tls through nghttpx')] })).toEqual([[text('tls through nghttpx')]]);
      await runner.call('close', { handles: [ws.handle], code: 1000 });
    });

    it('terminate() is RST_STREAM(CANCEL): nghttpx drops its backend connection (close 1006 there)', async () => {
      const path = `/echo/terminate-${runtime}`;
      const ws = await runner.call<Opened>('connect', { url: `ws://127.0.0.1:${ng.port}${path}`, pool: `nghttpx-${runtime}` });
      expect(await runner.call('echo', { handles: [ws.handle], messages: [text('about to vanish')] })).toEqual([[text('about to vanish')]]);
      const closed = backendClose(path);
      await runner.call('terminate', { handle: ws.handle });
      expect(await closed).toBe(1006);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The gateway's RFC 8441 backend path, to nghttpx.

describe.each(RUNTIMES)('a gateway under %s with "h2": "require" routes to nghttpx and node:http2', (runtime) => {
  let gw: GatewayProcess;
  const url = (p: string) => `${gw.url.replace(/^http/, 'ws')}${p.slice(1)}`;

  beforeAll(async () => {
    gw = await startGateway(runtime, ['--listen', '127.0.0.1:0'], {
      routes: {
        '/ng': { backend: `ws://127.0.0.1:${ng.port}`, h2: 'require' },
        // node:http2 backends: the paths are kept, so they pick the server's behaviour.
        '/ws': { backend: asWs(nodeH2c.url), h2: 'require' },
        '/status': { backend: asWs(nodeH2c.url), h2: 'require' },
        '/complete': { backend: asWs(nodeH2c.url), h2: 'require' },
        '/plain': { backend: asWs(nodePlain.url), h2: 'require' },
      },
      timeouts: { backendConnectMs: 2000, backendUpgradeMs: 2000, drainMs: 2000 },
    });
  });

  afterAll(async () => {
    const code = await gw?.stop();
    expect(code, `gateway stderr:\n${gw?.stderr()}`).toBe(0);
  });

  it('an h2 client → gateway → nghttpx over h2 → ws backend: echoes 100 messages, both hops in Via', async () => {
    const ws = await connect(url(`/ng/${runtime}/echo`));
    expect(ws.transport).toBe('h2');
    const req = echo.requests.at(-1)!;
    expect(req.url).toBe(`/ng/${runtime}/echo`);
    // h2ws reached nghttpx over HTTP/2 ("2 h2ws"), nghttpx reached the backend over HTTP/1.1.
    expect(req.headers.via).toBe('2 h2ws, 2 nghttpx');
    for (let i = 0; i < 100; i++) {
      const reply = once<Buffer>(ws, 'message');
      ws.send(`message ${i}`);
      expect(String(await reply)).toBe(`message ${i}`);
    }
    const closed = once<number>(ws, 'close');
    ws.close(1000);
    expect(await closed).toBe(1000);
  });

  it('an HTTP/1.1 client (ws) → gateway → nghttpx over h2: works, a subprotocol negotiated end to end', async () => {
    const ws = new WebSocket(url(`/ng/${runtime}/h1`), ['chat']);
    ws.on('error', () => {});
    await once(ws, 'open');
    expect(ws.protocol).toBe('chat');
    expect(echo.requests.at(-1)!.headers.via).toBe('1.1 h2ws, 2 nghttpx');
    const big = randomBytes(512 * 1024);
    const reply = once<Buffer>(ws, 'message');
    ws.send(big);
    expect(Buffer.from(await reply).equals(big)).toBe(true);
    const closed = once<number>(ws, 'close');
    ws.close(1000);
    expect(await closed).toBe(1000);
  });

  it('to node:http2: an h2 client’s socket echoes through the gateway’s pooled connection', async () => {
    const ws = await connect(url(`/ws/gw-${runtime}`));
    expect(ws.transport).toBe('h2');
    const big = randomBytes(256 * 1024);
    const reply = once<Buffer>(ws, 'message');
    ws.send(big);
    expect(Buffer.from(await reply).equals(big)).toBe(true);
    const closed = once<number>(ws, 'close');
    ws.close(1000);
    expect(await closed).toBe(1000);
  });

  it('node:http2’s 403 reaches the client with its headers and body (read off the backend stream)', async () => {
    await expect(connect(url('/status'))).rejects.toMatchObject({ code: 'H2WS_ERR_HANDSHAKE', status: 403 });
    const client = await connectH2(gw.url);
    try {
      const res = await openTunnel(client, '/status');
      expect(res.status).toBe(403);
      expect(res.headers['x-reason']).toBe('policy');
      expect(await res.body()).toBe('not for you');
      // The gateway leaves the request side open after its complete refusal: close it here.
      res.stream.close(H2.NGHTTP2_CANCEL);
    } finally {
      await client.close();
    }
  });

  it('RST_STREAM(NO_ERROR) after the backend’s complete response (RFC 9113 §8.1): the client gets every byte and END_STREAM, not a reset', async () => {
    const client = await connectH2(gw.url);
    try {
      const res = await openTunnel(client, '/complete');
      expect(res.status).toBe(200);
      let received = '';
      res.stream.setEncoding('utf8');
      res.stream.on('data', (d: string) => (received += d));
      await once(res.stream, 'end');
      expect(received).toBe('the whole answer');
      res.stream.end();
      await new Promise((r) => (res.stream.closed ? r(undefined) : res.stream.once('close', r)));
      expect(res.stream.rstCode).toBe(H2.NGHTTP2_NO_ERROR);
    } finally {
      await client.close();
    }
  });

  it('a node:http2 backend without SETTINGS_ENABLE_CONNECT_PROTOCOL → 502 (RFC 8441 §3)', async () => {
    await expect(connect(url('/plain'))).rejects.toMatchObject({ code: 'H2WS_ERR_HANDSHAKE', status: 502 });
  });

  it('a client abort crosses both hops as a reset: the ws backend sees 1006, not a Close', async () => {
    const ws = await connect(url(`/ng/${runtime}/abort`));
    const reply = once<Buffer>(ws, 'message');
    ws.send('about to vanish');
    expect(String(await reply)).toBe('about to vanish');
    const closed = backendClose(`/ng/${runtime}/abort`);
    ws.terminate();
    expect(await closed).toBe(1006);
  });
});
