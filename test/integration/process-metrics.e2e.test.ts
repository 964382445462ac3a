/**
 * The standard process metrics (CPU, memory, start time, file descriptors, event-loop lag),
 * read inside Node, Deno and Bun by test/fixtures/process-stats-probe.ts, which blocks its own
 * event loop for 300 ms so the lag has something to show.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ProcessSample } from '../../src/metrics/process-metrics.ts';
import { RUNTIMES, scriptCommand } from '../helpers/gateway-process.ts';

const run = promisify(execFile);

/** Every process metric and its type, in the order /metrics lists them. */
const PROCESS_METRICS = [
  ['process_cpu_user_seconds_total', 'counter'],
  ['process_cpu_system_seconds_total', 'counter'],
  ['process_cpu_seconds_total', 'counter'],
  ['process_start_time_seconds', 'gauge'],
  ['process_resident_memory_bytes', 'gauge'],
  ['process_open_fds', 'gauge'],
  ['process_max_fds', 'gauge'],
  ['nodejs_heap_size_total_bytes', 'gauge'],
  ['nodejs_heap_size_used_bytes', 'gauge'],
  ['nodejs_eventloop_lag_seconds', 'gauge'],
  ['nodejs_eventloop_lag_max_seconds', 'gauge'],
] as const;

describe.each(RUNTIMES)('process metrics under %s', (runtime) => {
  it('reads CPU, memory, start time, descriptors and a 300 ms event-loop stall, and exits by itself', async () => {
    const { cmd, args } = scriptCommand(runtime, 'test/fixtures/process-stats-probe.ts');
    const startedAt = Date.now() / 1000;
    // execFile resolves only when the process exits: the lag check's timer must not hold it.
    const { stdout } = await run(cmd, args, { timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } });
    const { runtime: seen, first, second, exposition } = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      runtime: string; first: ProcessSample; second: ProcessSample; exposition: string;
    };
    expect(seen).toBe(runtime);

    expect(first.cpuUserSeconds).toBeGreaterThan(0);
    expect(first.cpuSystemSeconds).toBeGreaterThanOrEqual(0);
    expect(first.residentMemoryBytes).toBeGreaterThan(1 << 20);
    expect(first.heapUsedBytes).toBeGreaterThan(0);
    expect(first.heapTotalBytes).toBeGreaterThanOrEqual(first.heapUsedBytes);
    // Started after this test did, give or take the clocks' rounding.
    expect(first.startTimeSeconds).toBeGreaterThan(startedAt - 5);
    expect(first.startTimeSeconds).toBeLessThanOrEqual(Date.now() / 1000);
    expect(first.openFds).toBeGreaterThanOrEqual(3); // stdin, stdout, stderr at least
    expect(first.maxFds).toBeGreaterThanOrEqual(first.openFds!);

    // The stall shows as the largest lag; reading it starts a new window.
    expect(first.eventLoopLagMaxSeconds).toBeGreaterThanOrEqual(0.2);
    expect(second.eventLoopLagMaxSeconds).toBeLessThan(0.2);
    expect(second.eventLoopLagMaxSeconds).toBe(second.eventLoopLagSeconds);

    for (const [name, type] of PROCESS_METRICS) {
      expect(exposition, name).toContain(`# TYPE ${name} ${type}\n`);
      expect(exposition, name).toMatch(new RegExp(`^${name} \\d`, 'm'));
    }
    expect(exposition.indexOf('h2ws_tunnels_open')).toBeLessThan(exposition.indexOf('process_cpu_user_seconds_total'));
  });
});
