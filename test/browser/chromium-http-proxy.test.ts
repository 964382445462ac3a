/**
 * Headless Chromium opens an existing app through h2ws (docs/http-proxy.md): h2ws proxies the
 * page and its assets from the app's HTTP upstream, and the page's WebSockets, bridged to a
 * plain `ws` backend, ride the same HTTP/2 connection as RFC 8441 extended CONNECT. The
 * evidence is the browser suite's: the handshake status Chromium reports over the DevTools
 * protocol (200 on h2, 101 on HTTP/1.1), the Via h2ws adds ("2 h2ws" for an h2 client), and a
 * TCP proxy in front that counts one connection for the page, its assets and its sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppUpstream, PAGE_SOCKETS, startAppUpstream } from './app-upstream.ts';
import { type Backend, type ChromiumHandle, type GatewayProcess, launchChromium, startBackend, startCountingProxy, startGateway, watchHandshakes } from './helpers.ts';

let browser: ChromiumHandle;
let app: AppUpstream;
let backend: Backend;
let gateway: GatewayProcess;

beforeAll(async () => {
  browser = await launchChromium();
  app = await startAppUpstream();
  backend = await startBackend();
  // The setup docs/http-proxy.md starts with.
  gateway = await startGateway(['--backend', backend.url, '--http-backend', app.url]);
});

afterAll(async () => {
  await browser?.close();
  const code = await gateway?.stop();
  await app?.close();
  await backend?.close();
  if (gateway !== undefined) expect(code, `h2ws should drain and exit 0; stderr:\n${gateway.stderr()}`).toBe(0);
});

describe('Chromium → h2ws → an existing app (HTTP upstream + ws backend)', () => {
  it('loads the page and its assets over h2, and every page socket arrives as extended CONNECT on that connection', async () => {
    const proxy = await startCountingProxy(gateway.port);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const handshakes = await watchHandshakes(context, page);
      const origin = `https://127.0.0.1:${proxy.port}`;
      const response = await page.goto(`${origin}/`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe('app behind h2ws');
      const result = await page.evaluate(() => window.appResult);

      // The page and its assets came from the upstream, through h2ws, over HTTP/2.
      expect(result.navigation).toBe('h2');
      expect(result.styled).toBe('17px');
      const assets = result.resources.filter((r) => r.name.startsWith('/assets/'));
      expect(assets.map((r) => r.name).sort()).toEqual(['/assets/app.js', '/assets/logo.svg', '/assets/style.css']);
      for (const asset of assets) expect(asset.protocol, asset.name).toBe('h2');
      for (const path of ['/', '/assets/style.css', '/assets/app.js', '/assets/logo.svg']) {
        expect(app.requests.find((r) => r.path === path), `the app's record of ${path}`).toMatchObject({ via: '2 h2ws', forwardedProto: 'https' });
      }

      // Each of the page's sockets opened and echoed, bridged to the ws backend as RFC 8441.
      expect(result.sockets).toEqual(PAGE_SOCKETS.map((path) => ({ path, opened: true, echoed: true })));
      for (const path of PAGE_SOCKETS) {
        const seen = await backend.connection(path);
        expect(seen.headers.via, `Via received by the backend for ${path}`).toBe('2 h2ws');
        expect(seen.headers.origin).toBe(origin);
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
