/**
 * Reading the process for its metrics: CPU, memory, file descriptors and event-loop lag.
 * `node:process`, `node:fs` and `node:timers` behave the same here on Node, Deno and Bun.
 * prom-client's event-loop histogram rests on `perf_hooks.monitorEventLoopDelay`, which under
 * Deno reports microseconds for a loop blocked 300 ms; a drifting timer measures all three.
 */
import { readdirSync, readFileSync } from 'node:fs';
import process from 'node:process';
import { setInterval } from 'node:timers';
import type { ProcessSample } from '../metrics/process-metrics.ts';

/** How often the event-loop check runs: fine enough to catch a stall, cheap enough to ignore. */
const LAG_INTERVAL_MS = 100;

const startTimeSeconds = Date.now() / 1000 - process.uptime();

let monitor: { last: number; lag: number; max: number } | undefined;

/**
 * Starts the process-wide event-loop check once (later calls do nothing). Its timer is unref'd,
 * so it never keeps the process alive.
 */
export function startEventLoopMonitor(): void {
  if (monitor !== undefined) return;
  const state = { last: performance.now(), lag: 0, max: 0 };
  monitor = state;
  setInterval(() => {
    const now = performance.now();
    state.lag = Math.max(0, now - state.last - LAG_INTERVAL_MS) / 1000;
    state.max = Math.max(state.max, state.lag);
    state.last = now;
  }, LAG_INTERVAL_MS).unref();
}

/** The open descriptors and their soft limit, from /proc (Linux); undefined elsewhere. */
function fileDescriptors(): { open: number | undefined; max: number | undefined } {
  try {
    // Less the descriptor readdir itself holds open while it lists the directory.
    const open = readdirSync('/proc/self/fd').length - 1;
    const limit = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return { open, max: limit === undefined ? undefined : Number(limit) };
  } catch {
    return { open: undefined, max: undefined };
  }
}

/** One reading of the process; resets the "largest lag since the previous sample". */
export function readProcessSample(): ProcessSample {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const fds = fileDescriptors();
  const lag = monitor?.lag ?? 0;
  const lagMax = monitor?.max ?? 0;
  if (monitor !== undefined) monitor.max = monitor.lag;
  return {
    cpuUserSeconds: cpu.user / 1e6,
    cpuSystemSeconds: cpu.system / 1e6,
    residentMemoryBytes: memory.rss,
    heapTotalBytes: memory.heapTotal,
    heapUsedBytes: memory.heapUsed,
    startTimeSeconds,
    openFds: fds.open,
    maxFds: fds.max,
    eventLoopLagSeconds: lag,
    eventLoopLagMaxSeconds: lagMax,
  };
}
