// Turns the raw repetitions into medians and ratios against nghttpx, and writes
// RESULTS.md (Markdown tables), results.json (everything, for machines) and results.svg
// (a hand-written grouped bar chart).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { aggregate, fmtInt, fmtKiB, fmtPct, fmtX, median, ratio } from './stats.mjs';
import { MULTICORE_REF, multicoreMarkdown, multicoreMedians, multicoreSummary, withoutMulticore } from './multicore.mjs';

const REF = 'nghttpx';

function aggregateMemory(reps) {
  const ok = reps.filter((r) => r.error === undefined);
  const per = ok.map((r) => r.perTunnelKiB);
  const perTunnelKiB = median(per);
  return {
    perTunnelKiB,
    burstPerTunnelKiB: median(ok.map((r) => r.burstPerTunnelKiB ?? NaN)),
    beforeKiB: median(ok.map((r) => r.beforeKiB)),
    afterKiB: median(ok.map((r) => r.afterKiB)),
    openSeconds: median(ok.map((r) => r.openSeconds)),
    reps: ok.length,
    failed: reps.length - ok.length,
    spread: ok.length > 1 ? (Math.max(...per) - Math.min(...per)) / perTunnelKiB : NaN,
    errors: reps.filter((r) => r.error !== undefined).map((r) => r.error),
  };
}

