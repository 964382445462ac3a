/**
 * Shared pieces of the browser suite: the gateway as a child process, real `ws` backends
 * that record what they saw, a TCP counting proxy, headless Chromium, and a small script
 * injected into pages so tests drive WebSockets with `page.evaluate`.
 */
import { existsSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { refusedPort } from '../helpers/backends.ts';
import { type GatewayProcess as SharedGateway, startGateway as startSharedGateway } from '../helpers/gateway-process.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CHROMIUM = '/usr/bin/chromium';
/**
 * Where the browser tests save their screenshots: test/artifacts/ (ignored by git), so a test
 * run leaves the tree clean. `npm run docs:screenshots` points it at docs/ to refresh the
 * committed pictures.
 */
export const SCREENSHOT_DIR = path.resolve(ROOT, process.env.H2WS_SCREENSHOT_DIR ?? 'test/artifacts');

// ---------------------------------------------------------------------------------------
// The gateway, spawned exactly as users run it.

export interface GatewayProcess extends SharedGateway {
  /** True until the process exits. */
  running(): boolean;
}

/** Starts `node bin/h2ws.js --self-signed --listen 127.0.0.1:0 ...args` (the shared spawner) and waits for its ready line. */
export async function startGateway(args: readonly string[]): Promise<GatewayProcess> {
  const gw = await startSharedGateway('node', ['--self-signed', '--listen', '127.0.0.1:0', ...args]);
  return { ...gw, running: () => gw.proc.exitCode === null && gw.proc.signalCode === null };
}

// ---------------------------------------------------------------------------------------
// Backends: plain HTTP/1.1 `ws` servers, the kind h2ws bridges to.

export interface BackendConnection {
  readonly path: string;
  /** The upgrade request's headers as the backend received them (lower-cased names). */
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly protocol: string;
  /** Messages received from the client, in order. */
  readonly messages: Array<{ readonly binary: boolean; readonly length: number }>;
  /** Resolves with the close code and reason the client sent (1005/1006 when none). */
  readonly closed: Promise<{ code: number; reason: string }>;
}

export interface Backend {
  readonly url: string;
  readonly port: number;
  readonly connections: BackendConnection[];
  /** Resolves with the next connection whose path starts with `prefix` (already seen or future). */
  connection(prefix: string, timeoutMs?: number): Promise<BackendConnection>;
  close(): Promise<void>;
}

/**
 * A `ws` backend that echoes every message and records every connection. Paths under
 * "/ws/forbidden" are refused with 403. A text message "__close CODE REASON" makes the
 * backend close the socket with that code and reason instead of echoing.
 */
export async function startBackend(options: { perMessageDeflate?: boolean } = {}): Promise<Backend> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: options.perMessageDeflate ?? false,
    maxPayload: 8 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
    verifyClient: (info, done) => {
      if ((info.req.url ?? '').startsWith('/ws/forbidden')) done(false, 403, 'Forbidden');
      else done(true);
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const connections: BackendConnection[] = [];
  const seen = new Set<BackendConnection>();
  let waiters: Array<() => void> = [];
  wss.on('connection', (socket: WebSocket, req: http.IncomingMessage) => {
    const messages: Array<{ binary: boolean; length: number }> = [];
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') })),
    );
    socket.on('error', () => {});
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      messages.push({ binary: isBinary, length: buf.length });
      const command = !isBinary && buf.length < 200 ? /^__close (\d+) (.*)$/s.exec(buf.toString('utf8')) : null;
      if (command !== null) socket.close(Number(command[1]), command[2]);
      else socket.send(buf, { binary: isBinary });
    });
    connections.push({ path: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, protocol: socket.protocol, messages, closed });
    const w = waiters;
    waiters = [];
    for (const wake of w) wake();
  });
  const { port } = wss.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    connections,
    connection(prefix, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`backend :${port} saw no new connection to ${prefix} within ${timeoutMs} ms (saw: ${connections.map((c) => c.path).join(', ') || 'none'})`)),
          timeoutMs,
        );
        const look = () => {
          const found = connections.find((c) => !seen.has(c) && c.path.startsWith(prefix));
          if (found === undefined) return void waiters.push(look);
          seen.add(found);
          clearTimeout(timer);
          resolve(found);
        };
        look();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** A loopback port with nothing listening on it (bound, then released). */
export const deadPort = refusedPort;

// ---------------------------------------------------------------------------------------
// A TCP proxy that counts the connections it accepts, to prove sockets share one connection.

export interface CountingProxy {
  readonly port: number;
  readonly accepted: () => number;
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  let accepted = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      // Relayed as they come: Nagle's algorithm would hold small frames back for an ACK.
      s.setNoDelay(true);
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------
// Chromium.

export interface ChromiumHandle {
  readonly browser: Browser;
  /** A fresh context (own connection pool), for a self-signed gateway. */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/**
 * Launches Debian's Chromium headless, loopback only, with a fresh user-data dir. Fails
 * loudly (never skips) when the browser is missing.
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<ChromiumHandle> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the browser tests need Debian's chromium ` +
        '(apt-get install chromium; .ci/run installs it). They are never skipped.',
    );
  }
  // playwright's launch() gives every browser a fresh, temporary user-data dir of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The gateway's certificate is self-signed; this is for the tests only.
      '--ignore-certificate-errors',
      ...extraArgs,
    ],
  });
  return {
    browser,
    newContext: () => browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1200, height: 900 } }),
    close: () => browser.close(),
  };
}

/** What the DevTools protocol saw for each WebSocket handshake: 200 on h2, 101 on HTTP/1.1. */
export interface HandshakeRecord {
  readonly url: string;
  readonly status: number;
  readonly requestHeaders: Readonly<Record<string, string>>;
}

/** Records WebSocket handshake responses through the DevTools protocol. */
export async function watchHandshakes(context: BrowserContext, page: Page): Promise<HandshakeRecord[]> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map<string, string>();
  const records: HandshakeRecord[] = [];
  cdp.on('Network.webSocketCreated', (e) => urls.set(e.requestId, e.url));
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
    records.push({ url: urls.get(e.requestId) ?? '?', status: e.response.status, requestHeaders: e.response.requestHeaders ?? {} });
  });
  return records;
}

