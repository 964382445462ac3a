/**
 * Headless Firefox ESR (Debian's firefox-esr over WebDriver BiDi, test/browser/firefox.ts)
 * against h2ws over TLS, with the gateway under Node, Deno and Bun. Firefox takes h2ws's
 * END_STREAM after a WebSocket's closing handshake and never sends its own, so each closed
 * socket used to keep its tunnel and its HTTP/2 stream until the page's connection ended,
 * and a page failed at its 257th socket. h2ws now ends such a stream with RST_STREAM
 * NO_ERROR after a short grace (timeouts.closeGraceMs).
 *
 * Evidence that a socket rode RFC 8441: the `Via` h2ws adds to the backend request ("2 h2ws"
 * for h2 clients), h2ws's tunnel record (transport "h2"), and a counting TCP proxy in front
 * of the gateway that sees the page and all its sockets arrive on one connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIMES } from '../helpers/gateway-process.ts';
import { tunnelRecords } from '../helpers/logs.ts';
import { metric, scrapeMetrics } from '../helpers/metrics.ts';
import { type FirefoxHandle, launchFirefox } from './firefox.ts';
import { type Backend, startBackend } from './helpers.ts';
import { expectAllOverH2InTurn, openAndCloseInTurn, type ProxiedGateway, RECORD_WITHIN_MS, startProxiedGateway } from './sequential.ts';

/** Sockets opened and closed one after another on one page (the count: past 256). */
const SEQUENTIAL = 300;

let firefox: FirefoxHandle;
let echo: Backend;

beforeAll(async () => {
  // Launch first: without Firefox every case fails here with a clear message.
  firefox = await launchFirefox();
  echo = await startBackend();
});

afterAll(async () => {
  await firefox?.close();
  await echo?.close();
});

describe.each(RUNTIMES)('Firefox → h2ws under %s over TLS (RFC 8441)', (runtime) => {
  let at: ProxiedGateway;

  beforeAll(async () => {
    at = await startProxiedGateway(runtime, echo);
  });

  afterAll(async () => {
    await at?.stop();
  });

  it('a page loaded over h2 closes sockets from either side cleanly, and each tunnel is logged clean at once', async () => {
    const { gateway } = at;
    const page = await firefox.newPage();
    await page.goto(gateway.url, { waitUntil: 'load' });
    expect(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol)).toBe('h2');
    const closes = await page.evaluate(async (base: string) => {
      const closeWith = (path: string, start: (ws: WebSocket) => void) =>
        new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
          const ws = new WebSocket(`${base}${path}`);
          ws.onopen = () => start(ws);
          ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
        });
      return [
        await closeWith(`/ws/${crypto.randomUUID()}/page-closes`, (ws) => ws.close(4000, 'bye')),
        // The backend's echo command: it closes with 4001 "later", and the page answers the Close.
        await closeWith(`/ws/${crypto.randomUUID()}/backend-closes`, (ws) => ws.send('__close 4001 later')),
      ];
    }, gateway.url.replace(/^https:/, 'wss:').replace(/\/$/, ''));
    expect(closes).toEqual([
      { code: 4000, reason: 'bye', wasClean: true },
      { code: 4001, reason: 'later', wasClean: true },
    ]);
    for (const side of ['page-closes', 'backend-closes']) {
      const seen = echo.connections.filter((c) => c.path.endsWith(`/${side}`)).at(-1)!;
      expect(seen.headers.via, `Via at the backend for ${side}`).toBe('2 h2ws');
      await expect.poll(() => tunnelRecords(gateway.stderr(), { path: seen.path, transport: 'h2', outcome: 'ok', end: 'clean', reset_after_close: true }).length, { timeout: RECORD_WITHIN_MS, message: `h2ws's record of ${side}` }).toBe(1);
    }
    await page.close();
  });

  it('at the stream limit, sockets Firefox queued open as soon as others close, over the same connection', async () => {
    // A grace far longer than the test: the queued sockets can only open on yielded slots.
    const limited = await startProxiedGateway(runtime, echo, { limits: { maxStreamsPerConnection: 4 }, timeouts: { closeGraceMs: 30_000 } });
    try {
      const page = await firefox.newPage();
      await page.goto(limited.origin, { waitUntil: 'load' });
      const prefix = `/ws/${runtime}/limit/`;
      const seen = await page.evaluate(async (path: string) => {
        const base = `wss://${location.host}${path}`;
        const events: string[] = [];
        const opened = (ws: WebSocket) => new Promise<void>((resolve) => (ws.readyState === WebSocket.OPEN ? resolve() : ws.addEventListener('open', () => resolve())));
        const sockets = Array.from({ length: 6 }, (_, i) => {
          const ws = new WebSocket(`${base}${i}`);
          ws.addEventListener('open', () => events.push(`open ${i}`));
          ws.addEventListener('close', (e) => events.push(`close ${i} ${e.code}`));
          return ws;
        });
        await Promise.all(sockets.slice(0, 4).map(opened));
        // Settings allow four streams: the fifth and sixth wait in Firefox's queue.
        await new Promise((r) => setTimeout(r, 500));
        const queued = sockets.map((ws) => ws.readyState);
        sockets[0]!.close(1000);
        sockets[1]!.close(1000);
        await Promise.race([Promise.all(sockets.slice(4).map(opened)), new Promise((r) => setTimeout(r, 5000))]);
        const echoes = await Promise.all(
          sockets.slice(4).map((ws, i) => new Promise<string>((resolve) => {
            if (ws.readyState !== WebSocket.OPEN) return resolve(`not open (${ws.readyState})`);
            ws.onmessage = (e) => resolve(String(e.data));
            ws.send(`queued ${i + 4}`);
          })),
        );
        return { queued, events, echoes };
      }, prefix);
      expect(seen.queued).toEqual([1, 1, 1, 1, 0, 0]);
      expect(seen.echoes).toEqual(['queued 4', 'queued 5']);
      expect(seen.events.filter((e) => e.endsWith(' 1006'))).toEqual([]);
      expect(echo.connections.filter((c) => c.path.startsWith(prefix)).map((c) => c.headers.via)).toEqual(Array(6).fill('2 h2ws'));
      expect(limited.proxy.accepted()).toBe(1);
      const text = await scrapeMetrics(limited.gateway.url);
      expect(metric(text, 'h2ws_resets_total', { code: 'REFUSED_STREAM' })).toBe(0);
      expect(metric(text, 'h2ws_tunnel_resets_after_close_total', { route: '/ws' })).toBe(2);
      await page.close();
    } finally {
      await limited.stop();
    }
  });

  it(`${SEQUENTIAL} sockets one after another on one page: all over HTTP/2 on one connection, every record within a second of its close, none left open`, async () => {
    const page = await firefox.newPage();
    await page.goto(at.origin, { waitUntil: 'load' });
    expect(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol)).toBe('h2');
    const prefix = `/ws/${runtime}/seq/`;
    const runs = await page.evaluate(openAndCloseInTurn, { count: SEQUENTIAL, path: prefix });
    const records = await expectAllOverH2InTurn(runs, SEQUENTIAL, prefix, echo, at);
    // Firefox never sent END_STREAM: h2ws released each stream after its closing handshake.
    expect(records.filter((r) => r.reset_after_close !== true).map((r) => r.path)).toEqual([]);
    expect(metric(await scrapeMetrics(at.gateway.url), 'h2ws_tunnel_resets_after_close_total', { route: '/ws' })).toBeGreaterThanOrEqual(SEQUENTIAL);
    await page.close();
  });
});
