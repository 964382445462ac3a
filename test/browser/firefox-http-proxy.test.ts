/**
 * Headless Firefox opens an existing app through h2ws (docs/http-proxy.md), as Chromium does
 * in chromium-http-proxy.test.ts: the page and its assets come from the app's HTTP upstream
 * over HTTP/2, and each of the page's WebSockets, bridged to a plain `ws` backend, rides that
 * connection as RFC 8441 extended CONNECT. Firefox has no DevTools protocol here, so the
 * evidence is h2ws's: the Via it adds ("2 h2ws" for an h2 client), its handshake counter by
 * transport (GET /metrics), and a TCP proxy in front that counts one connection for everything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { type AppResult, type AppUpstream, PAGE_SOCKETS, startAppUpstream } from './app-upstream.ts';
import { type FirefoxHandle, launchFirefox } from './firefox.ts';
import { type Backend, type GatewayProcess, startBackend, startCountingProxy, startGateway } from './helpers.ts';

let firefox: FirefoxHandle;
let app: AppUpstream;
let backend: Backend;
let gateway: GatewayProcess;

beforeAll(async () => {
  firefox = await launchFirefox();
  app = await startAppUpstream();
  backend = await startBackend();
  gateway = await startGateway(['--backend', backend.url, '--http-backend', app.url]);
});

afterAll(async () => {
  await firefox?.close();
  const code = await gateway?.stop();
  await app?.close();
  await backend?.close();
  if (gateway !== undefined) expect(code, `h2ws should drain and exit 0; stderr:\n${gateway.stderr()}`).toBe(0);
});

describe('Firefox → h2ws → an existing app (HTTP upstream + ws backend)', () => {
  it('loads the page and its assets over h2, and every page socket arrives as extended CONNECT on that connection', async () => {
    const proxy = await startCountingProxy(gateway.port);
    try {
      const page = await firefox.newPage();
      const origin = `https://127.0.0.1:${proxy.port}`;
      const response = await page.goto(`${origin}/`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe('app behind h2ws');
      const result = (await page.evaluate(() => window.appResult)) as AppResult;

      expect(result.navigation).toBe('h2');
      expect(result.styled).toBe('17px');
      const assets = result.resources.filter((r) => r.name.startsWith('/assets/'));
      expect(assets.map((r) => r.name).sort()).toEqual(['/assets/app.js', '/assets/logo.svg', '/assets/style.css']);
      for (const asset of assets) expect(asset.protocol, asset.name).toBe('h2');
      for (const path of ['/', '/assets/style.css', '/assets/app.js', '/assets/logo.svg']) {
        expect(app.requests.find((r) => r.path === path), `the app's record of ${path}`).toMatchObject({ via: '2 h2ws', forwardedProto: 'https' });
      }

      expect(result.sockets).toEqual(PAGE_SOCKETS.map((path) => ({ path, opened: true, echoed: true })));
      for (const path of PAGE_SOCKETS) {
        const seen = await backend.connection(path);
        expect(seen.headers.via, `Via received by the backend for ${path}`).toBe('2 h2ws');
        expect(seen.headers.origin).toBe(origin);
      }
      // h2ws's count of the handshakes it bridged, by transport: all three as HTTP/2.
      const metrics = await metricsText(gateway.url);
      expect(metrics).toContain('h2ws_tunnels_total{route="/",transport="h2",outcome="ok"} 3');
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