// ---------------------------------------------------------------------------------------
// The page side: plain JavaScript injected into whatever page the gateway served, so the
// sockets are opened by that page's origin (and ride its connection).

/** A socket as the page saw it open, or fail before opening. */
export interface OpenResult {
  readonly id: number;
  readonly opened: boolean;
  readonly protocol: string;
  readonly extensions: string;
  readonly errorEvent: boolean;
  /** Set when the socket neither opened nor closed in time (still CONNECTING). */
  readonly timedOut?: boolean;
  /** Set when the socket closed before it opened. */
  readonly close?: CloseResult;
}

export interface CloseResult {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

const PAGE_LIB = String.raw`
(() => {
  const sockets = new Map();
  let next = 0;
  const url = (p) => (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + p;
  const pattern = (n) => { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = (i * 31 + 7) & 255; return a; };
  window.h2wsTest = {
    open(path, protocols, timeoutMs = 10000) {
      const id = ++next;
      const ws = new WebSocket(url(path), protocols);
      ws.binaryType = 'arraybuffer';
      const s = { ws, inbox: [], waiters: [], errorEvent: false, close: undefined, closeWaiters: [] };
      sockets.set(id, s);
      ws.onmessage = (e) => { const w = s.waiters.shift(); if (w) w(e.data); else s.inbox.push(e.data); };
      ws.onerror = () => { s.errorEvent = true; };
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve({ id, opened: false, protocol: '', extensions: '', errorEvent: s.errorEvent, timedOut: true }), timeoutMs);
        ws.addEventListener('open', () => clearTimeout(t));
        ws.addEventListener('close', () => clearTimeout(t));
        ws.onopen = () => resolve({ id, opened: true, protocol: ws.protocol, extensions: ws.extensions, errorEvent: s.errorEvent });
        ws.onclose = (e) => {
          s.close = { code: e.code, reason: e.reason, wasClean: e.wasClean };
          for (const w of s.closeWaiters.splice(0)) w(s.close);
          // A no-op when the socket had opened: the promise is already settled.
          resolve({ id, opened: false, protocol: ws.protocol, extensions: ws.extensions, errorEvent: s.errorEvent, close: s.close });
        };
      });
    },
    send(id, data) { sockets.get(id).ws.send(data); },
    nextMessage(id, timeoutMs = 10000) {
      const s = sockets.get(id);
      if (s.inbox.length) return Promise.resolve(s.inbox.shift());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no message on socket ' + id + ' within ' + timeoutMs + ' ms')), timeoutMs);
        s.waiters.push((d) => { clearTimeout(t); resolve(d); });
      });
    },
    async echoText(id, text) {
      this.send(id, text);
      const back = await this.nextMessage(id);
      return { same: back === text, type: typeof back, length: typeof back === 'string' ? back.length : back.byteLength };
    },
    async echoBinary(id, n) {
      const sent = pattern(n);
      this.send(id, sent.buffer);
      const back = await this.nextMessage(id);
      if (!(back instanceof ArrayBuffer)) return { same: false, type: typeof back, length: -1 };
      const got = new Uint8Array(back);
      let same = got.length === n;
      for (let i = 0; same && i < n; i++) same = got[i] === sent[i];
      return { same, type: 'arraybuffer', length: got.length };
    },
    close(id, code, reason) { sockets.get(id).ws.close(code, reason); },
    closed(id, timeoutMs = 10000) {
      const s = sockets.get(id);
      if (s.close) return Promise.resolve(s.close);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('socket ' + id + ' did not close within ' + timeoutMs + ' ms')), timeoutMs);
        s.closeWaiters.push((c) => { clearTimeout(t); resolve(c); });
      });
    },
    nextHopProtocol() { const nav = performance.getEntriesByType('navigation')[0]; return nav ? nav.nextHopProtocol : ''; },
  };
})();
`;

/** The page-side API `PAGE_LIB` installs (as `window.h2wsTest`). */
export interface PageApi {
  open(path: string, protocols?: string | string[], timeoutMs?: number): Promise<OpenResult>;
  send(id: number, data: string): void;
  nextMessage(id: number, timeoutMs?: number): Promise<string | ArrayBuffer>;
  echoText(id: number, text: string): Promise<{ same: boolean; type: string; length: number }>;
  echoBinary(id: number, n: number): Promise<{ same: boolean; type: string; length: number }>;
  close(id: number, code?: number, reason?: string): void;
  closed(id: number, timeoutMs?: number): Promise<CloseResult>;
  nextHopProtocol(): string;
}

declare global {
  interface Window {
    h2wsTest: PageApi;
  }
}

/**
 * Navigates to `url` (any gateway URL: a 404 page is still a page on the gateway's origin,
 * loaded over the connection the sockets will share) and installs the page-side API.
 */
export async function loadTestPage(page: Page, url: string): Promise<{ status: number }> {
  const response = await page.goto(url, { waitUntil: 'load' });
  if (response === null) throw new Error(`no response navigating to ${url}`);
  await page.addScriptTag({ content: PAGE_LIB });
  return { status: response.status() };
}