/** Computes medians and ratios; writes the three files; returns a console summary. */
export function writeReports(full) {
  // The multi-core row has its own targets, scenarios and reference, and its own section.
  const mc = multicoreMedians(full);
  const run = withoutMulticore(full);
  const { out, targets, scenarios, results, memory } = run;
  const agg = {};
  for (const s of scenarios) {
    agg[s.id] = {};
    for (const t of targets) {
      const a = aggregate(results[s.id][t.id] ?? []);
      agg[s.id][t.id] = a;
    }
    const ref = agg[s.id][REF];
    for (const t of targets) {
      const a = agg[s.id][t.id];
      a.ratio = { rate: ratio(a.rate, ref?.rate), p50: ratio(a.p50, ref?.p50), p99: ratio(a.p99, ref?.p99), cpuPerOp: ratio(a.cpuPerOp, ref?.cpuPerOp) };
    }
  }
  const mem = {};
  for (const t of targets) if (memory[t.id]) mem[t.id] = aggregateMemory(memory[t.id]);
  for (const t of targets) if (mem[t.id]) mem[t.id].ratio = ratio(mem[t.id].perTunnelKiB, mem[REF]?.perTunnelKiB);

  const checks = targetChecks(targets, scenarios, agg, mem);
  const files = { md: path.join(out, 'RESULTS.md'), json: path.join(out, 'results.json'), svg: path.join(out, 'results.svg') };
  const json = {
    command: run.command,
    date: run.date,
    elapsedSeconds: Math.round(run.elapsedSeconds),
    machine: run.machine,
    config: run.config,
    h2wsConfig: run.h2wsConfig,
    installNote: run.installNote,
    reference: REF,
    targets: full.targets,
    scenarios: full.scenarios,
    medians: agg,
    multicore: { reference: MULTICORE_REF, medians: mc.agg },
    memory: mem,
    raw: { results, memory },
    checks,
    failures: run.failures,
    disturbed: run.disturbed,
  };
  writeFileSync(files.json, `${JSON.stringify(json, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  writeFileSync(files.svg, svg(run, agg, mem));
  writeFileSync(files.md, markdown(run, agg, mem, checks, out, multicoreMarkdown(mc, run.machine.nproc)));
  return { files, summary: [targets.length > 0 ? summaryText(targets, scenarios, agg, mem) : '', multicoreSummary(mc)].filter(Boolean).join('\n\n') };
}

function unavailable(t) {
  return t.available ? undefined : t.reason ?? 'not available';
}

/**
 * The targets of h2ws's own HTTP/2 engine: h2ws Node at least nghttpx's rate in every scenario
 * (1.2× with 100 streams and 4×50), p50 and gateway CPU per message at most nghttpx's, memory per
 * idle tunnel at most half nghttpx's, and Deno and Bun at least 0.9× of Node.
 */
const RATE_TARGET = { 'msg64-100': 1.2, 'msg1k-4x50': 1.2 };
const MEMORY_TARGET = 0.5;
const RUNTIME_TARGET = 0.9;

function targetChecks(targets, scenarios, agg, mem) {
  const lines = [];
  const has = (id) => targets.some((t) => t.id === id && t.available);
  if (!has('node') || !has(REF)) return [{ ok: false, text: `cannot check the targets: ${!has('node') ? 'h2ws Node' : 'nghttpx'} did not run` }];
  for (const s of scenarios) {
    const a = agg[s.id].node;
    const what = s.type === 'tunnels' ? 'tunnels/s' : 'messages/s';
    const want = RATE_TARGET[s.id] ?? 1;
    const r = a.ratio.rate;
    lines.push({ ok: r >= want, text: `${s.label}: h2ws Node ${what} ${fmtX(r)} nghttpx (target ≥ ${fmtX(want)})${r >= want ? '' : `, ${fmtPct(1 - r / want)} short`}` });
    const l = a.ratio.p50;
    lines.push({ ok: l <= 1, text: `${s.label}: h2ws Node p50 latency ${fmtX(l)} nghttpx (target ≤ 1.00×)${l <= 1 ? '' : `, ${fmtPct(l - 1)} slower`}` });
    const c = a.ratio.cpuPerOp;
    if (Number.isFinite(c)) lines.push({ ok: c <= 1, text: `${s.label}: h2ws Node gateway CPU per ${s.type === 'tunnels' ? 'tunnel' : 'message'} ${fmtX(c)} nghttpx (target ≤ 1.00×)${c <= 1 ? '' : `, ${fmtPct(c - 1)} more`}` });
  }
  if (mem.node && mem[REF]) {
    const m = mem.node.ratio;
    lines.push({ ok: m <= MEMORY_TARGET, text: `memory per idle tunnel: h2ws Node ${fmtKiB(mem.node.perTunnelKiB)} KiB, ${fmtX(m)} nghttpx's ${fmtKiB(mem[REF].perTunnelKiB)} KiB (target ≤ ${fmtX(MEMORY_TARGET)})${m <= MEMORY_TARGET ? '' : `, ${fmtPct(m / MEMORY_TARGET - 1)} more`}` });
  }
  for (const rt of ['deno', 'bun']) {
    if (!has(rt)) {
      lines.push({ ok: false, text: `h2ws ${rt === 'deno' ? 'Deno' : 'Bun'} did not run` });
      continue;
    }
    for (const s of scenarios) {
      const r = ratio(agg[s.id][rt].rate, agg[s.id].node.rate);
      lines.push({ ok: r >= RUNTIME_TARGET, text: `${s.label}: h2ws ${rt === 'deno' ? 'Deno' : 'Bun'} ${fmtX(r)} of h2ws Node (target ≥ ${fmtX(RUNTIME_TARGET)})${r >= RUNTIME_TARGET ? '' : `, ${(RUNTIME_TARGET - r).toFixed(3)} short`}` });
    }
  }
  return lines;
}

