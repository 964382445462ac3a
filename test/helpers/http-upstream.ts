/**
 * A plain HTTP/1.1 application server on loopback, the kind h2ws proxies to: it records every
 * request head, counts its TCP connections, and serves the cases the proxy tests need.
 *   GET  /download?bytes=N   N bytes of a fixed pattern, streamed with backpressure
 *   POST /upload             reads the body; answers {"bytes", "sha256"}
 *   GET  /sse                server-sent events, one every 100 ms, until the client goes
 *   GET  /slow               never answers
 *   GET  /redirect           302 with Location and two Set-Cookie fields
 *   GET  /gzip               a gzip body labelled Content-Encoding: gzip
 *   any  other               200 {"method","url","headers"} with hop-by-hop response fields
 * Large bodies can be held back: `hold(ms)` stops reading uploads and writing downloads for
 * that long once `holdAfter` bytes have moved, so a test sees what h2ws does meanwhile.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}

export interface HttpUpstream {
  readonly url: string;
  readonly port: number;
  readonly requests: SeenRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Download bytes written to sockets so far, and upload bytes read, across requests. */
  readonly moved: { sent: number; received: number };
  /** Server-sent-event streams that ended because the client (through h2ws) went away. */
  readonly sseClosed: string[];
  /** Pause the next large transfer for `ms` once `afterBytes` have moved; resolves when the pause starts. */
  hold(afterBytes: number, ms: number): Promise<void>;
  close(): Promise<void>;
}

export const GZIP_BODY = zlib.gzipSync(Buffer.from('compressed text, '.repeat(1000)));

/** The byte at offset i of every download (and of the uploads tests send). */
export const patternByte = (i: number): number => (i * 31 + 7) & 255;

/** A 64 KiB block of the pattern; every offset that is a multiple of 64 KiB starts the same block. */
export const PATTERN_BLOCK = Buffer.from(Array.from({ length: 65_536 }, (_, i) => patternByte(i)));

export async function startHttpUpstream(): Promise<HttpUpstream> {
  const requests: SeenRequest[] = [];
  const moved = { sent: 0, received: 0 };
  const sseClosed: string[] = [];
  let connections = 0;
  let pending: { afterBytes: number; ms: number; started: () => void } | undefined;
  const sockets = new Set<net.Socket>();
  const maybeHold = (bytes: number, pause: () => void, resume: () => void) => {
    if (pending === undefined || bytes < pending.afterBytes) return;
    const { ms, started } = pending;
    pending = undefined;
    pause();
    started();
    setTimeout(resume, ms);
  };

  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (url.pathname === '/download') {
      const total = Number(url.searchParams.get('bytes'));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
      let sent = 0;
      let paused = false;
      const pump = () => {
        while (sent < total && !paused) {
          const n = Math.min(PATTERN_BLOCK.length, total - sent);
          sent += n;
          moved.sent += n;
          const ok = res.write(n === PATTERN_BLOCK.length ? PATTERN_BLOCK : PATTERN_BLOCK.subarray(0, n));
          maybeHold(sent, () => (paused = true), () => {
            paused = false;
            pump();
          });
          if (!ok && !paused) return void res.once('drain', pump);
        }
        if (sent >= total) res.end();
      };
      pump();
      return;
    }
    if (url.pathname === '/upload') {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        moved.received += chunk.length;
        maybeHold(bytes, () => req.pause(), () => req.resume());
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') }));
      });
      return;
    }
    if (url.pathname === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      let n = 0;
      const send = () => res.write(`id: ${n}\ndata: event ${n++}\n\n`);
      send();
      const timer = setInterval(send, 100);
      res.once('close', () => {
        clearInterval(timer);
        sseClosed.push(req.url ?? '');
      });
      return;
    }
    if (url.pathname === '/slow') return; // never answers
    if (url.pathname === '/redirect') {
      res.writeHead(302, { location: '/elsewhere?from=redirect', 'set-cookie': ['session=abc; Path=/; HttpOnly', 'theme=dark, blue; Max-Age=60'] });
      res.end();
      return;
    }
    if (url.pathname === '/gzip') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': GZIP_BODY.length });
      res.end(GZIP_BODY);
      return;
    }
    req.resume();
    req.on('end', () => {
      // Hop-by-hop fields of the upstream's own connection: none may reach the client.
      res.writeHead(200, { 'content-type': 'application/json', connection: 'X-Internal', 'x-internal': 'secret', 'keep-alive': 'timeout=77', 'x-app': 'yes' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: net.Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connections,
    moved,
    sseClosed,
    hold: (afterBytes, ms) => new Promise<void>((started) => (pending = { afterBytes, ms, started })),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
