/**
 * Headless Chromium opens an existing app through h2ws, run under Node, Deno and Bun
 * (docs/http-proxy.md): h2ws proxies the page and its assets from the app's HTTP upstream,
 * and the page's WebSockets, bridged to a plain `ws` backend, ride the same HTTP/2
 * connection as RFC 8441 extended CONNECT. The
 * evidence is the browser suite's: the handshake status Chromium reports over the DevTools
 * protocol (200 on h2, 101 on HTTP/1.1), the Via h2ws adds ("2 h2ws" for an h2 client), and a
 * TCP proxy in front that counts one connection for the page, its assets and its sockets.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAppBehindGateway, expectAppOverOneH2Connection, PAGE_SOCKETS } from './app-upstream.ts';
import { type ChromiumHandle, launchChromium, startCountingProxy, watchHandshakes } from './helpers.ts';

let browser: ChromiumHandle;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describeAppBehindGateway('Chromium → h2ws under %s → an existing app (HTTP upstream + ws backend)', (setup) => {
  it('loads the page and its assets over h2, and every page socket arrives as extended CONNECT on that connection', async () => {
    const proxy = await startCountingProxy(setup().gateway.port);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const handshakes = await watchHandshakes(context, page);
      const origin = `https://127.0.0.1:${proxy.port}`;
      const response = await page.goto(`${origin}/`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe('app behind h2ws');
      await expectAppOverOneH2Connection(await page.evaluate(() => window.appResult), setup(), origin);
      // Chromium's own record of each socket: an h2 WebSocket handshake completes with 200.
      for (const path of PAGE_SOCKETS) {
        await expect.poll(() => handshakes.find((h) => new URL(h.url).pathname === path)?.status, { message: `Chromium's handshake status for ${path}` }).toBe(200);
      }
      // The page, its assets and its sockets: one TCP connection reached h2ws.
      expect(proxy.accepted()).toBe(1);
    } finally {
      await context.close();
      await proxy.close();
    }
  });
});
