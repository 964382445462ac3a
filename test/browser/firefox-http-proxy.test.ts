/**
 * Headless Firefox opens an existing app through h2ws, run under Node, Deno and Bun
 * (docs/http-proxy.md), as Chromium does in chromium-http-proxy.test.ts: the page and its
 * assets come from the app's HTTP upstream over HTTP/2, and each of the page's WebSockets,
 * bridged to a plain `ws` backend, rides that connection as RFC 8441 extended CONNECT. Firefox has no DevTools protocol here, so the
 * evidence is h2ws's: the Via it adds ("2 h2ws" for an h2 client), its handshake counter by
 * transport (GET /metrics), and a TCP proxy in front that counts one connection for everything.
 */
import https from 'node:https';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AppResult, describeAppBehindGateway, expectAppOverOneH2Connection, PAGE_SOCKETS } from './app-upstream.ts';
import { type FirefoxHandle, launchFirefox } from './firefox.ts';
import { startCountingProxy } from './helpers.ts';

let firefox: FirefoxHandle;

beforeAll(async () => {
  firefox = await launchFirefox();
});

afterAll(async () => {
  await firefox?.close();
});

describeAppBehindGateway('Firefox → h2ws under %s → an existing app (HTTP upstream + ws backend)', (setup) => {
  it('loads the page and its assets over h2, and every page socket arrives as extended CONNECT on that connection', async () => {
    const proxy = await startCountingProxy(setup().gateway.port);
    try {
      const page = await firefox.newPage();
      const origin = `https://127.0.0.1:${proxy.port}`;
      const response = await page.goto(`${origin}/`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe('app behind h2ws');
      await expectAppOverOneH2Connection((await page.evaluate(() => window.appResult)) as AppResult, setup(), origin);
      // h2ws's count of the handshakes it bridged, by transport: every page socket as HTTP/2.
      const metrics = await metricsText(setup().gateway.url);
      expect(metrics).toContain(`h2ws_tunnels_total{route="/",transport="h2",outcome="ok"} ${PAGE_SOCKETS.length}`);
      const overH1 = metrics.split('\n').filter((line) => line.startsWith('h2ws_tunnels_total{') && line.includes('transport="h1"') && !line.endsWith(' 0'));
      expect(overH1).toEqual([]);
      expect(proxy.accepted()).toBe(1);
    } finally {
      await proxy.close();
    }
  });
});

/** GET /metrics from the gateway (self-signed certificate). */
function metricsText(base: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get(new URL('/metrics', base), { rejectUnauthorized: false, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}
