/**
 * Many WebSockets opened and closed one after another on one page, as a long-lived tab that
 * reconnects does, for the browser suites (Chromium and Firefox): a gateway under a runtime
 * behind a counting proxy, the in-page runner, and the checks that every socket rode HTTP/2
 * and that h2ws logged each tunnel soon after its close.
 */
import { expect } from 'vitest';
import { type GatewayProcess, type RuntimeName, startGateway } from '../helpers/gateway-process.ts';
import { type LogRecord, tunnelRecords } from '../helpers/logs.ts';
import { metric, scrapeMetrics } from '../helpers/metrics.ts';
import { type Backend, type CountingProxy, startCountingProxy } from './helpers.ts';

/** The issue's bound: each tunnel's record arrives within a second of the socket's close. */
export const RECORD_WITHIN_MS = 1000;

/** What the page saw of one socket. */
export interface SocketRun {
  readonly opened: boolean;
  readonly echoed: boolean;
  readonly code: number;
  readonly wasClean: boolean;
  /** Date.now() in the page when the close event fired (the page and h2ws share the clock). */
  readonly closedAt: number;
}

/**
 * Runs in the page (pass it to `page.evaluate` with one argument): opens `count` sockets at
 * `${path}${i}` on the page's origin one after another; each echoes a message, then the page
 * closes it with 1000 and waits for its close event before opening the next.
 */
export async function openAndCloseInTurn({ count, path }: { count: number; path: string }): Promise<SocketRun[]> {
  const base = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
  const runs: SocketRun[] = [];
  for (let i = 0; i < count; i++) {
    const run = await new Promise<SocketRun>((resolve) => {
      const ws = new WebSocket(`${base}${i}`);
      let opened = false;
      let echoed = false;
      const timer = setTimeout(() => ws.close(), 10_000);
      ws.onopen = () => {
        opened = true;
        ws.send(`socket ${i}`);
      };
      ws.onmessage = (e) => {
        echoed = e.data === `socket ${i}`;
        ws.close(1000, 'done');
      };
      ws.onclose = (e) => {
        clearTimeout(timer);
        resolve({ opened, echoed, code: e.code, wasClean: e.wasClean, closedAt: Date.now() });
      };
    });
    runs.push(run);
    if (!run.opened) break;
  }
  return runs;
}

/** The sockets that did not open, echo and close cleanly with 1000, by index. */
export function failedRuns(runs: readonly SocketRun[]): Array<SocketRun & { i: number }> {
  return runs.map((r, i) => ({ i, ...r })).filter((r) => !r.opened || !r.echoed || r.code !== 1000 || !r.wasClean);
}

/**
 * h2ws's tunnel record of each run (path `${path}${i}`), and the ones missing or logged later
 * than {@link RECORD_WITHIN_MS} after the page saw the close.
 */
export function recordsOf(stderr: string, path: string, runs: readonly SocketRun[]): { records: LogRecord[]; late: string[] } {
  const byPath = new Map(tunnelRecords(stderr).map((r) => [String(r.path), r]));
  const records: LogRecord[] = [];
  const late: string[] = [];
  runs.forEach((run, i) => {
    const record = byPath.get(`${path}${i}`);
    const delay = record === undefined ? NaN : Date.parse(record.time) - run.closedAt;
    if (record === undefined || !(delay <= RECORD_WITHIN_MS)) late.push(`${i}: ${record === undefined ? 'no record' : `${delay} ms`}`);
    if (record !== undefined) records.push(record);
  });
  return { records, late };
}

/** A TLS gateway under `runtime` routing /ws to `backend`, behind a proxy that counts TCP connections. */
export interface ProxiedGateway {
  readonly gateway: GatewayProcess;
  readonly proxy: CountingProxy;
  /** The page origin through the proxy. */
  readonly origin: string;
  /** Closes the proxy, stops the gateway, and expects it to drain and exit 0. */
  stop(): Promise<void>;
}

export async function startProxiedGateway(runtime: RuntimeName, backend: Backend, config?: unknown): Promise<ProxiedGateway> {
  const gateway = await startGateway(runtime, ['--self-signed', '--listen', '127.0.0.1:0', '--route', `/ws=${backend.url}`], config);
  const proxy = await startCountingProxy(gateway.port);
  return {
    gateway,
    proxy,
    origin: `https://127.0.0.1:${proxy.port}/`,
    async stop() {
      await proxy.close();
      const code = await gateway.stop();
      expect(code, `h2ws should drain and exit 0 on SIGTERM; stderr:\n${gateway.stderr().slice(-3000)}`).toBe(0);
    },
  };
}

/**
 * What both browsers must show after {@link openAndCloseInTurn}: every socket opened, echoed
 * and closed cleanly; each reached the backend with h2ws's "2 h2ws" (an HTTP/2 client,
 * RFC 9110 §7.6.3); the page and all its sockets came over one TCP connection; h2ws logged
 * each as transport h2 and clean within a second of its close; none is left open, and no
 * GOAWAY was sent. Returns the tunnel records for the browser's own checks.
 */
export async function expectAllOverH2InTurn(runs: readonly SocketRun[], count: number, path: string, backend: Backend, at: ProxiedGateway): Promise<LogRecord[]> {
  expect(failedRuns(runs), 'sockets that did not open, echo and close cleanly').toEqual([]);
  expect(runs).toHaveLength(count);
  const seen = backend.connections.filter((c) => c.path.startsWith(path));
  expect(seen).toHaveLength(count);
  expect(seen.filter((c) => c.headers.via !== '2 h2ws').map((c) => c.path)).toEqual([]);
  expect(at.proxy.accepted()).toBe(1);
  const { gateway } = at;
  await expect.poll(() => recordsOf(gateway.stderr(), path, runs).records.length, { timeout: RECORD_WITHIN_MS * 2 }).toBe(count);
  const { records, late } = recordsOf(gateway.stderr(), path, runs);
  expect(late, 'tunnel records later than a second after their close').toEqual([]);
  expect(records.filter((r) => r.transport !== 'h2' || r.end !== 'clean')).toEqual([]);
  const text = await scrapeMetrics(gateway.url);
  expect(metric(text, 'h2ws_tunnels_open')).toBe(0);
  expect(metric(text, 'h2ws_goaways_total', { side: 'sent' })).toBe(0);
  return records;
}
