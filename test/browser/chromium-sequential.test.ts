/**
 * Headless Chromium opens and closes 300 WebSockets one after another on one page, with the
 * gateway under Node, Deno and Bun: every one rides the page's HTTP/2 connection as an RFC
 * 8441 extended CONNECT. On node:http2, h2ws sent Deno sessions a GOAWAY at 128 streams (to
 * keep clear of Deno's nghttp2 abort), and Chromium then opened the page's next sockets over
 * HTTP/1.1; on h2ws's own engine no runtime sends that GOAWAY.
 *
 * Evidence, as in chromium-rfc8441.test.ts: the handshake status Chromium reports over the
 * DevTools protocol (200 on h2, 101 on HTTP/1.1), the `Via` h2ws adds to the backend request
 * ("2 h2ws" for h2 clients) and h2ws's tunnel records (transport "h2"); and a counting TCP
 * proxy in front of the gateway that sees the page and all its sockets on one connection.
 */
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { metric, scrapeMetrics } from '../helpers/metrics.ts';
import { type Backend, type ChromiumHandle, type CountingProxy, launchChromium, startBackend, startCountingProxy, watchHandshakes } from './helpers.ts';
import { failedRuns, openAndCloseInTurn, RECORD_WITHIN_MS, recordsOf } from './sequential.ts';

const SEQUENTIAL = 300;

let browser: ChromiumHandle;
let echo: Backend;

beforeAll(async () => {
  // Launch first: without Chromium every case fails here with a clear message.
  browser = await launchChromium();
  echo = await startBackend();
});

afterAll(async () => {
  await browser?.close();
  await echo?.close();
});

describe.each(RUNTIMES)('Chromium → h2ws under %s: sockets in turn on one page', (runtime) => {
  let gateway: GatewayProcess;
  let proxy: CountingProxy;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    gateway = await startGateway(runtime, ['--self-signed', '--listen', '127.0.0.1:0', '--route', `/ws=${echo.url}`]);
    proxy = await startCountingProxy(gateway.port);
  });

  afterAll(async () => {
    await context?.close();
    await proxy?.close();
    const code = await gateway?.stop();
    expect(code, `h2ws should drain and exit 0 on SIGTERM; stderr:\n${gateway?.stderr().slice(-3000)}`).toBe(0);
  });

  it(`${SEQUENTIAL} sockets one after another: all over HTTP/2 on one connection, none over HTTP/1.1, every record within a second of its close`, async () => {
    context = await browser.newContext();
    const page = await context.newPage();
    const handshakes = await watchHandshakes(context, page);
    await page.goto(`https://127.0.0.1:${proxy.port}/`, { waitUntil: 'load' });
    expect(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol)).toBe('h2');
    const prefix = `/ws/${runtime}/seq/`;
    const runs = await page.evaluate(openAndCloseInTurn, { count: SEQUENTIAL, path: prefix });
    expect(failedRuns(runs), 'sockets that did not open, echo and close cleanly').toEqual([]);
    expect(runs).toHaveLength(SEQUENTIAL);

    // Chromium's view: every handshake completed with 200 (RFC 8441), none with 101.
    await expect.poll(() => handshakes.filter((h) => new URL(h.url).pathname.startsWith(prefix)).length).toBe(SEQUENTIAL);
    const statuses = new Map<number, number>();
    for (const h of handshakes) if (new URL(h.url).pathname.startsWith(prefix)) statuses.set(h.status, (statuses.get(h.status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 200: SEQUENTIAL });
    // h2ws's view: "2 h2ws" at the backend for each, and one TCP connection for the page and all of them.
    const seen = echo.connections.filter((c) => c.path.startsWith(prefix));
    expect(seen).toHaveLength(SEQUENTIAL);
    expect(seen.filter((c) => c.headers.via !== '2 h2ws').map((c) => c.path)).toEqual([]);
    expect(proxy.accepted()).toBe(1);

    // Chromium ends its side with END_STREAM: each record is clean and prompt, with no release needed.
    await expect.poll(() => recordsOf(gateway.stderr(), prefix, runs).records.length, { timeout: RECORD_WITHIN_MS * 2 }).toBe(SEQUENTIAL);
    const { records, late } = recordsOf(gateway.stderr(), prefix, runs);
    expect(late, 'tunnel records later than a second after their close').toEqual([]);
    expect(records.filter((r) => r.transport !== 'h2' || r.end !== 'clean')).toEqual([]);
    const text = await scrapeMetrics(gateway.url);
    expect(metric(text, 'h2ws_tunnels_open')).toBe(0);
    expect(metric(text, 'h2ws_goaways_total', { side: 'sent' })).toBe(0);
  });
});
