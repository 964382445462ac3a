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
import { RUNTIMES } from '../helpers/gateway-process.ts';
import { type Backend, type ChromiumHandle, launchChromium, startBackend, watchHandshakes } from './helpers.ts';
import { expectAllOverH2InTurn, openAndCloseInTurn, type ProxiedGateway, startProxiedGateway } from './sequential.ts';

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
  let at: ProxiedGateway;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    at = await startProxiedGateway(runtime, echo);
  });

  afterAll(async () => {
    await context?.close();
    await at?.stop();
  });

  it(`${SEQUENTIAL} sockets one after another: all over HTTP/2 on one connection, none over HTTP/1.1, every record within a second of its close`, async () => {
    context = await browser.newContext();
    const page = await context.newPage();
    const handshakes = await watchHandshakes(context, page);
    await page.goto(at.origin, { waitUntil: 'load' });
    expect(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol)).toBe('h2');
    const prefix = `/ws/${runtime}/seq/`;
    const runs = await page.evaluate(openAndCloseInTurn, { count: SEQUENTIAL, path: prefix });
    // h2ws's view, and the records (Chromium ends its side with END_STREAM: no release needed).
    await expectAllOverH2InTurn(runs, SEQUENTIAL, prefix, echo, at);
    // Chromium's view: every handshake completed with 200 (RFC 8441), none with 101.
    await expect.poll(() => handshakes.filter((h) => new URL(h.url).pathname.startsWith(prefix)).length).toBe(SEQUENTIAL);
    const statuses = new Map<number, number>();
    for (const h of handshakes) if (new URL(h.url).pathname.startsWith(prefix)) statuses.set(h.status, (statuses.get(h.status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 200: SEQUENTIAL });
  });
});
