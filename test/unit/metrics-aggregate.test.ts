/**
 * Summing the Prometheus expositions of several worker processes (src/metrics/aggregate.ts):
 * every sample with the same name and labels added up, exactly, in the order first seen.
 */
import { describe, expect, test } from 'vitest';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.ts';
import { addValues, mergeExpositions, monotonicOnly, parseExposition, total, labelProcessMetrics } from '../../src/metrics/aggregate.ts';

describe('mergeExpositions', () => {
  test('two GatewayMetrics add up to what one would have counted', () => {
    const one = new GatewayMetrics({ routes: ['/chat'] });
    const two = new GatewayMetrics({ routes: ['/chat'] });
    const both = new GatewayMetrics({ routes: ['/chat'] });
    const work: Array<[GatewayMetrics, number, number]> = [[one, 1500, 10], [two, 250, 3], [one, 42, 7]];
    for (const [m, ms, bytes] of work) {
      for (const target of [m, both]) {
        target.handshake('/chat', 'h2', 'ok');
        target.tunnelOpened('/chat', 'h2');
        target.tunnelClosed('/chat', 'h2', { bytesToBackend: bytes, bytesToClient: 2 * bytes, durationMs: ms });
      }
    }
    one.reset(0x8, 'received');
    both.reset(0x8, 'received');
    two.sessionOpened('h1');
    both.sessionOpened('h1');
    two.handshake(undefined, 'h1', 'rejected');
    both.handshake(undefined, 'h1', 'rejected');
    const merged = parseExposition(mergeExpositions([one.render(), two.render()]));
    const expected = parseExposition(both.render());
    expect(new Map([...merged].map(([k, f]) => [k, [...f.samples]]))).toEqual(new Map([...expected].map(([k, f]) => [k, [...f.samples]])));
    expect(mergeExpositions([one.render(), two.render()])).toContain('h2ws_tunnel_duration_seconds_sum{route="/chat"} 1.792\n');
  });

  test('HELP and TYPE once per family; a family only one process has is kept', () => {
    const a = '# HELP x_total X.\n# TYPE x_total counter\nx_total{a="1"} 2\n';
    const b = '# HELP x_total X.\n# TYPE x_total counter\nx_total{a="1"} 3\nx_total{a="2"} 1\n# HELP y Y.\n# TYPE y gauge\ny 4\n';
    expect(mergeExpositions([a, b])).toBe('# HELP x_total X.\n# TYPE x_total counter\nx_total{a="1"} 5\nx_total{a="2"} 1\n# HELP y Y.\n# TYPE y gauge\ny 4\n');
    expect(mergeExpositions([])).toBe('');
  });

  test('label values with spaces, braces and escaped quotes are kept whole', () => {
    const text = '# TYPE x counter\nx{path="/a b}",q="say \\"hi\\""} 1\n';
    expect(mergeExpositions([text, text])).toBe('# TYPE x counter\nx{path="/a b}",q="say \\"hi\\""} 2\n');
  });
});

describe('monotonicOnly and total', () => {
  test('a worker that ends leaves its counters and histograms, not its gauges', () => {
    const m = new GatewayMetrics({ routes: ['/r'] });
    m.tunnelOpened('/r', 'h2');
    m.handshake('/r', 'h2', 'ok');
    const kept = monotonicOnly(m.render());
    expect(kept).toContain('h2ws_tunnels_total{route="/r",transport="h2",outcome="ok"} 1');
    expect(kept).not.toContain('h2ws_tunnels_open');
    expect(kept).not.toContain('h2ws_sessions_open');
    expect(total(m.render(), 'h2ws_tunnels_open')).toBe(1);
    expect(total(m.render(), 'h2ws_missing')).toBe(0);
  });
});

describe('addValues', () => {
  test('decimals add exactly; integers stay integers; the rest as numbers', () => {
    expect(addValues('0.1', '0.2')).toBe('0.3');
    expect(addValues('1.5', '0.5')).toBe('2');
    expect(addValues('12345678901234567890', '1')).toBe('12345678901234567891');
    expect(addValues('-1.25', '0.25')).toBe('-1');
    expect(addValues('-0.25', '0.2')).toBe('-0.05');
    expect(addValues('+Inf', '1')).toBe('+Inf');
    expect(addValues('-Inf', '1')).toBe('-Inf');
    expect(addValues('NaN', '1')).toBe('NaN');
    expect(addValues('1e3', '1')).toBe('1001');
  });
});

describe('labelProcessMetrics', () => {
  test('gives each worker its own process_* and nodejs_* series, so merging never sums start times or lags', () => {
    const worker = (start: number) => `# HELP process_start_time_seconds Start.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ${start}\n# HELP nodejs_eventloop_lag_seconds Lag.\n# TYPE nodejs_eventloop_lag_seconds gauge\nnodejs_eventloop_lag_seconds{kind="x"} 0.5\n# HELP h2ws_tunnels_open Open.\n# TYPE h2ws_tunnels_open gauge\nh2ws_tunnels_open{route="/"} 2\n`;
    const merged = mergeExpositions([labelProcessMetrics(worker(100), '1'), labelProcessMetrics(worker(200), '2')]);
    expect(merged).toContain('process_start_time_seconds{worker="1"} 100\n');
    expect(merged).toContain('process_start_time_seconds{worker="2"} 200\n');
    expect(merged).toContain('nodejs_eventloop_lag_seconds{worker="1",kind="x"} 0.5\n');
    expect(merged).toContain('h2ws_tunnels_open{route="/"} 4\n');
  });
});
