/** Prometheus text exposition format 0.0.4: exact rendered text for counters, gauges and histograms. */
import { describe, expect, test } from 'vitest';
import {
  Counter, escapeHelp, escapeLabelValue, formatValue, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE, Registry,
} from '../../src/metrics/registry.ts';

test('content type is the 0.0.4 text format', () => {
  expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
});

describe('formatValue', () => {
  test('integers print plainly, even past 2^32 and 1e21', () => {
    expect(formatValue(0)).toBe('0');
    expect(formatValue(-0)).toBe('0');
    expect(formatValue(42)).toBe('42');
    expect(formatValue(-7)).toBe('-7');
    expect(formatValue(2 ** 32 + 5)).toBe('4294967301');
    expect(formatValue(2 ** 53)).toBe('9007199254740992');
    expect(formatValue(1e21)).toBe('1000000000000000000000');
  });

  test('non-integers use JS toString', () => {
    expect(formatValue(0.5)).toBe('0.5');
    expect(formatValue(1.25e-7)).toBe('1.25e-7');
    expect(formatValue(0.1 + 0.2)).toBe('0.30000000000000004');
  });

  test('infinities and NaN are spelled as Prometheus wants', () => {
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(NaN)).toBe('NaN');
  });
});

describe('escaping', () => {
  test('label values escape backslash, double quote and line feed', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeLabelValue('plain /chat?x=1')).toBe('plain /chat?x=1');
  });

  test('HELP escapes backslash and line feed but not double quote', () => {
    expect(escapeHelp('say "hi"\\now\nnext')).toBe('say "hi"\\\\now\\nnext');
  });

  test('escaped label values and help in rendered output', () => {
    const r = new Registry();
    const c = r.counter({ name: 'x_total', help: 'line one\nline "two" \\', labelNames: ['path'] });
    c.inc({ path: 'C:\\dir\n"q"' });
    expect(r.render()).toBe(
      '# HELP x_total line one\\nline "two" \\\\\n'
      + '# TYPE x_total counter\n'
      + 'x_total{path="C:\\\\dir\\n\\"q\\""} 1\n',
    );
  });
});

describe('Counter', () => {
  test('no samples yet still prints HELP and TYPE', () => {
    const r = new Registry();
    r.counter({ name: 'hits_total', help: 'Hits.', labelNames: ['path'] });
    expect(r.render()).toBe('# HELP hits_total Hits.\n# TYPE hits_total counter\n');
  });

  test('label sets print in first-seen order, labels in declared order', () => {
    const r = new Registry();
    const c = r.counter({ name: 'req_total', help: 'Requests.', labelNames: ['method', 'code'] });
    c.inc({ code: '200', method: 'GET' });
    c.inc({ method: 'POST', code: '500' }, 3);
    c.inc({ method: 'GET', code: '200' }, 2);
    expect(r.render()).toBe(
      '# HELP req_total Requests.\n'
      + '# TYPE req_total counter\n'
      + 'req_total{method="GET",code="200"} 3\n'
      + 'req_total{method="POST",code="500"} 3\n',
    );
    expect(c.value({ method: 'GET', code: '200' })).toBe(3);
    expect(c.value({ method: 'GET', code: '404' })).toBeUndefined();
  });

  test('no labels: no braces', () => {
    const r = new Registry();
    const c = r.counter({ name: 'up_total', help: 'Ups.' });
    c.inc({});
    expect(r.render()).toBe('# HELP up_total Ups.\n# TYPE up_total counter\nup_total 1\n');
  });

  test('seed shows 0 before the first increment, and does not reset', () => {
    const c = new Counter({ name: 'c_total', help: 'C.', labelNames: ['k'] });
    c.seed({ k: 'a' });
    expect(c.render()).toEqual(['# HELP c_total C.', '# TYPE c_total counter', 'c_total{k="a"} 0']);
    expect(c.value({ k: 'a' })).toBe(0);
    c.inc({ k: 'a' }, 5);
    c.seed({ k: 'a' });
    expect(c.value({ k: 'a' })).toBe(5);
  });

  test('stays an exact integer past 2^32', () => {
    const c = new Counter({ name: 'bytes_total', help: 'B.' });
    for (let i = 0; i < 3; i++) c.inc({}, 2 ** 31 + 1);
    expect(c.value({})).toBe(6442450947);
    expect(c.render()[2]).toBe('bytes_total 6442450947');
  });

  test('throws on a negative or NaN increment, and leaves the value alone', () => {
    const c = new Counter({ name: 'c_total', help: 'C.' });
    c.inc({});
    expect(() => c.inc({}, -1)).toThrow(RangeError);
    expect(() => c.inc({}, NaN)).toThrow(RangeError);
    expect(c.value({})).toBe(1);
  });

  test('throws on missing, extra or non-string labels', () => {
    const c = new Counter({ name: 'c_total', help: 'C.', labelNames: ['a', 'b'] });
    // @ts-expect-error missing label b
    expect(() => c.inc({ a: '1' })).toThrow(TypeError);
    // @ts-expect-error extra label z
    expect(() => c.inc({ a: '1', b: '2', z: '3' })).toThrow(TypeError);
    // @ts-expect-error number instead of string
    expect(() => c.inc({ a: '1', b: 2 })).toThrow(TypeError);
    expect(c.render()).toHaveLength(2);
  });

  test('rejects invalid metric and label names', () => {
    expect(() => new Counter({ name: '1bad', help: '' })).toThrow(RangeError);
    expect(() => new Counter({ name: 'ok:name_total', help: '' })).not.toThrow();
    expect(() => new Counter({ name: 'x', help: '', labelNames: ['has-dash'] })).toThrow(RangeError);
    expect(() => new Counter({ name: 'x', help: '', labelNames: ['__reserved'] })).toThrow(RangeError);
    expect(() => new Counter({ name: 'x', help: '', labelNames: ['a', 'a'] })).toThrow(RangeError);
  });
});

