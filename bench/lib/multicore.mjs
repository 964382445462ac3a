// The multi-core row: h2ws with `--workers 2`, nghttpx `--workers=2` and HAProxy `nbthread 2`,
// in their own scenarios (several connections, so that a gateway can use both cores), as
// ratios against nghttpx ×2.
import { aggregate, fmtInt, fmtX, ratio } from './stats.mjs';

export const MULTICORE_REF = 'nghttpx-w2';

/** The run without the multi-core targets and scenarios: what the rest of the report shows. */
export function withoutMulticore(run) {
  return { ...run, targets: run.targets.filter((t) => !t.multicore), scenarios: run.scenarios.filter((s) => !s.multicore) };
}

/** Medians of the multi-core scenarios, with ratios against nghttpx ×2. */
export function multicoreMedians(run) {
  const targets = run.targets.filter((t) => t.multicore);
  const scenarios = run.scenarios.filter((s) => s.multicore);
  const agg = {};
  for (const s of scenarios) {
    agg[s.id] = {};
    for (const t of targets) agg[s.id][t.id] = aggregate(run.results[s.id]?.[t.id] ?? []);
    const ref = agg[s.id][MULTICORE_REF];
    for (const t of targets) {
      const a = agg[s.id][t.id];
      a.ratio = { rate: ratio(a.rate, ref?.rate), p50: ratio(a.p50, ref?.p50), p99: ratio(a.p99, ref?.p99), cpuPerOp: ratio(a.cpuPerOp, ref?.cpuPerOp) };
    }
  }
  return { targets, scenarios, agg };
}

/** The row's section of RESULTS.md. */
export function multicoreMarkdown(mc, nproc) {
  const { targets, scenarios, agg } = mc;
  if (targets.length === 0 || scenarios.length === 0) return [];
  const L = [];
  L.push('## Multi-core row: 2 workers or threads each, ratios against nghttpx ×2');
  L.push('');
  L.push(`h2ws \`--workers 2\` (Node: node:cluster; Deno and Bun: SO_REUSEPORT), nghttpx \`--workers=2\`, HAProxy \`nbthread 2\`, on ${nproc} CPUs shared with the load generator and the backend. Rates: higher is better; p50: lower is better.`);
  L.push('');
  L.push(`| Target | ${scenarios.map((s) => s.label).join(' | ')} |`);
  L.push(`| --- | ${scenarios.map(() => '---:').join(' | ')} |`);
  for (const t of targets) {
    const cells = scenarios.map((s) => {
      const a = agg[s.id][t.id];
      if (!t.available) return 'not available';
      if (a.reps === 0) return `failed: ${(a.errors[0] ?? 'no measurement').split('\n')[0]}`;
      return `${fmtX(a.ratio.rate)} (${fmtInt(a.rate)}/s), p50 ${fmtX(a.ratio.p50)}`;
    });
    L.push(`| ${t.label} | ${cells.join(' | ')} |`);
  }
  L.push('');
  return L;
}

/** The row in the console summary. */
export function multicoreSummary(mc) {
  const { targets, scenarios, agg } = mc;
  if (targets.length === 0 || scenarios.length === 0) return '';
  const lines = [`Multi-core row, ratios against nghttpx ×2 (rate / p50): ${scenarios.map((s) => s.id).join(', ')}`];
  for (const t of targets) {
    lines.push(`  ${t.label.padEnd(16)} ${t.available ? scenarios.map((s) => `${fmtX(agg[s.id][t.id].ratio.rate)} / ${fmtX(agg[s.id][t.id].ratio.p50)}`).join('   ') : `NOT AVAILABLE: ${t.reason}`}`);
  }
  return lines.join('\n');
}