function summaryText(targets, scenarios, agg, mem) {
  const short = (s) => shortLabel(s);
  const rows = [['', ...scenarios.map(short), 'KiB/idle tunnel'].map((c) => c)];
  for (const t of targets) {
    if (!t.available) {
      rows.push([t.label, `NOT AVAILABLE: ${t.reason}`]);
      continue;
    }
    rows.push([t.label, ...scenarios.map((s) => `${fmtX(agg[s.id][t.id].ratio.rate)} / ${fmtX(agg[s.id][t.id].ratio.p50)}`), mem[t.id] ? fmtX(mem[t.id].ratio) : '—']);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `Ratios against nghttpx (messages or tunnels per second / p50 latency; memory):\n${rows.map((r) => r.map((c, i) => (c ?? '').padEnd(r.length === 2 && i === 1 ? 0 : w[i])).join('  ')).join('\n')}`;
}

function shortLabel(s) {
  return (
    {
      'msg64-1': '64 B ×1',
      'msg64-1x16': '64 B, 16 in flight',
      'msg64-100': '64 B, 100 streams',
      'msg1k-4x50': '1 KiB, 4×50 streams',
      'msg64k-1': '64 KiB ×1',
      tunnels: 'new tunnels/s',
    }[s.id] ?? s.id
  );
}

// ---------------------------------------------------------------------------------------
// Markdown

function markdown(run, agg, mem, checks, out, multicoreLines) {
  const { targets, scenarios, machine: m, config } = run;
  const L = [];
  L.push('# h2ws benchmark results');
  L.push('');
  L.push('Generated by `bench/run.mjs`; do not edit by hand (a hand-written reading, if any, lives in `bench/notes.md` and is quoted at the end).');
  L.push('');
  L.push(`- **Command:** \`${run.command}\` (from the repository root, after \`npm run build\`)`);
  L.push(`- **Date:** ${run.date}`);
  L.push(`- **Machine:** ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${m.memoryGiB} GiB RAM, ${m.kernel}${m.os ? `, ${m.os}` : ''}; open-files hard limit ${m.nofile}`);
  L.push(`- **Versions:** h2ws ${m.h2ws}; ${[...new Set(Object.values(m.versions))].join('; ')}`);
  L.push(`- **Load generator:** ${m.loadGenerator}, in one process on the same machine; **backend:** ${m.backend}, its own process.`);
  L.push(`- **Method:** ${config.reps} repetitions; in each, every scenario runs on every target in turn (A B C … A B C …), ${config.warmup} s warm-up then ${config.seconds} s measured. Medians of the repetitions are shown; "spread" is (max − min) / median of the repetitions. Closed loop: each tunnel keeps its messages in flight and sends the next one when an echo arrives; every echo is checked byte for byte (length, tunnel id, sequence number, filler), and a lost, reordered or corrupt message fails the run. Latency is the round trip of one message, client write to echo parsed, over loopback.`);
  const dist = run.disturbed ?? [];
  const kept = dist.filter((d) => !d.repeated);
  L.push(
    `- **Other work on the machine:** the CPU time the machine spent outside the gateway, the load generator and the backend is measured during each window; a measurement during which it exceeded 35% of a core is done again (up to twice). ${dist.length === 0 ? 'None was disturbed in this run.' : `${dist.length - kept.length} measurement(s) were repeated for this${kept.length ? `; ${kept.length} stayed disturbed and are kept, marked in results.json: ${kept.map((d) => `${d.where} (${d.otherPercent}%)`).join('; ')}` : ''}.`}`,
  );
  L.push(`- **Run time:** ${(run.elapsedSeconds / 60).toFixed(1)} min.`);
  if (run.installNote) L.push(`- **Peers:** ${run.installNote}.`);
  L.push('');

  const missing = targets.filter((t) => !t.available);
  if (missing.length) {
    L.push('## Targets that did not run');
    L.push('');
    for (const t of missing) L.push(`- **${t.label}: NOT AVAILABLE.** ${t.reason}`);
    L.push('');
  }
  if (run.failures.length) {
    L.push('## FAILED');
    L.push('');
    L.push('This run failed (exit status 1). The numbers below include only the repetitions that passed.');
    L.push('');
    for (const f of run.failures) L.push(`- ${f.where}: ${f.message.replace(/\n/g, ' ')}`);
    L.push('');
  }

  L.push('## Summary: ratios against nghttpx');
  L.push('');
  L.push('Throughput (messages/s, or tunnels/s for new tunnels): higher is better.');
  L.push('');
  L.push(`| Target | ${scenarios.map(shortLabel).join(' | ')} |`);
  L.push(`| --- | ${scenarios.map(() => '---:').join(' | ')} |`);
  for (const t of targets) L.push(`| ${t.label} | ${scenarios.map((s) => (t.available ? fmtX(agg[s.id][t.id].ratio.rate) : 'not available')).join(' | ')} |`);
  L.push('');
  L.push('p50 round-trip latency (for new tunnels: the whole open + echo + close): lower is better. Memory per idle tunnel: lower is better.');
  L.push('');
  L.push(`| Target | ${scenarios.map(shortLabel).join(' | ')} | memory/tunnel |`);
  L.push(`| --- | ${scenarios.map(() => '---:').join(' | ')} | ---: |`);
  for (const t of targets) {
    if (!t.available) {
      L.push(`| ${t.label} | ${scenarios.map(() => 'not available').join(' | ')} | not available |`);
      continue;
    }
    L.push(`| ${t.label} | ${scenarios.map((s) => fmtX(agg[s.id][t.id].ratio.p50)).join(' | ')} | ${mem[t.id] ? fmtX(mem[t.id].ratio) : 'n/a (no gateway)'} |`);
  }
  L.push('');
  L.push('Gateway CPU time (user + system, all threads) per message, or per tunnel for new tunnels: lower is cheaper to run.');
  L.push('');
  L.push(`| Target | ${scenarios.map(shortLabel).join(' | ')} |`);
  L.push(`| --- | ${scenarios.map(() => '---:').join(' | ')} |`);
  for (const t of targets.filter((x) => x.id !== 'direct')) L.push(`| ${t.label} | ${scenarios.map((s) => (t.available ? fmtX(agg[s.id][t.id].ratio.cpuPerOp) : 'not available')).join(' | ')} |`);
  L.push('');
  L.push('![Ratios against nghttpx](results.svg)');
  L.push('');
  L.push(...multicoreLines);

  L.push("## Targets (h2ws's own HTTP/2 engine)");
  L.push('');
  for (const c of checks) L.push(`- ${c.ok ? '✅' : '❌'} ${c.text}`);
  L.push('');

  L.push('## Messages');
  L.push('');
  L.push('"gw CPU" is the gateway\'s CPU time per message; "CPU %" is the share of one core used during the measured window by the gateway · the load generator · the backend (the machine has ' + run.machine.nproc + ' cores in all).');
  L.push('');
  L.push('| Scenario | Target | messages/s | × nghttpx | p50 µs | × nghttpx | p99 µs | × nghttpx | gw CPU µs/msg | CPU % gw · gen · backend | spread | reps |');
  L.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of scenarios.filter((x) => x.type === 'echo')) {
    for (const t of targets) L.push(row(s, t, agg[s.id][t.id]));
  }
  L.push('');
  L.push('## New tunnels');
  L.push('');
  L.push(`${config.tunnelConcurrency} loops at once on one h2 connection (direct ws: a new TCP connection each), each: extended CONNECT → 200 → one 64 B echo → Close frame + END_STREAM → stream closed by the peer. Latency is that whole cycle.`);
  L.push('');
  L.push('| Scenario | Target | tunnels/s | × nghttpx | p50 µs | × nghttpx | p99 µs | × nghttpx | gw CPU µs/tunnel | CPU % gw · gen · backend | spread | reps |');
  L.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of scenarios.filter((x) => x.type === 'tunnels')) for (const t of targets) L.push(row(s, t, agg[s.id][t.id]));
  L.push('');

  L.push('## Memory per idle tunnel');
  L.push('');
  L.push(
    `A fresh process per target and repetition, each bridging to its own echo backend; the targets of one repetition are measured side by side. 200 tunnels are opened and closed first (warm-up). VmRSS (/proc/PID/status, summed over the process and its children) is read at rest before, and at rest after, opening ${config.tunnels.toLocaleString('en-US')} tunnels on ${Math.ceil(config.tunnels / config.tunnelsPerConnection)} h2 connections (${config.tunnelsPerConnection} streams each: nghttpx and HAProxy allow 100 concurrent streams per connection by default), each tunnel having echoed one 64 B message. "At rest" is ${config.settle ?? 1} s without traffic (BENCH_SETTLE): a garbage-collected runtime returns the garbage of a burst only after some idle seconds (V8's memory reducer ran 20-30 s after the burst on Node and Deno), and before that its RSS counts the burst's garbage as if the tunnels held it; the peers' RSS does not move. KiB per tunnel = (after − before) / ${config.tunnels}. The reading 1 s after the tunnels opened, against the same baseline, is shown as "1 s after opening". Direct ws has no gateway to measure.`,
  );
  L.push('');
  L.push('| Target | KiB per idle tunnel | × nghttpx | 1 s after opening, KiB | RSS before MiB | RSS after MiB | spread | reps |');
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const t of targets) {
    if (!t.available) {
      L.push(`| ${t.label} | not available: ${t.reason.replace(/\|/g, '/')} | | | | | | |`);
      continue;
    }
    const a = mem[t.id];
    if (!a) {
      L.push(`| ${t.label} | n/a (no gateway) | | | | | | |`);
      continue;
    }
    L.push(`| ${t.label} | ${fmtKiB(a.perTunnelKiB)} | ${fmtX(a.ratio)} | ${fmtKiB(a.burstPerTunnelKiB)} | ${(a.beforeKiB / 1024).toFixed(1)} | ${(a.afterKiB / 1024).toFixed(1)} | ${fmtPct(a.spread)} | ${a.reps}${a.failed ? ` (+${a.failed} failed)` : ''} |`);
  }
  L.push('');

  L.push('## Setup of each target');
  L.push('');
  L.push(`All listen on 127.0.0.1 (h2c with prior knowledge) and bridge RFC 8441 extended CONNECT to an HTTP/1.1 Upgrade on the same \`ws\` echo backend. Each was checked end to end before measuring (200 to the extended CONNECT, 64 B, 1 KiB and 64 KiB echoed, Close frame and END_STREAM answered). The peers run with ${config.peerThreads} worker thread(s) (BENCH_PEER_THREADS), like h2ws's one JavaScript thread; their HTTP/2 settings are their defaults (nghttpx and HAProxy: 100 concurrent streams and 65,535-byte stream and connection windows; h2ws: 256 streams, a 512 KiB stream window and, on Node only, a 2 MiB connection window, sized from \`limits.maxBufferedBytesPerTunnel\`).`);
  L.push('');
  L.push(`- **direct ws**: the load generator's \`ws\` client connects to the backend itself; one TCP connection per "stream".`);
  L.push(`- **h2ws Node / Deno / Bun**: \`bin/h2ws.js --listen 127.0.0.1:0 --backend ws://127.0.0.1:BACKEND --config FILE\` with \`${JSON.stringify(run.h2wsConfig)}\` (under Deno: \`deno run -A\`).`);
  for (const t of targets.filter((x) => x.setup)) L.push(`- **${t.label}** (${t.version ?? 'version unknown'}): ${t.setup}`);
  L.push('');
  L.push('The load generator sends the same client settings to every h2 target (1 MiB stream window, 32 MiB connection window) and masks frames with a zero key, so no target does masking work the others do not; echoes come back unmasked and are parsed in full.');
  L.push('');

  const notes = path.join(out, 'notes.md');
  if (existsSync(notes)) {
    L.push(`## Reading (bench/notes.md, written by hand, last changed ${statSync(notes).mtime.toISOString().slice(0, 10)})`);
    L.push('');
    L.push(readFileSync(notes, 'utf8').trim());
    L.push('');
  }
  return `${L.join('\n')}\n`;
}

