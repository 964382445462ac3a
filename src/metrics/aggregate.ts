/**
 * Adds up Prometheus text expositions (format 0.0.4) from several processes into one: the
 * samples with the same name and labels are summed. Counters, gauges and histogram buckets,
 * sums and counts all add up across processes, so the sum is the whole gateway's value.
 *
 * Works on the text each process renders, so it needs nothing from the registry but its
 * output. Pure: no I/O.
 *
 * @example
 * ```ts
 * mergeExpositions([
 *   '# HELP x_total X.\n# TYPE x_total counter\nx_total{a="1"} 2\n',
 *   '# HELP x_total X.\n# TYPE x_total counter\nx_total{a="1"} 3\n',
 * ]); // '# HELP x_total X.\n# TYPE x_total counter\nx_total{a="1"} 5\n'
 * ```
 *
 * @module
 */
import { formatValue } from './registry.ts';

/** One metric: its HELP and TYPE lines and its samples, in the order first seen. */
export interface MetricFamily {
  readonly name: string;
  help: string | undefined;
  type: string | undefined;
  /** Keyed by the sample's name and label text, e.g. `x_bucket{le="1"}`. */
  readonly samples: Map<string, string>;
}

/** Splits a sample line into its name-and-labels part and its value (timestamps are not used). */
function splitSample(line: string): [string, string] | undefined {
  // Label values may contain spaces, so the value starts after the closing brace when there is one.
  const brace = line.lastIndexOf('}');
  const space = line.indexOf(' ', brace === -1 ? 0 : brace);
  if (space === -1) return undefined;
  return [line.slice(0, space), line.slice(space + 1).trim().split(' ')[0]!];
}

/** The family a sample belongs to: histograms' `_bucket`, `_sum` and `_count` go to their base name. */
function familyOf(sample: string, families: Map<string, MetricFamily>): string {
  const name = sample.includes('{') ? sample.slice(0, sample.indexOf('{')) : sample;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (families.get(base)?.type === 'histogram') return base;
    }
  }
  return name;
}

function family(families: Map<string, MetricFamily>, name: string): MetricFamily {
  let f = families.get(name);
  if (f === undefined) {
    f = { name, help: undefined, type: undefined, samples: new Map() };
    families.set(name, f);
  }
  return f;
}

/** Parses an exposition into `into` (a fresh map by default), adding to what is there. */
export function parseExposition(text: string, into: Map<string, MetricFamily> = new Map()): Map<string, MetricFamily> {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const f = family(into, meta[2]!);
      if (meta[1] === 'HELP') f.help ??= meta[3]!;
      else f.type ??= meta[3]!;
      continue;
    }
    if (line.startsWith('#')) continue;
    const parts = splitSample(line);
    if (parts === undefined) continue;
    const [key, value] = parts;
    const samples = family(into, familyOf(key, into)).samples;
    const before = samples.get(key);
    samples.set(key, before === undefined ? value : addValues(before, value));
  }
  return into;
}

/** Renders families back into the text format, each line ending with a line feed. */
export function renderExposition(families: Iterable<MetricFamily>): string {
  let out = '';
  for (const f of families) {
    if (f.help !== undefined) out += `# HELP ${f.name} ${f.help}\n`;
    if (f.type !== undefined) out += `# TYPE ${f.name} ${f.type}\n`;
    for (const [key, value] of f.samples) out += `${key} ${value}\n`;
  }
  return out;
}

/** The sum of several expositions: samples with the same name and labels added up. */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, MetricFamily>();
  for (const text of texts) parseExposition(text, families);
  return renderExposition(families.values());
}

/**
 * Labels the per-process families of one worker's exposition (`process_*`, `nodejs_*`: CPU,
 * memory, start time, descriptors, event-loop lag) with `worker`, so merging keeps one series
 * per process: a sum of start times or of event-loop lags would mean nothing.
 */
export function labelProcessMetrics(text: string, worker: string): string {
  const label = `worker="${worker}"`;
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('#') || !/^(process|nodejs)_/.test(line)) return line;
      const brace = line.indexOf('{');
      const space = line.indexOf(' ');
      if (brace !== -1 && brace < space) return `${line.slice(0, brace + 1)}${label},${line.slice(brace + 1)}`;
      return `${line.slice(0, space)}{${label}}${line.slice(space)}`;
    })
    .join('\n');
}

/**
 * Only the families that never go down (counters and histograms). When a worker process ends,
 * these are kept and added to the totals, so the gateway's counters never decrease (which
 * Prometheus would read as a reset); its gauges leave with it.
 */
export function monotonicOnly(text: string): string {
  const kept = [...parseExposition(text).values()].filter((f) => f.type === 'counter' || f.type === 'histogram');
  return renderExposition(kept);
}

/** The sum of a metric's samples, e.g. every `h2ws_tunnels_open` series of one process. */
export function total(text: string, name: string): number {
  const f = parseExposition(text).get(name);
  let sum = 0;
  for (const value of f?.samples.values() ?? []) sum += parseValue(value);
  return sum;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** A sample value as a number: the format spells infinities `+Inf` and `-Inf`. */
function parseValue(value: string): number {
  if (value === '+Inf') return Infinity;
  if (value === '-Inf') return -Infinity;
  return Number(value);
}

/**
 * Adds two sample values exactly when both are plain decimals (the sums of durations in
 * seconds would otherwise pick up binary rounding, 0.1 + 0.2 = 0.30000000000000004); as
 * numbers otherwise (+Inf, NaN, exponents).
 */
export function addValues(a: string, b: string): string {
  const x = DECIMAL.exec(a);
  const y = DECIMAL.exec(b);
  if (x === null || y === null) return formatValue(parseValue(a) + parseValue(b));
  const places = Math.max(x[3]?.length ?? 0, y[3]?.length ?? 0);
  const scaled = (m: RegExpExecArray) => BigInt(`${m[1]}${m[2]}${(m[3] ?? '').padEnd(places, '0')}`);
  const sum = scaled(x) + scaled(y);
  if (places === 0) return sum.toString();
  const negative = sum < 0n;
  const digits = (negative ? -sum : sum).toString().padStart(places + 1, '0');
  const fraction = digits.slice(-places).replace(/0+$/, '');
  const whole = digits.slice(0, -places);
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}