describe('Gauge', () => {
  test('inc, dec and set', () => {
    const r = new Registry();
    const g = r.gauge({ name: 'open', help: 'Open now.', labelNames: ['t'] });
    g.inc({ t: 'h2' });
    g.inc({ t: 'h2' }, 2);
    g.dec({ t: 'h2' });
    g.set({ t: 'h1' }, 0.25);
    g.dec({ t: 'h0' });
    expect(r.render()).toBe(
      '# HELP open Open now.\n'
      + '# TYPE open gauge\n'
      + 'open{t="h2"} 2\n'
      + 'open{t="h1"} 0.25\n'
      + 'open{t="h0"} -1\n',
    );
    expect(g.value({ t: 'h2' })).toBe(2);
  });

  test('set to infinities and NaN', () => {
    const g = new Gauge({ name: 'g', help: 'G.', labelNames: ['k'] });
    g.set({ k: 'a' }, Infinity);
    g.set({ k: 'b' }, -Infinity);
    g.set({ k: 'c' }, NaN);
    expect(g.render().slice(2)).toEqual(['g{k="a"} +Inf', 'g{k="b"} -Inf', 'g{k="c"} NaN']);
  });
});

describe('Histogram', () => {
  test('cumulative buckets including +Inf, then _sum and _count', () => {
    const r = new Registry();
    const h = r.histogram({ name: 'lat_seconds', help: 'Latency.', labelNames: ['route'], buckets: [0.1, 1, 10] });
    for (const v of [0.05, 0.1, 0.5, 2, 20]) h.observe({ route: '/a' }, v);
    expect(r.render()).toBe(
      '# HELP lat_seconds Latency.\n'
      + '# TYPE lat_seconds histogram\n'
      + 'lat_seconds_bucket{route="/a",le="0.1"} 2\n'
      + 'lat_seconds_bucket{route="/a",le="1"} 3\n'
      + 'lat_seconds_bucket{route="/a",le="10"} 4\n'
      + 'lat_seconds_bucket{route="/a",le="+Inf"} 5\n'
      + 'lat_seconds_sum{route="/a"} 22.65\n'
      + 'lat_seconds_count{route="/a"} 5\n',
    );
    expect(h.value({ route: '/a' })).toEqual({ buckets: [2, 3, 4, 5], sum: 22.65, count: 5 });
  });

  test('no labels: le is the only label', () => {
    const h = new Histogram({ name: 'h', help: 'H.', buckets: [1] });
    h.observe({}, 1);
    expect(h.render().slice(2)).toEqual(['h_bucket{le="1"} 1', 'h_bucket{le="+Inf"} 1', 'h_sum 1', 'h_count 1']);
  });

  test('seeded: all buckets at 0', () => {
    const h = new Histogram({ name: 'h', help: 'H.', labelNames: ['r'], buckets: [1, 2] });
    h.seed({ r: 'x' });
    expect(h.render().slice(2)).toEqual([
      'h_bucket{r="x",le="1"} 0', 'h_bucket{r="x",le="2"} 0', 'h_bucket{r="x",le="+Inf"} 0', 'h_sum{r="x"} 0', 'h_count{r="x"} 0',
    ]);
  });

  test('divisor keeps the sum exact for integer sub-unit observations', () => {
    const h = new Histogram({ name: 'd_seconds', help: 'D.', buckets: [0.005, 0.1, 1], divisor: 1000 });
    for (const ms of [5, 100, 200]) h.observe({}, ms); // 0.005 s and 0.1 s sit exactly on their bounds
    expect(h.value({})).toEqual({ buckets: [1, 2, 3, 3], sum: 0.305, count: 3 });
    expect(h.render()).toContain('d_seconds_sum 0.305');
  });

  test('a trailing +Inf bucket is accepted and not doubled; bad buckets throw', () => {
    expect(new Histogram({ name: 'h', help: '', buckets: [1, Infinity] }).buckets).toEqual([1, Infinity]);
    expect(new Histogram({ name: 'h', help: '', buckets: [] }).buckets).toEqual([Infinity]);
    expect(() => new Histogram({ name: 'h', help: '', buckets: [2, 1] })).toThrow(RangeError);
    expect(() => new Histogram({ name: 'h', help: '', buckets: [1, 1] })).toThrow(RangeError);
    expect(() => new Histogram({ name: 'h', help: '', buckets: [NaN] })).toThrow(RangeError);
    expect(() => new Histogram({ name: 'h', help: '', buckets: [1], divisor: 0 })).toThrow(RangeError);
    expect(() => new Histogram({ name: 'h', help: '', labelNames: ['le'], buckets: [1] })).toThrow(RangeError);
  });
});

describe('Registry', () => {
  test('renders in registration order; empty registry renders nothing', () => {
    const r = new Registry();
    expect(r.render()).toBe('');
    r.gauge({ name: 'b', help: 'B.' }).set({}, 1);
    r.counter({ name: 'a_total', help: 'A.' });
    expect(r.render()).toBe('# HELP b B.\n# TYPE b gauge\nb 1\n# HELP a_total A.\n# TYPE a_total counter\n');
    expect(r.get('a_total')?.type).toBe('counter');
  });

  test('a name can be registered only once', () => {
    const r = new Registry();
    r.counter({ name: 'x_total', help: '' });
    expect(() => r.gauge({ name: 'x_total', help: '' })).toThrow(RangeError);
    expect(() => r.register(new Counter({ name: 'x_total', help: '' }))).toThrow(RangeError);
  });
});
