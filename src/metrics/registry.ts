/**
 * A small, exact implementation of the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).
 *
 * Pure: no I/O, no timers. Each metric keeps one value per label set, in the order the label
 * sets were first seen, and renders `# HELP`, `# TYPE`, then its samples.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * const hits = registry.counter({ name: 'hits_total', help: 'Hits.', labelNames: ['path'] });
 * hits.inc({ path: '/a' });
 * registry.render(); // '# HELP hits_total Hits.\n# TYPE hits_total counter\nhits_total{path="/a"} 1\n'
 * ```
 *
 * @module
 */

/** The Content-Type of {@link Registry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One value for each of a metric's label names. */
export type Labels<L extends string> = Readonly<Record<L, string>>;

/** What every metric is declared with. */
export interface MetricOptions<L extends string> {
  /** The metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  readonly name: string;
  /** The HELP text. */
  readonly help: string;
  /** Fixed and ordered: samples print their labels in this order. */
  readonly labelNames?: readonly L[];
}

/** What a histogram is declared with: its buckets, and the unit of its observations. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds (`le`), strictly ascending. `+Inf` is always added. */
  readonly buckets: readonly number[];
  /**
   * `observe()` takes values in units of 1/divisor of the exposed unit (for example
   * milliseconds for a seconds histogram with divisor 1000). The sum is kept in those units and
   * divided once when rendered, so integer observations give an exact sum.
   */
  readonly divisor?: number;
}

/** The `# TYPE` of a metric. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

// Exposition format: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*,
// and label names starting with __ are reserved.
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A sample value as the format spells it: `+Inf`, `-Inf`, `NaN`; integers in plain digits
 * (even past 1e21, where JS would switch to exponent form); anything else as JS prints it.
 */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isInteger(value)) return Math.abs(value) < 1e21 ? String(value) : BigInt(value).toString();
  return String(value);
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escapes backslash and line feed (a double quote stays as it is). */
export function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** `{a="1",b="2"}`, or nothing when there are no labels. */
function formatLabels(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  return `{${names.map((n, i) => `${n}="${escapeLabelValue(values[i] as string)}"`).join(',')}}`;
}

/** What every metric shares: name, help, label names and one entry per label set. */
export abstract class Metric<L extends string, V> {
  /** The `# TYPE` it renders. */
  abstract readonly type: MetricType;
  /** The metric name. */
  readonly name: string;
  /** The HELP text. */
  readonly help: string;
  /** Its label names, in the order samples print them. */
  readonly labelNames: readonly L[];
  // Keyed by the label values as a JSON array, which is unambiguous whatever they contain.
  readonly #entries = new Map<string, { readonly values: readonly string[]; readonly value: V }>();

  /** Checks the name and label names; throws RangeError on an invalid one. */
  constructor(options: MetricOptions<L>, reserved: readonly string[] = []) {
    if (!METRIC_NAME.test(options.name)) throw new RangeError(`invalid metric name ${JSON.stringify(options.name)}`);
    const labelNames = options.labelNames ?? [];
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || reserved.includes(l)) throw new RangeError(`invalid label name ${JSON.stringify(l)} on ${options.name}`);
    }
    if (new Set(labelNames).size !== labelNames.length) throw new RangeError(`duplicate label name on ${options.name}`);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = [...labelNames];
  }

  /** The value a new label set starts at. */
  protected abstract initial(): V;

  /** The label values in declared order; throws on a missing, extra or non-string label. */
  #values(labels: Labels<L>): string[] {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length) {
      throw new TypeError(`${this.name} takes labels [${this.labelNames.join(', ')}], got [${given.join(', ')}]`);
    }
    return this.labelNames.map((n) => {
      const v = (labels as Record<string, unknown>)[n];
      if (typeof v !== 'string') throw new TypeError(`${this.name}: label ${n} must be a string`);
      return v;
    });
  }

  /** The entry for a label set, created at its initial value if new. */
  protected entry(labels: Labels<L>): V {
    const values = this.#values(labels);
    const key = JSON.stringify(values);
    let e = this.#entries.get(key);
    if (e === undefined) {
      e = { values, value: this.initial() };
      this.#entries.set(key, e);
    }
    return e.value;
  }

  /** A label set's value, without creating it. */
  protected peek(labels: Labels<L>): V | undefined {
    return this.#entries.get(JSON.stringify(this.#values(labels)))?.value;
  }

  /** Show this label set at its zero value before anything is recorded for it. */
  seed(labels: Labels<L>): void {
    this.entry(labels);
  }

  /** The sample lines of one label set. */
  protected abstract samples(labels: string, values: readonly string[], value: V): string[];

  /** HELP, TYPE, then one or more sample lines per label set, without trailing line feeds. */
  render(): string[] {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { values, value } of this.#entries.values()) {
      lines.push(...this.samples(formatLabels(this.labelNames, values), values, value));
    }
    return lines;
  }
}

/** Holds one number per label set, boxed so it can change in place. */
export interface Cell {
  /** The value. */
  n: number;
}

/** Only goes up (a restart resets it to zero). */
export class Counter<const L extends string = never> extends Metric<L, Cell> {
  /** The `# TYPE`. */
  readonly type = 'counter';

  /** Zero. */
  protected initial(): Cell {
    return { n: 0 };
  }

  /**
   * Adds `by` (default 1) to the label set.
   *
   * @throws RangeError if `by` is negative or NaN: counters never go down.
   */
  inc(labels: Labels<L>, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`${this.name}: counter increment must be >= 0, got ${by}`);
    this.entry(labels).n += by;
  }

  /** The current value, or undefined if this label set was never seen nor seeded. */
  value(labels: Labels<L>): number | undefined {
    return this.peek(labels)?.n;
  }

  /** One sample line. */
  protected samples(labels: string, _values: readonly string[], cell: Cell): string[] {
    return [`${this.name}${labels} ${formatValue(cell.n)}`];
  }
}

