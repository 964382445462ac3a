/**
 * Headless Firefox for the browser suite: Debian's `firefox-esr`, driven over WebDriver BiDi
 * by `puppeteer-core` (the counterpart of Chromium via playwright-core in helpers.ts).
 *
 * Use:
 * ```ts
 * const firefox = await launchFirefox();        // throws a clear error when firefox-esr is missing
 * const page = await firefox.newPage();          // a puppeteer Page, in its own browser context
 * await page.goto('https://127.0.0.1:PORT/');    // self-signed certificates are accepted
 * const hop = await page.evaluate(() => performance.getEntriesByType('navigation')[0]?.toJSON().nextHopProtocol);
 * await firefox.close();                         // closes every page and the browser
 * ```
 * Each `newPage()` opens a fresh browser context (its own cookies and connection pool), so a
 * page's WebSockets share exactly the connection that page was loaded over. The browser keeps
 * to loopback: no background updates, telemetry, captive-portal checks or HTTP/3.
 * `.ci/run` installs firefox-esr with apt-get; without it every test fails, never skips.
 */
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';

export const FIREFOX = '/usr/bin/firefox-esr';

export interface FirefoxHandle {
  readonly browser: Browser;
  /** A new page in a fresh browser context (own cookies and connection pool). */
  newPage(): Promise<Page>;
  /** Closes all pages and the browser process. */
  close(): Promise<void>;
}

export interface FirefoxOptions {
  /** Extra about:config preferences, merged over the launcher's own. */
  readonly prefs?: Readonly<Record<string, unknown>>;
}

/** Preferences that keep a test browser quiet and on loopback. */
const QUIET_PREFS: Readonly<Record<string, unknown>> = {
  'app.update.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  // Firefox would try HTTP/3 only after an Alt-Svc; h2ws sends none, but keep it explicit.
  'network.http.http3.enable': false,
  'toolkit.telemetry.enabled': false,
};

/**
 * Launches Debian's firefox-esr headless with a fresh temporary profile. Fails loudly (never
 * skips) when the browser is missing.
 */
export async function launchFirefox(options: FirefoxOptions = {}): Promise<FirefoxHandle> {
  if (!existsSync(FIREFOX)) {
    throw new Error(
      `Firefox is not installed at ${FIREFOX}: the browser tests need Debian's firefox-esr ` +
        '(apt-get install firefox-esr; .ci/run installs it). They are never skipped.',
    );
  }
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    // The gateway's certificate is self-signed; this is for the tests only.
    acceptInsecureCerts: true,
    extraPrefsFirefox: { ...QUIET_PREFS, ...options.prefs },
  });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    async newPage() {
      const context = await browser.createBrowserContext();
      contexts.push(context);
      return context.newPage();
    },
    async close() {
      for (const context of contexts.splice(0)) await context.close().catch(() => {});
      await browser.close();
    },
  };
}
