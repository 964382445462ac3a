/** The process metrics as /metrics renders them, from plain samples. */
import { describe, expect, test } from 'vitest';
import { ProcessMetrics, type ProcessSample } from '../../src/metrics/process-metrics.ts';
import { Registry } from '../../src/metrics/registry.ts';

const SAMPLE: ProcessSample = {
  cpuUserSeconds: 1.5,
  cpuSystemSeconds: 0.25,
  residentMemoryBytes: 50_000_000,
  heapTotalBytes: 20_000_000,
  heapUsedBytes: 10_000_000,
  startTimeSeconds: 1_800_000_000,
  openFds: 12,
  maxFds: 1024,
  eventLoopLagSeconds: 0.002,
  eventLoopLagMaxSeconds: 0.3,
};

function values(registry: Registry): Record<string, string> {
  return Object.fromEntries(registry.render().split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(' ') as [string, string]));
}

describe('ProcessMetrics', () => {
  test('renders every sample value under the standard names', () => {
    const registry = new Registry();
    new ProcessMetrics(registry).update(SAMPLE);
    expect(values(registry)).toEqual({
      process_cpu_user_seconds_total: '1.5',
      process_cpu_system_seconds_total: '0.25',
      process_cpu_seconds_total: '1.75',
      process_start_time_seconds: '1800000000',
      process_resident_memory_bytes: '50000000',
      process_open_fds: '12',
      process_max_fds: '1024',
      nodejs_heap_size_total_bytes: '20000000',
      nodejs_heap_size_used_bytes: '10000000',
      nodejs_eventloop_lag_seconds: '0.002',
      nodejs_eventloop_lag_max_seconds: '0.3',
    });
    expect(registry.render()).toContain('# TYPE process_cpu_seconds_total counter\n');
    expect(registry.render()).toContain('# TYPE process_resident_memory_bytes gauge\n');
  });

  test('CPU counters follow the process and never go down', () => {
    const registry = new Registry();
    const metrics = new ProcessMetrics(registry);
    metrics.update(SAMPLE);
    metrics.update({ ...SAMPLE, cpuUserSeconds: 2, cpuSystemSeconds: 0.5 });
    expect(values(registry).process_cpu_user_seconds_total).toBe('2');
    expect(values(registry).process_cpu_seconds_total).toBe('2.5');
    metrics.update({ ...SAMPLE, cpuUserSeconds: 1 });
    expect(values(registry).process_cpu_user_seconds_total).toBe('2');
  });

  test('descriptors the OS does not report have no sample', () => {
    const registry = new Registry();
    new ProcessMetrics(registry).update({ ...SAMPLE, openFds: undefined, maxFds: undefined });
    const text = registry.render();
    expect(text).toContain('# TYPE process_open_fds gauge\n');
    expect(text).not.toMatch(/^process_open_fds /m);
    expect(text).not.toMatch(/^process_max_fds /m);
  });
});
