/**
 * The live status page (/status) in headless Chromium, served by a gateway started with
 * --self-signed. The page's own WebSocket (/status/ws) must ride the page's h2 connection
 * (RFC 8441), list the tunnels the test holds open (a node:http2 client, an HTTP/1.1 `ws`
 * client and a socket the page itself opens), and follow their traffic byte for byte. The
 * run saves a screenshot to SCREENSHOT_DIR (`npm run docs:screenshots` refreshes docs/status.png).
 */
import { mkdirSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { clientFrame, connectH2, FrameSink, type H2Client, once, openTunnel } from '../helpers/h2-client.ts';
import { tunnelRecords } from '../helpers/logs.ts';
import { type Backend, type ChromiumHandle, type GatewayProcess, launchChromium, loadTestPage, SCREENSHOT_DIR, startBackend, startGateway, watchHandshakes } from './helpers.ts';

const SCREENSHOT = path.join(SCREENSHOT_DIR, 'status.png');

let echo: Backend;
let gateway: GatewayProcess;
let browser: ChromiumHandle;
let context: BrowserContext | undefined;
let client: H2Client | undefined;

beforeAll(async () => {
  // Launch first: without Chromium the case fails here with a clear message.
  browser = await launchChromium();
  echo = await startBackend();
  gateway = await startGateway(['--route', `/ws=${echo.url}`, '--route', `/chat=${echo.url}`]);
});

afterAll(async () => {
  await client?.close();
  await context?.close();
  await browser?.close();
  const code = await gateway?.stop();
  await echo?.close();
  if (gateway !== undefined) expect(code, `h2ws should drain and exit 0 on SIGTERM; stderr:\n${gateway.stderr()}`).toBe(0);
});

/** The rows of the "Open tunnels" table, as the page renders them. */
function openRows(page: Page): Promise<Array<{ route: string; transport: string; count: string }>> {
  return page.$$eval('#open tr', (rows) =>
    rows.map((tr) => ({ route: (tr as HTMLElement).dataset.route ?? '', transport: (tr as HTMLElement).dataset.transport ?? '', count: tr.lastElementChild?.textContent ?? '' })),
  );
}

const text = (page: Page, selector: string) => page.textContent(selector);

/** expect.poll with room for a loaded machine (snapshots arrive once a second). */
const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 10_000 });