/** Goes up and down. */
export class Gauge<const L extends string = never> extends Metric<L, Cell> {
  /** The `# TYPE`. */
  readonly type = 'gauge';

  /** Zero. */
  protected initial(): Cell {
    return { n: 0 };
  }

  /** Adds `by` (default 1). */
  inc(labels: Labels<L>, by = 1): void {
    this.entry(labels).n += by;
  }

  /** Subtracts `by` (default 1). */
  dec(labels: Labels<L>, by = 1): void {
    this.entry(labels).n -= by;
  }

  /** Sets the value. */
  set(labels: Labels<L>, value: number): void {
    this.entry(labels).n = value;
  }

  /** The current value, or undefined if this label set was never seen nor seeded. */
  value(labels: Labels<L>): number | undefined {
    return this.peek(labels)?.n;
  }

  /** One sample line. */
  protected samples(labels: string, _values: readonly string[], cell: Cell): string[] {
    return [`${this.name}${labels} ${formatValue(cell.n)}`];
  }
}

/** A histogram's state for one label set. Bucket counts are per bucket, not cumulative. */
export interface HistogramCell {
  /** Observations per bucket, not cumulative. */
  readonly counts: number[];
  /** The sum of observations, in observed units. */
  sum: number;
  /** How many observations. */
  count: number;
}

/** What {@link Histogram.value} reports: cumulative counts, one per bound, `+Inf` last. */
export interface HistogramValue {
  /** Cumulative counts, one per bound, `+Inf` last. */
  readonly buckets: readonly number[];
  /** The sum, in exposed units. */
  readonly sum: number;
  /** How many observations. */
  readonly count: number;
}

/** Counts observations into fixed buckets; exposes `_bucket{le}`, `_sum` and `_count`. */
export class Histogram<const L extends string = never> extends Metric<L, HistogramCell> {
  /** The `# TYPE`. */
  readonly type = 'histogram';
  /** Upper bounds, ascending, ending with +Inf. */
  readonly buckets: readonly number[];
  /** What observations are divided by to give the exposed unit. */
  readonly divisor: number;

  /** Checks the buckets (finite, strictly ascending) and adds `+Inf`. */
  constructor(options: HistogramOptions<L>) {
    super(options, ['le']);
    const bounds = options.buckets.at(-1) === Infinity ? options.buckets.slice(0, -1) : [...options.buckets];
    for (let i = 0; i < bounds.length; i++) {
      const b = bounds[i] as number;
      if (!Number.isFinite(b) || (i > 0 && !(b > (bounds[i - 1] as number)))) {
        throw new RangeError(`${options.name}: buckets must be finite and strictly ascending`);
      }
    }
    const divisor = options.divisor ?? 1;
    if (!(divisor > 0) || !Number.isFinite(divisor)) throw new RangeError(`${options.name}: divisor must be a positive number`);
    this.buckets = [...bounds, Infinity];
    this.divisor = divisor;
  }

  /** Empty buckets. */
  protected initial(): HistogramCell {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  /** Record one value (in units of 1/divisor). NaN lands only in `+Inf`, as in client_golang. */
  observe(labels: Labels<L>, value: number): void {
    const cell = this.entry(labels);
    const exposed = value / this.divisor;
    let i = this.buckets.findIndex((le) => exposed <= le);
    if (i === -1) i = this.buckets.length - 1;
    (cell.counts[i] as number)++;
    cell.sum += value;
    cell.count++;
  }

  /** Cumulative bucket counts, sum (in exposed units) and count, or undefined if never seen. */
  value(labels: Labels<L>): HistogramValue | undefined {
    const cell = this.peek(labels);
    if (cell === undefined) return undefined;
    return { buckets: cumulative(cell.counts), sum: cell.sum / this.divisor, count: cell.count };
  }

  /** The `_bucket`, `_sum` and `_count` lines. */
  protected samples(labels: string, values: readonly string[], cell: HistogramCell): string[] {
    const names = [...this.labelNames, 'le'];
    const lines = cumulative(cell.counts).map((n, i) =>
      `${this.name}_bucket${formatLabels(names, [...values, formatValue(this.buckets[i] as number)])} ${formatValue(n)}`);
    lines.push(`${this.name}_sum${labels} ${formatValue(cell.sum / this.divisor)}`);
    lines.push(`${this.name}_count${labels} ${formatValue(cell.count)}`);
    return lines;
  }
}

function cumulative(counts: readonly number[]): number[] {
  let total = 0;
  return counts.map((n) => (total += n));
}

/** Any metric a registry holds. */
export type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

/** Metrics in registration order; names are unique. */
export class Registry {
  readonly #metrics = new Map<string, AnyMetric>();

  /** Add a metric; throws if its name is taken. */
  register<M extends AnyMetric>(metric: M): M {
    if (this.#metrics.has(metric.name)) throw new RangeError(`metric ${metric.name} is already registered`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** Registers a counter. */
  counter<const L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.register(new Counter<L>(options));
  }

  /** Registers a gauge. */
  gauge<const L extends string = never>(options: MetricOptions<L>): Gauge<L> {
    return this.register(new Gauge<L>(options));
  }

  /** Registers a histogram. */
  histogram<const L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.register(new Histogram<L>(options));
  }

  /** The metric with this name, if registered. */
  get(name: string): AnyMetric | undefined {
    return this.#metrics.get(name);
  }

  /** The whole exposition: every line ends with a line feed, as the format requires. */
  render(): string {
    let out = '';
    for (const metric of this.#metrics.values()) {
      for (const line of metric.render()) out += `${line}\n`;
    }
    return out;
  }
}
