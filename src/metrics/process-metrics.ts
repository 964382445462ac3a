/**
 * The process metrics operators expect from any exporter, under the names Prometheus's client
 * libraries use (`process_*` from the Go/Python conventions, `nodejs_*` as prom-client spells
 * them), so existing dashboards and alerts work unchanged on Node, Deno and Bun alike.
 *
 * Pure: the caller reads the process (src/runtime/process-stats.ts) and hands over a sample.
 *
 * @module
 */
import type { Counter, Gauge, Registry } from './registry.ts';

/** One reading of the process, taken when /metrics is scraped. */
export interface ProcessSample {
  /** CPU time in user mode since the process started, in seconds. */
  readonly cpuUserSeconds: number;
  /** CPU time in system mode, in seconds. */
  readonly cpuSystemSeconds: number;
  /** Resident set size. */
  readonly residentMemoryBytes: number;
  /** The JavaScript engine's heap, reserved. */
  readonly heapTotalBytes: number;
  /** Heap in use. */
  readonly heapUsedBytes: number;
  /** Unix time the process started, in seconds. */
  readonly startTimeSeconds: number;
  /** Open file descriptors; undefined where the OS does not tell (only Linux does). */
  readonly openFds: number | undefined;
  /** The soft limit on open descriptors; undefined off Linux. */
  readonly maxFds: number | undefined;
  /** How late the event loop ran a timer at the latest check, in seconds. */
  readonly eventLoopLagSeconds: number;
  /** The largest lag since the previous sample. */
  readonly eventLoopLagMaxSeconds: number;
}

/** The process metrics, registered in a registry and refreshed from a {@link ProcessSample}. */
export class ProcessMetrics {
  readonly #cpuUser: Counter;
  readonly #cpuSystem: Counter;
  readonly #cpu: Counter;
  readonly #gauges: ReadonlyArray<readonly [Gauge, (s: ProcessSample) => number | undefined]>;

  constructor(registry: Registry) {
    this.#cpuUser = registry.counter({ name: 'process_cpu_user_seconds_total', help: 'Total user CPU time spent in seconds.' });
    this.#cpuSystem = registry.counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.' });
    this.#cpu = registry.counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.' });
    const gauge = (name: string, help: string, read: (s: ProcessSample) => number | undefined) => [registry.gauge({ name, help }), read] as const;
    this.#gauges = [
      gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', (s) => s.startTimeSeconds),
      gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', (s) => s.residentMemoryBytes),
      gauge('process_open_fds', 'Number of open file descriptors.', (s) => s.openFds),
      gauge('process_max_fds', 'Maximum number of open file descriptors.', (s) => s.maxFds),
      gauge('nodejs_heap_size_total_bytes', 'Process heap size from the JavaScript engine in bytes.', (s) => s.heapTotalBytes),
      gauge('nodejs_heap_size_used_bytes', 'Process heap size used from the JavaScript engine in bytes.', (s) => s.heapUsedBytes),
      gauge('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds, at the latest check.', (s) => s.eventLoopLagSeconds),
      gauge('nodejs_eventloop_lag_max_seconds', 'The largest event loop lag since the previous scrape, in seconds.', (s) => s.eventLoopLagMaxSeconds),
    ];
  }

  /** Sets every metric from the sample. CPU counters move by the difference, never down. */
  update(sample: ProcessSample): void {
    const advance = (counter: Counter, seconds: number) => counter.inc({}, Math.max(0, seconds - (counter.value({}) ?? 0)));
    advance(this.#cpuUser, sample.cpuUserSeconds);
    advance(this.#cpuSystem, sample.cpuSystemSeconds);
    advance(this.#cpu, sample.cpuUserSeconds + sample.cpuSystemSeconds);
    for (const [gauge, read] of this.#gauges) {
      const value = read(sample);
      if (value !== undefined) gauge.set({}, value);
    }
  }
}
