/**
 * Headless Chromium against h2ws over TLS: the page is loaded over h2, so `new WebSocket
 * ('wss://…')` rides that connection as an RFC 8441 extended CONNECT, and h2ws bridges it
 * to plain HTTP/1.1 `ws` backends. Evidence of the transport comes from both ends: the
 * handshake status Chromium reports over the DevTools protocol (200 on h2, 101 on HTTP/1.1)
 * and the `Via` header h2ws adds to the backend request ("2 h2ws" for h2 clients).
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tunnelRecords } from '../helpers/logs.ts';
import {
  type Backend,
  type BackendConnection,
  type ChromiumHandle,
  type CountingProxy,
  deadPort,
  type GatewayProcess,
  type HandshakeRecord,
  launchChromium,
  loadTestPage,
  startBackend,
  startCountingProxy,
  startGateway,
  watchHandshakes,
} from './helpers.ts';

const MiB = 1024 * 1024;

let echo: Backend;
let deflate: Backend;
let gateway: GatewayProcess;
let browser: ChromiumHandle;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  // Launch first: without Chromium every case fails here with a clear message.
  browser = await launchChromium();
  echo = await startBackend();
  deflate = await startBackend({ perMessageDeflate: true });
  const down = await deadPort();
  gateway = await startGateway([
    '--route', `/ws=${echo.url}`,
    '--route', `/deflate=${deflate.url}`,
    '--route', `/down=ws://127.0.0.1:${down}`,
  ]);
});

afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
});

afterAll(async () => {
  await browser?.close();
  const code = await gateway?.stop();
  await echo?.close();
  await deflate?.close();
  if (gateway !== undefined) expect(code, `h2ws should drain and exit 0 on SIGTERM; stderr:\n${gateway.stderr()}`).toBe(0);
});

/** A fresh context (its own connection pool) with the test API loaded on a gateway page. */
async function freshPage(url: string): Promise<{ page: Page; handshakes: HandshakeRecord[]; status: number }> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  const handshakes = await watchHandshakes(context, page);
  const { status } = await loadTestPage(page, url);
  return { page, handshakes, status };
}

const open = (page: Page, path: string, protocols?: string[]) =>
  page.evaluate(([p, pr]) => window.h2wsTest.open(p as string, pr as string[] | undefined), [path, protocols] as const);
const echoText = (page: Page, id: number, text: string) => page.evaluate(([i, t]) => window.h2wsTest.echoText(i, t), [id, text] as const);
const echoBinary = (page: Page, id: number, n: number) => page.evaluate(([i, len]) => window.h2wsTest.echoBinary(i, len), [id, n] as const);
const nextHop = (page: Page) => page.evaluate(() => window.h2wsTest.nextHopProtocol());
const wssUrl = (origin: string, path: string) => `${origin.replace(/^https:/, 'wss:').replace(/\/$/, '')}${path}`;

/**
 * Both pieces of evidence that a socket went over HTTP/2: h2ws's own record (the Via it
 * adds, "2 h2ws" for h2 clients, RFC 9110 §7.6.3) and Chromium's (the handshake status in
 * the DevTools protocol: 200 for RFC 8441, where HTTP/1.1 gives 101).
 */
async function expectOverH2(handshakes: readonly HandshakeRecord[], seen: BackendConnection): Promise<void> {
  expect(seen.headers.via, `Via received by the backend for ${seen.path}`).toBe('2 h2ws');
  await expect
    .poll(() => handshakes.find((h) => new URL(h.url).pathname === seen.path)?.status, { message: `Chromium's handshake status for ${seen.path}` })
    .toBe(200);
}

