/**
 * Many WebSockets opened and closed one after another on one page, as a long-lived tab that
 * reconnects does, for the browser suites (Chromium and Firefox): the in-page runner, and
 * the check that h2ws logged each tunnel soon after its close.
 */
import { type LogRecord, tunnelRecords } from '../helpers/logs.ts';

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