function row(s, t, a) {
  if (!t.available) return `| ${s.label} | ${t.label} | not available | | | | | | | | | |`;
  const note = a.failed ? ` (+${a.failed} failed)` : '';
  const pct = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–');
  const cpu = `${pct(a.cpu.gateway)} · ${pct(a.cpu.loadgen)} · ${pct(a.cpu.backend)}`;
  const perOp = Number.isFinite(a.cpuPerOp) ? a.cpuPerOp.toFixed(a.cpuPerOp < 100 ? 1 : 0) : '—';
  return `| ${s.label} | ${t.label} | ${fmtInt(a.rate)} | ${fmtX(a.ratio.rate)} | ${fmtInt(a.p50)} | ${fmtX(a.ratio.p50)} | ${fmtInt(a.p99)} | ${fmtX(a.ratio.p99)} | ${perOp} | ${cpu} | ${fmtPct(a.spread)} | ${a.reps}${note} |`;
}

// ---------------------------------------------------------------------------------------
// SVG

const COLORS = { direct: '#9e9e9e', node: '#3c873a', baseline: '#a5d6a7', deno: '#1e6fd9', bun: '#e0a800', nghttpx: '#6a3fb5', haproxy: '#d2491d' };

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function svg(run, agg, mem) {
  const { targets, scenarios } = run;
  const W = 1000;
  const left = 64;
  const right = 16;
  const parts = [];
  let y = 0;
  const reps = run.config.reps;
  parts.push(`<text x="${W / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold">h2ws against nghttpx, HAProxy and direct ws: ratios to nghttpx (median of ${reps} run${reps === 1 ? '' : 's'})</text>`);
  parts.push(`<text x="${W / 2}" y="48" text-anchor="middle" font-size="12" fill="#444">${esc(`${run.machine.nproc} CPUs, ${run.machine.cpu}; ${run.date.slice(0, 16).replace('T', ' ')} UTC; ${Object.values(run.machine.versions).join(', ')}`)}</text>`);
  parts.push(`<text x="${W / 2}" y="64" text-anchor="middle" font-size="12" fill="#444" font-family="DejaVu Sans Mono, monospace">${esc(run.command)}</text>`);
  // Legend
  y = 78;
  let lx = left;
  for (const t of targets) {
    parts.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="${COLORS[t.id] ?? '#888'}"/>`);
    const label = t.available ? t.label : `${t.label} (not available)`;
    parts.push(`<text x="${lx + 16}" y="${y + 10}" font-size="12">${esc(label)}</text>`);
    lx += 32 + label.length * 7.4;
  }
  y = 104;

  const panel = (title, groups, better) => {
    const top = y + 26;
    const h = 250;
    const bottom = top + h;
    const x0 = left;
    const x1 = W - right;
    const vals = groups.flatMap((g) => g.values.map((v) => v.value)).filter(Number.isFinite);
    // Axis up to 4× at most; a taller bar is cut at the top and marked, its label keeps the value.
    const CAP = 4;
    let max = Math.min(CAP, Math.max(1.25, ...vals) * 1.08);
    const step = max <= 2 ? 0.25 : max <= 4 ? 0.5 : 1;
    max = Math.ceil(max / step) * step;
    const sy = (v) => bottom - (v / max) * h;
    parts.push(`<text x="${x0}" y="${y + 16}" font-size="14" font-weight="bold">${esc(title)}</text>`);
    parts.push(`<text x="${x1}" y="${y + 16}" font-size="12" text-anchor="end" fill="#444">${esc(better)}</text>`);
    for (let v = 0; v <= max + 1e-9; v += step) {
      parts.push(`<line x1="${x0}" x2="${x1}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#e4e4e4"/>`);
      parts.push(`<text x="${x0 - 6}" y="${(sy(v) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#555">${v.toFixed(2)}×</text>`);
    }
    const gw = (x1 - x0) / groups.length;
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi];
      const n = g.values.length;
      const bw = Math.min(24, (gw * 0.86) / n);
      const gx = x0 + gi * gw + (gw - bw * n) / 2;
      g.values.forEach((v, i) => {
        const x = gx + i * bw;
        const cx = x + bw / 2;
        if (!Number.isFinite(v.value)) {
          parts.push(`<text x="${cx.toFixed(1)}" y="${bottom - 4}" font-size="9" fill="#777" text-anchor="start" transform="rotate(-90 ${cx.toFixed(1)} ${bottom - 4})">${esc(v.missing)}</text>`);
          return;
        }
        const cut = v.value > max;
        const top2 = sy(Math.min(v.value, max));
        parts.push(`<rect x="${(x + 1).toFixed(1)}" y="${top2.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(bottom - top2).toFixed(1)}" fill="${COLORS[v.id] ?? '#888'}"><title>${esc(`${v.label}: ${v.value.toFixed(2)}× nghttpx (${v.detail})`)}</title></rect>`);
        if (cut) {
          const yy = top2 + 10;
          parts.push(`<path d="M${(x + 1).toFixed(1)} ${(yy + 3).toFixed(1)} L${(x + bw - 1).toFixed(1)} ${(yy - 3).toFixed(1)} M${(x + 1).toFixed(1)} ${(yy + 7).toFixed(1)} L${(x + bw - 1).toFixed(1)} ${(yy + 1).toFixed(1)}" stroke="#fff" stroke-width="2"/>`);
        }
        // Labels of cut bars go inside the bar, in white, below the cut mark.
        const ly = cut ? top2 + 30 : top2 - 3;
        parts.push(`<text x="${cx.toFixed(1)}" y="${ly.toFixed(1)}" font-size="8" text-anchor="middle" fill="${cut ? '#fff' : '#222'}"${cut ? ' font-weight="bold"' : ''}>${v.value.toFixed(2)}</text>`);
      });
      const lines = g.label.split('\n');
      lines.forEach((line, li) => parts.push(`<text x="${(x0 + gi * gw + gw / 2).toFixed(1)}" y="${bottom + 16 + li * 14}" font-size="12" text-anchor="middle">${esc(line)}</text>`));
    }
    parts.push(`<line x1="${x0}" x2="${x1}" y1="${sy(1).toFixed(1)}" y2="${sy(1).toFixed(1)}" stroke="#6a3fb5" stroke-dasharray="6 4" stroke-width="1.5"/>`);
    parts.push(`<line x1="${x0}" x2="${x1}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
    y = bottom + 48;
  };

  const missing = (t) => (t.available ? 'failed' : 'not available');
  const groupLabel = (s) =>
    ({
      'msg64-1': '64 B\n1 in flight',
      'msg64-1x16': '64 B\n16 in flight',
      'msg64-100': '64 B\n100 streams',
      'msg1k-4x50': '1 KiB\n4 conns × 50 streams',
      'msg64k-1': '64 KiB\n1 stream',
      tunnels: 'new tunnels/s\n(open+echo+close)',
    })[s.id] ?? s.id;
  const valuesFor = (s, key, unit) =>
    targets.map((t) => {
      const a = agg[s.id][t.id];
      return { id: t.id, label: t.label, value: t.available ? a.ratio[key] : NaN, missing: missing(t), detail: key === 'rate' ? `${fmtInt(a.rate)} ${unit}` : `${fmtInt(a[key])} µs` };
    });
  panel(
    'Throughput: messages/s (tunnels/s for new tunnels) ÷ nghttpx',
    scenarios.map((s) => ({ label: groupLabel(s), values: valuesFor(s, 'rate', s.type === 'tunnels' ? 'tunnels/s' : 'messages/s') })),
    'higher is better; dashed line = nghttpx',
  );
  const memTargets = targets.filter((t) => t.id !== 'direct');
  panel(
    'p50 round-trip latency, and memory per idle tunnel, ÷ nghttpx',
    [
      ...scenarios.map((s) => ({ label: groupLabel(s), values: valuesFor(s, 'p50') })),
      {
        label: `memory per tunnel\n(${run.config.tunnels.toLocaleString('en-US')} idle)`,
        values: memTargets.map((t) => ({ id: t.id, label: t.label, value: t.available && mem[t.id] ? mem[t.id].ratio : NaN, missing: missing(t), detail: mem[t.id] ? `${fmtKiB(mem[t.id].perTunnelKiB)} KiB/tunnel` : '' })),
      },
    ],
    'lower is better; dashed line = nghttpx',
  );
  panel(
    'Gateway CPU time per message (per tunnel for new tunnels) ÷ nghttpx',
    scenarios.map((s) => ({
      label: groupLabel(s),
      values: memTargets.map((t) => {
        const a = agg[s.id][t.id];
        return { id: t.id, label: t.label, value: t.available ? a.ratio.cpuPerOp : NaN, missing: missing(t), detail: `${Number.isFinite(a.cpuPerOp) ? a.cpuPerOp.toFixed(1) : '—'} µs CPU` };
      }),
    })),
    'lower is cheaper to run; dashed line = nghttpx',
  );
  const H = y;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
${parts.join('\n')}
</svg>
`;
}