describe('Chromium → h2ws over TLS (RFC 8441)', () => {
  it('loads the page over h2, and its wss:// socket arrives as extended CONNECT', async () => {
    const { page, handshakes, status } = await freshPage(gateway.url);
    // The gateway's plain HTTP side answers 404 here; it is still a page on its origin, over h2.
    expect(status).toBe(404);
    expect(await nextHop(page)).toBe('h2');
    // Chromium sends each cookie as its own h2 field (RFC 9113 §8.2.3 allows it); HTTP/1.1 needs one line.
    await page.context().addCookies([{ name: 'a', value: '1', url: gateway.url }, { name: 'b', value: '2', url: gateway.url }]);

    const opened = await open(page, '/ws/first');
    expect(opened).toMatchObject({ opened: true, errorEvent: false });
    const seen = await echo.connection('/ws/first');
    // h2ws's own record of the transport: Via "2" for an h2 client (RFC 9110 §7.6.3).
    expect(seen.headers.via).toBe('2 h2ws');
    expect(seen.headers.origin).toBe(gateway.url.replace(/\/$/, ''));
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers.cookie).toBe('a=1; b=2');
    // The backend gets a normal HTTP/1.1 upgrade with h2ws's own key.
    expect(seen.headers.upgrade).toBe('websocket');
    expect(seen.headers.connection).toBe('Upgrade');
    expect(seen.headers['sec-websocket-key']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    // The browser's view (DevTools protocol): an h2 WebSocket handshake completes with 200.
    await expect.poll(() => handshakes.map((h) => [h.url, h.status])).toEqual([[wssUrl(gateway.url, '/ws/first'), 200]]);
    expect(await echoText(page, opened.id, 'hello over h2')).toEqual({ same: true, type: 'string', length: 13 });
  });

  it('echoes text and binary messages, including 1 MiB of each', async () => {
    const { page, handshakes } = await freshPage(gateway.url);
    const opened = await open(page, '/ws/echo-big');
    expect(opened.opened).toBe(true);
    const seen = await echo.connection('/ws/echo-big');
    await expectOverH2(handshakes, seen);

    expect(await echoText(page, opened.id, 'héllo ✓')).toEqual({ same: true, type: 'string', length: 7 });
    expect(await echoBinary(page, opened.id, 16)).toEqual({ same: true, type: 'arraybuffer', length: 16 });
    const bigText = Array.from({ length: MiB / 16 }, (_, i) => `${i.toString(36).padStart(8, '.')}-h2ws--\n`).join('');
    expect(bigText.length).toBe(MiB);
    expect(await echoText(page, opened.id, bigText)).toEqual({ same: true, type: 'string', length: MiB });
    expect(await echoBinary(page, opened.id, MiB)).toEqual({ same: true, type: 'arraybuffer', length: MiB });
    // The backend really received each message whole, with its type.
    expect(seen.messages).toEqual([
      { binary: false, length: Buffer.byteLength('héllo ✓') },
      { binary: true, length: 16 },
      { binary: false, length: MiB },
      { binary: true, length: MiB },
    ]);
  });

  it('negotiates the subprotocol "chat" with the backend', async () => {
    const { page, handshakes } = await freshPage(gateway.url);
    const opened = await open(page, '/ws/chat', ['chat']);
    expect(opened).toMatchObject({ opened: true, protocol: 'chat' });
    const seen = await echo.connection('/ws/chat');
    await expectOverH2(handshakes, seen);
    expect(seen.headers['sec-websocket-protocol']).toBe('chat');
    expect(seen.protocol).toBe('chat');
    expect(await echoText(page, opened.id, 'chat message')).toMatchObject({ same: true });
  });

  it('negotiates permessage-deflate end to end with a backend that enables it, and only then', async () => {
    const { page, handshakes } = await freshPage(gateway.url);
    const compressed = await open(page, '/deflate/room');
    expect(compressed.opened).toBe(true);
    expect(compressed.extensions).toContain('permessage-deflate');
    const seen = await deflate.connection('/deflate/room');
    expect(seen.headers['sec-websocket-extensions']).toContain('permessage-deflate');
    await expectOverH2(handshakes, seen);
    expect(await echoText(page, compressed.id, 'squeeze '.repeat(8192))).toEqual({ same: true, type: 'string', length: 8 * 8192 });
    expect(await echoBinary(page, compressed.id, 200_000)).toEqual({ same: true, type: 'arraybuffer', length: 200_000 });
    expect(seen.messages).toEqual([
      { binary: false, length: 8 * 8192 },
      { binary: true, length: 200_000 },
    ]);

    // The extension is the backend's answer, not the gateway's: a backend without it gives none.
    const plain = await open(page, '/ws/no-deflate');
    expect(plain).toMatchObject({ opened: true, extensions: '' });
    const plainSeen = await echo.connection('/ws/no-deflate');
    expect(plainSeen.headers['sec-websocket-extensions']).toContain('permessage-deflate');
    await expectOverH2(handshakes, plainSeen);
  });

  it('carries close codes and reasons both ways', async () => {
    const { page, handshakes } = await freshPage(gateway.url);
    // Page → backend: 4000 "bye".
    const first = await open(page, '/ws/close-from-page');
    expect(first.opened).toBe(true);
    const firstSeen = await echo.connection('/ws/close-from-page');
    await expectOverH2(handshakes, firstSeen);
    await page.evaluate((id) => window.h2wsTest.close(id, 4000, 'bye'), first.id);
    expect(await firstSeen.closed).toEqual({ code: 4000, reason: 'bye' });
    expect(await page.evaluate((id) => window.h2wsTest.closed(id), first.id)).toEqual({ code: 4000, reason: 'bye', wasClean: true });

    // Backend → page: 4001 "later".
    const second = await open(page, '/ws/close-from-backend');
    expect(second.opened).toBe(true);
    const secondSeen = await echo.connection('/ws/close-from-backend');
    await expectOverH2(handshakes, secondSeen);
    await page.evaluate((id) => window.h2wsTest.send(id, '__close 4001 later'), second.id);
    expect(await page.evaluate((id) => window.h2wsTest.closed(id), second.id)).toEqual({ code: 4001, reason: 'later', wasClean: true });
    // The page echoed the close frame back, as RFC 6455 §5.5.1 asks.
    expect(await secondSeen.closed).toEqual({ code: 4001, reason: 'later' });
    // h2ws's own log of each tunnel: its transport, and a clean end (FIN/END_STREAM both ways).
    for (const path of ['/ws/close-from-page', '/ws/close-from-backend']) {
      await expect.poll(() => tunnelRecords(gateway.stderr(), { path, transport: 'h2', outcome: 'ok', end: 'clean', backend: /^ws:\/\// }).length, { message: `h2ws's record of ${path}` }).toBe(1);
    }
  });

  it('runs 50 sockets from one page over one TCP connection', async () => {
    const proxy: CountingProxy = await startCountingProxy(gateway.port);
    try {
      const origin = `https://127.0.0.1:${proxy.port}/`;
      const { page, handshakes } = await freshPage(origin);
      expect(await nextHop(page)).toBe('h2');
      // Opened ten at a time: Chromium's per-renderer WebSocket throttle delays each new
      // handshake by up to seconds once many are pending at once (a client quirk, not h2ws's).
      const result = await page.evaluate(async (n) => {
        const api = window.h2wsTest;
        const opened: Awaited<ReturnType<typeof api.open>>[] = [];
        for (let i = 0; i < n; i += 10) {
          const batch = await Promise.all(Array.from({ length: 10 }, (_, j) => api.open(`/ws/many/${i + j}`)));
          opened.push(...batch);
          if (batch.some((o) => !o.opened)) break;
        }
        const echoed = await Promise.all(
          opened.map((o, i) => (o.opened ? api.echoText(o.id, `socket ${i}`) : Promise.resolve({ same: false }))),
        );
        return { opened: opened.filter((o) => o.opened).length, echoed: echoed.filter((e) => e.same).length };
      }, 50);
      expect(result).toEqual({ opened: 50, echoed: 50 });
      // The page load and all 50 WebSockets: exactly one TCP connection reached the gateway.
      expect(proxy.accepted()).toBe(1);
      const many = echo.connections.filter((c) => c.path.startsWith('/ws/many/'));
      expect(many).toHaveLength(50);
      for (const seen of many) await expectOverH2(handshakes, seen);
    } finally {
      await proxy.close();
    }
  });

  it('reports a refusing (403) or unreachable (502) backend as a failed socket, and stays healthy', async () => {
    const { page, handshakes } = await freshPage(gateway.url);
    // DevTools reports no response for a failed h2 WebSocket handshake; the console names the status.
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    const forbidden = await open(page, '/ws/forbidden');
    expect(forbidden).toMatchObject({ opened: false, errorEvent: true, close: { code: 1006, wasClean: false } });
    const down = await open(page, '/down/anything');
    expect(down).toMatchObject({ opened: false, errorEvent: true, close: { code: 1006, wasClean: false } });
    await expect.poll(() => consoleLines.join('\n')).toMatch(/\/ws\/forbidden' failed: .*Unexpected response code: 403/);
    await expect.poll(() => consoleLines.join('\n')).toMatch(/\/down\/anything' failed: .*Unexpected response code: 502/);

    // The same page, right after: a fresh socket still opens over h2 and echoes.
    const fresh = await open(page, '/ws/after-failures');
    expect(fresh).toMatchObject({ opened: true, errorEvent: false });
    expect(await echoText(page, fresh.id, 'still here')).toMatchObject({ same: true });
    await expectOverH2(handshakes, await echo.connection('/ws/after-failures'));
    // h2ws logged both, naming the cause.
    expect(tunnelRecords(gateway.stderr(), { path: '/ws/forbidden', status: 403 })).toHaveLength(1);
    expect(tunnelRecords(gateway.stderr(), { path: '/down/anything', outcome: 'backend_unreachable', message: /ECONNREFUSED/ })).toHaveLength(1);

    // And a new page on a new connection is served too.
    const again = await freshPage(gateway.url);
    expect(await nextHop(again.page)).toBe('h2');
    const other = await open(again.page, '/ws/new-connection');
    expect(other).toMatchObject({ opened: true, errorEvent: false });
    await expectOverH2(again.handshakes, await echo.connection('/ws/new-connection'));
    expect(gateway.running(), `h2ws exited; stderr:\n${gateway.stderr()}`).toBe(true);
  });
});
