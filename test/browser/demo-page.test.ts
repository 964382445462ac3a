/**
 * The embedded default (what `npm start` runs, no routes): the demo page at "/" in headless
 * Chromium. Its sockets must ride the page's h2 connection, its chat must round-trip, and
 * the run saves a screenshot to SCREENSHOT_DIR (`npm run docs:screenshots` refreshes docs/demo.png).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChromiumHandle, type GatewayProcess, launchChromium, SCREENSHOT_DIR, startGateway, watchHandshakes } from './helpers.ts';

const H2 = 'HTTP/2 extended CONNECT (RFC 8441)';
const SCREENSHOT = path.join(SCREENSHOT_DIR, 'demo.png');

let gateway: GatewayProcess;
let browser: ChromiumHandle;
let context: BrowserContext | undefined;

beforeAll(async () => {
  browser = await launchChromium();
  gateway = await startGateway([]);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  const code = await gateway?.stop();
  if (gateway !== undefined) expect(code, `h2ws should drain and exit 0 on SIGTERM; stderr:\n${gateway.stderr()}`).toBe(0);
});

describe('the demo page of the embedded default', () => {
  it('loads over h2, chats over an RFC 8441 socket, opens 10 more, and is screenshotted', async () => {
    await expect.poll(() => gateway.stdout()).toMatch(/embedded demo: open https:\/\/localhost:\d+\//);
    context = await browser.newContext();
    const page = await context.newPage();
    const handshakes = await watchHandshakes(context, page);
    const response = await page.goto(gateway.url, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(await page.title()).toContain('h2ws demo');
    await expect.poll(() => page.textContent('#page-proto')).toBe('h2');

    // The chat socket (row 1): open, over h2 as the backend reports it, with "chat" and deflate.
    const row = (n: number) => page.locator('#sockets tr').nth(n - 1);
    await expect.poll(() => row(1).locator('.s').textContent()).toBe('open');
    await expect.poll(() => row(1).locator('.t').textContent()).toBe(H2);
    expect(await row(1).locator('.p').textContent()).toBe('chat');
    expect(await row(1).locator('.e').textContent()).toContain('permessage-deflate');
    await expect.poll(() => page.textContent('#log')).toContain(`joined via ${H2}`);

    // Type into the chat form; the message comes back from the backend's broadcast.
    const message = 'hello from headless Chromium';
    await page.fill('#text', message);
    await page.press('#text', 'Enter');
    await expect.poll(() => page.locator('#log .out').allTextContents()).toContain(`→ ${message}`);
    await expect.poll(() => page.locator('#log .in').allTextContents()).toContain(`← ${message}`);

    // "Open 10 more echo sockets": ten more rows, each open over h2.
    await page.click('#open10');
    await expect.poll(() => page.locator('#sockets tr').count()).toBe(11);
    await expect.poll(() => page.locator('#sockets tr .s').allTextContents(), { timeout: 10_000 }).toEqual(Array(11).fill('open'));
    await expect.poll(() => page.locator('#sockets tr .t').allTextContents()).toEqual(Array(11).fill(H2));
    expect(await page.locator('#sockets tr td:nth-child(2)').allTextContents()).toEqual(['chat', ...Array(10).fill('echo')]);

    // The browser's own view of all eleven handshakes: 200, the RFC 8441 answer.
    await expect.poll(() => handshakes.map((h) => h.status)).toEqual(Array(11).fill(200));
    expect(page.viewportSize()).toEqual({ width: 1200, height: 900 });

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
