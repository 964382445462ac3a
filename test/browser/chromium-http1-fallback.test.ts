/**
 * The same page with Chromium started with --disable-http2: ALPN picks http/1.1, so the
 * WebSocket is an RFC 6455 `Upgrade` on the same port, bridged the same way.
 */
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tunnelRecords } from '../helpers/logs.ts';
import {
  type Backend,
  type ChromiumHandle,
  type GatewayProcess,
  launchChromium,
  loadTestPage,
  startBackend,
  startGateway,
  watchHandshakes,
} from './helpers.ts';

let echo: Backend;
let gateway: GatewayProcess;
let browser: ChromiumHandle;
let context: BrowserContext | undefined;

beforeAll(async () => {
  browser = await launchChromium(['--disable-http2']);
  echo = await startBackend();
  gateway = await startGateway(['--route', `/ws=${echo.url}`]);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  const code = await gateway?.stop();
  await echo?.close();
  if (gateway !== undefined) expect(code, `h2ws should drain and exit 0 on SIGTERM; stderr:\n${gateway.stderr()}`).toBe(0);
});

describe('Chromium with --disable-http2 → h2ws (HTTP/1.1 Upgrade, same port)', () => {
  it('loads the page over http/1.1 and bridges its WebSocket as an HTTP/1.1 upgrade', async () => {
    context = await browser.newContext();
    const page = await context.newPage();
    const handshakes = await watchHandshakes(context, page);
    await loadTestPage(page, gateway.url);
    expect(await page.evaluate(() => window.h2wsTest.nextHopProtocol())).toBe('http/1.1');

    const opened = await page.evaluate(() => window.h2wsTest.open('/ws/h1', ['chat']));
    expect(opened).toMatchObject({ opened: true, protocol: 'chat', errorEvent: false });
    const seen = await echo.connection('/ws/h1');
    // h2ws's record of the transport: Via "1.1" for an HTTP/1.1 client.
    expect(seen.headers.via).toBe('1.1 h2ws');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    // The browser's view: a classic 101 Switching Protocols.
    const url = `${gateway.url.replace(/^https:/, 'wss:')}ws/h1`;
    await expect.poll(() => handshakes.map((h) => [h.url, h.status])).toEqual([[url, 101]]);

    expect(await page.evaluate((id) => window.h2wsTest.echoText(id, 'hello over 1.1'), opened.id)).toEqual({ same: true, type: 'string', length: 14 });
    expect(await page.evaluate((id) => window.h2wsTest.echoBinary(id, 65_536), opened.id)).toEqual({ same: true, type: 'arraybuffer', length: 65_536 });
    await page.evaluate((id) => window.h2wsTest.close(id, 4000, 'bye'), opened.id);
    expect(await seen.closed).toEqual({ code: 4000, reason: 'bye' });
    // h2ws's own log of the tunnel names its transport.
    await expect.poll(() => tunnelRecords(gateway.stderr(), { path: '/ws/h1', transport: 'h1', outcome: 'ok', end: 'clean', backend: /^ws:\/\// }).length).toBe(1);
  });
});