describe('the status page', () => {
  it('lists the open tunnels live over h2, follows their bytes exactly, and is screenshotted', async () => {
    // An h2 tunnel from node:http2 and an HTTP/1.1 one from `ws`, both on /chat.
    client = await connectH2(gateway.url);
    const h2 = await openTunnel(client, '/chat', { ':scheme': 'https' });
    expect(h2.status).toBe(200);
    const h2Sink = new FrameSink(false);
    h2.stream.on('data', (d: Buffer) => h2Sink.write(d));
    const h1 = new WebSocket(`${gateway.url.replace('https:', 'wss:')}chat`, { rejectUnauthorized: false });
    h1.on('error', () => {});
    await once(h1, 'open');

    // The page, over h2; its status socket rides the same connection as extended CONNECT.
    context = await browser.newContext();
    const page = await context.newPage();
    const handshakes = await watchHandshakes(context, page);
    expect((await loadTestPage(page, `${gateway.url}status`)).status).toBe(200);
    expect(await page.title()).toBe('h2ws status');
    expect(await page.evaluate(() => window.h2wsTest.nextHopProtocol())).toBe('h2');
    await poll(() => text(page, '#transport')).toBe('live over h2');
    await poll(() => text(page, '#state')).toBe('ready');
    // Chromium's own view (DevTools protocol): the status socket's handshake answered 200, the RFC 8441 answer (HTTP/1.1 gives 101).
    await poll(() => handshakes.filter((h) => new URL(h.url).pathname === '/status/ws').map((h) => h.status)).toEqual([200]);

    // A third tunnel, from the page itself, on /ws.
    const mine = await page.evaluate(() => window.h2wsTest.open('/ws/page'));
    expect(mine).toMatchObject({ opened: true, errorEvent: false });
    const seen = await echo.connection('/ws/page');
    expect(seen.headers.via).toBe('2 h2ws');

    // All three, by route and transport; the status socket itself is not among them.
    await poll(() => openRows(page)).toEqual([
      { route: '/chat', transport: 'h1', count: '1' },
      { route: '/chat', transport: 'h2', count: '1' },
      { route: '/ws', transport: 'h2', count: '1' },
    ]);
    expect(await text(page, '#open-total')).toBe('3');
    // Two h2 connections (node:http2 and Chromium), one HTTP/1.1 connection (`ws`).
    await poll(() => text(page, '#sessions-h2')).toBe('2');
    expect(await text(page, '#sessions-h1')).toBe('1');
    // Nothing has been relayed yet.
    expect([await text(page, '#bytes-up'), await text(page, '#bytes-down')]).toEqual(['0', '0']);

    // Traffic on all three, and the page follows it exactly (RFC 6455 §5.2 frame sizes):
    // node:http2 1000 B → 1008 up (2 + 2-byte length + 4 mask), 1004 down;
    // the page's 13 B → 19 up, 15 down; ws's 7 B → 13 up, 9 down.
    const big = 'x'.repeat(1000);
    expect(clientFrame(big).length).toBe(1008);
    h2.stream.write(clientFrame(big));
    await h2Sink.until(() => h2Sink.messages.length === 1);
    expect(await page.evaluate((id) => window.h2wsTest.echoText(id, 'from the page'), mine.id)).toEqual({ same: true, type: 'string', length: 13 });
    const reply = once<Buffer>(h1, 'message');
    h1.send('over h1');
    expect(String(await reply)).toBe('over h1');
    await poll(() => text(page, '#bytes-up')).toBe(String(1008 + 19 + 13));
    await poll(() => text(page, '#bytes-down')).toBe(String(1004 + 15 + 9));
    // The rate line is drawn from consecutive snapshots.
    await poll(() => text(page, '#rate')).toMatch(/^now: \d+ B\/s to clients, \d+ B\/s to backends$/);

    // The HTTP/1.1 tunnel closes (1000): its row goes, its close frames count (8 up, 4 down),
    // and it shows up among the recent outcomes, as does a handshake that found no route.
    const closed = new Promise<number>((resolve) => h1.once('close', (code: number) => resolve(code)));
    h1.close(1000);
    expect(await closed).toBe(1000);
    await poll(() => tunnelRecords(gateway.stderr(), { path: '/chat', transport: 'h1' }).length).toBe(1);
    expect((await openTunnel(client, '/nowhere', { ':scheme': 'https' })).status).toBe(404);
    await poll(() => openRows(page)).toEqual([
      { route: '/chat', transport: 'h2', count: '1' },
      { route: '/ws', transport: 'h2', count: '1' },
    ]);
    expect(await text(page, '#open-total')).toBe('2');
    await poll(() => text(page, '#bytes-up')).toBe(String(1008 + 19 + 13 + 8));
    await poll(() => text(page, '#bytes-down')).toBe(String(1004 + 15 + 9 + 4));
    await poll(() => text(page, '#sessions-h1')).toBe('0');
    const recent = () => page.$$eval('#recent tr', (rows) => rows.map((tr) => Array.from(tr.children).slice(1).map((td) => td.textContent)));
    await poll(recent).toEqual([
      ['h2', 'none', 'rejected', '404'],
      ['HTTP/1.1', '/chat', 'ok', 'clean'],
    ]);

    // A few seconds of uneven traffic, so the screenshot's throughput chart has a shape.
    const perSecond = [4000, 14000, 7000, 18000, 10000];
    for (let i = 0; i < 25; i++) {
      h2.stream.write(clientFrame('y'.repeat(perSecond[Math.floor(i / 5)]! / 5)));
      await new Promise((r) => setTimeout(r, 200));
    }
    await h2Sink.until(() => h2Sink.messages.length === 26);
    await poll(() => page.$eval('#down', (line) => (line.getAttribute('points') ?? '').split(' ').length)).toBeGreaterThanOrEqual(6);

    expect(page.viewportSize()).toEqual({ width: 1200, height: 900 });
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // The gateway's side: a record for each tunnel that ended, none for the status socket.
    expect(tunnelRecords(gateway.stderr(), { path: '/chat', transport: 'h1', outcome: 'ok', end: 'clean', bytes_to_backend: 13 + 8, bytes_to_client: 9 + 4 })).toHaveLength(1);
    expect(tunnelRecords(gateway.stderr(), { path: '/nowhere', outcome: 'rejected', status: 404 })).toHaveLength(1);
    expect(tunnelRecords(gateway.stderr(), { path: '/status/ws' })).toEqual([]);
    h2.stream.close(http2.constants.NGHTTP2_CANCEL);
  });
});
