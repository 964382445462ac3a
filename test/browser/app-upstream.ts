/**
 * An existing web app as the browser tests put it behind h2ws (docs/http-proxy.md): a plain
 * HTTP/1.1 server with a page, its stylesheet, script and image, where the script opens
 * WebSockets to the page's own origin. The app records every request head it serves.
 */
import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { type GatewayProcess, RUNTIMES, type RuntimeName, startGateway } from '../helpers/gateway-process.ts';
import { type Backend, startBackend } from './helpers.ts';

export interface AppUpstream {
  readonly url: string;
  /** Requests the app served: path and the Via h2ws added. */
  readonly requests: Array<{ readonly path: string; readonly via: string | undefined; readonly forwardedProto: string | undefined }>;
  close(): Promise<void>;
}

/** The sockets the page's script opens, each echoing one message. */
export const PAGE_SOCKETS = ['/ws/chat', '/ws/feed', '/ws/presence'] as const;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>app behind h2ws</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js" defer></script></head>
<body><h1>App</h1><img src="/assets/logo.svg" alt="logo" width="16" height="16"></body></html>`;

const SCRIPT = `
window.appResult = (async () => {
  const origin = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  const one = (path) => new Promise((resolve) => {
    const ws = new WebSocket(origin + path);
    const text = 'hello from ' + path;
    ws.onopen = () => ws.send(text);
    ws.onmessage = (e) => { resolve({ path, opened: true, echoed: e.data === text }); ws.close(1000, 'done'); };
    ws.onerror = () => resolve({ path, opened: false, echoed: false });
  });
  const sockets = await Promise.all(${JSON.stringify(PAGE_SOCKETS)}.map(one));
  const resources = performance.getEntriesByType('resource').map((r) => ({ name: new URL(r.name).pathname, protocol: r.nextHopProtocol }));
  const navigation = performance.getEntriesByType('navigation')[0];
  return { sockets, resources, navigation: navigation ? navigation.nextHopProtocol : '', styled: getComputedStyle(document.body).marginLeft };
})();
`;

const FILES: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: PAGE },
  '/assets/style.css': { type: 'text/css', body: 'body { margin-left: 17px }\n' },
  '/assets/app.js': { type: 'text/javascript', body: SCRIPT },
  '/assets/logo.svg': { type: 'image/svg+xml', body: '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16"/></svg>' },
};

export async function startAppUpstream(): Promise<AppUpstream> {
  const requests: AppUpstream['requests'] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ path, via: req.headers.via, forwardedProto: req.headers['x-forwarded-proto'] as string | undefined });
    const file = FILES[path];
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' });
    res.end(file.body);
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What the page's script reports (window.appResult). */
export interface AppResult {
  readonly sockets: ReadonlyArray<{ readonly path: string; readonly opened: boolean; readonly echoed: boolean }>;
  readonly resources: ReadonlyArray<{ readonly name: string; readonly protocol: string }>;
  readonly navigation: string;
  /** The stylesheet applied: "17px". */
  readonly styled: string;
}

declare global {
  interface Window {
    appResult: Promise<AppResult>;
  }
}

/** The app, its ws backend, and h2ws in front of both (under `runtime`), started with the docs' three-line setup. */
export interface AppBehindGateway {
  readonly app: AppUpstream;
  readonly backend: Backend;
  readonly gateway: GatewayProcess;
  /** Stops all three; fails unless h2ws drained and exited 0. */
  stop(): Promise<void>;
}

export async function startAppBehindGateway(runtime: RuntimeName): Promise<AppBehindGateway> {
  const app = await startAppUpstream();
  const backend = await startBackend();
  const gateway = await startGateway(runtime, ['--self-signed', '--listen', '127.0.0.1:0', '--backend', backend.url, '--http-backend', app.url]);
  return {
    app,
    backend,
    gateway,
    async stop() {
      const code = await gateway.stop();
      await app.close();
      await backend.close();
      expect(code, `h2ws should drain and exit 0; stderr:\n${gateway.stderr()}`).toBe(0);
    },
  };
}

/**
 * A describe block per runtime (Node, Deno, Bun), each with the app and h2ws in front of it
 * started before its cases and stopped after; `body` reads the running setup through `setup()`.
 */
export function describeAppBehindGateway(title: string, body: (setup: () => AppBehindGateway) => void): void {
  describe.each(RUNTIMES)(title, (runtime) => {
    let running: AppBehindGateway | undefined;
    beforeAll(async () => {
      running = await startAppBehindGateway(runtime);
    });
    afterAll(async () => {
      await running?.stop();
    });
    body(() => running!);
  });
}

/**
 * What a browser must show for the page loaded from `origin`: the page and its three assets
 * over h2 from the app (Via "2 h2ws" in the app's records), and each page socket open and
 * echoed through the ws backend, which saw it arrive from an h2 client (Via "2 h2ws").
 */
export async function expectAppOverOneH2Connection(result: AppResult, setup: AppBehindGateway, origin: string): Promise<void> {
  expect(result.navigation).toBe('h2');
  expect(result.styled).toBe('17px');
  const assets = result.resources.filter((r) => r.name.startsWith('/assets/'));
  expect(assets.map((r) => r.name).sort()).toEqual(['/assets/app.js', '/assets/logo.svg', '/assets/style.css']);
  for (const asset of assets) expect(asset.protocol, asset.name).toBe('h2');
  for (const path of ['/', '/assets/style.css', '/assets/app.js', '/assets/logo.svg']) {
    expect(setup.app.requests.find((r) => r.path === path), `the app's record of ${path}`).toMatchObject({ via: '2 h2ws', forwardedProto: 'https' });
  }
  expect(result.sockets).toEqual(PAGE_SOCKETS.map((path) => ({ path, opened: true, echoed: true })));
  for (const path of PAGE_SOCKETS) {
    const seen = await setup.backend.connection(path);
    expect(seen.headers.via, `Via received by the backend for ${path}`).toBe('2 h2ws');
    expect(seen.headers.origin).toBe(origin);
  }
}
