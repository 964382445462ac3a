#!/usr/bin/env node
// `npm run bench`: h2ws under Node, Deno and Bun side by side with direct ws, nghttpx and
// HAProxy, all bridging to one `ws` echo backend on loopback. Targets are interleaved per
// repetition (A B C A B C …); medians of the repetitions are reported with ratios against
// nghttpx in bench/RESULTS.md, bench/results.json and bench/results.svg.
//
// Environment (all optional):
//   BENCH_SECONDS=3        measured seconds per scenario per target per repetition
//   BENCH_WARMUP=0.5       warm-up seconds before each measurement (not counted)
//   BENCH_REPS=3           repetitions (medians are reported; at least 3 for the real table)
//   BENCH_TUNNELS=10000    idle tunnels for the memory measurement (0 skips it)
//   BENCH_SETTLE=40        seconds at rest before each memory reading (garbage collectors return
//                          a burst's garbage only after some idle seconds)
//   BENCH_TARGETS=...      comma list to run only some of: direct,node,baseline,deno,bun,nghttpx,haproxy,
//                          and the multi-core row's node-w2,deno-w2,bun-w2,nghttpx-w2,haproxy-w2
//                          (BENCH_TARGETS=node-w2,nghttpx-w2,haproxy-w2 runs only that row)
//   BENCH_NO_INSTALL=1     do not apt-get install missing peers
//   BENCH_PEER_THREADS=1   nghttpx workers / HAProxy nbthread
//   BENCH_OUT=bench        where to write RESULTS.md, results.json, results.svg
//   BENCH_BASELINE=DIR     a built checkout of another h2ws to add as a row, side by side (the
//                          release before h2ws's own HTTP/2 engine, which ran on node:http2)
//
// `node bench/run.mjs --rerender` rewrites RESULTS.md and results.svg from results.json, e.g.
// after editing the hand-written reading in bench/notes.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openIdle, runEcho, runTunnelRate, smoke } from './lib/loadgen.mjs';
import { capture, cpuProbe, killAllSync, rssKiB, sleep, spawnTracked, stopAll, waitForOutput } from './lib/procs.mjs';
import { H2WS_CONFIG, PEER_THREADS, ROOT, makeTargets, removeTmp } from './lib/targets.mjs';
import { writeReports } from './lib/report.mjs';

const env = process.env;
const num = (v, d) => (v === undefined || v === '' ? d : Number(v));
const CONFIG = {
  seconds: num(env.BENCH_SECONDS, 3),
  warmup: num(env.BENCH_WARMUP, 0.5),
  reps: Math.max(1, Math.floor(num(env.BENCH_REPS, 3))),
  tunnels: Math.max(0, Math.floor(num(env.BENCH_TUNNELS, 10_000))),
  settle: Math.max(0, num(env.BENCH_SETTLE, 40)),
  tunnelsPerConnection: 100,
  tunnelConcurrency: 16,
  peerThreads: PEER_THREADS,
  only: env.BENCH_TARGETS ? env.BENCH_TARGETS.split(',').map((s) => s.trim()) : undefined,
  install: env.BENCH_NO_INSTALL !== '1',
  out: path.resolve(ROOT, env.BENCH_OUT ?? 'bench'),
};
for (const [k, v] of Object.entries(CONFIG)) if (typeof v === 'number' && !Number.isFinite(v)) usage(`BENCH_* value for ${k} is not a number`);

const SCENARIOS = [
  { id: 'msg64-1', label: '64 B, 1 stream, 1 in flight', type: 'echo', conns: 1, streams: 1, size: 64, inflight: 1 },
  { id: 'msg64-1x16', label: '64 B, 1 stream, 16 in flight', type: 'echo', conns: 1, streams: 1, size: 64, inflight: 16 },
  { id: 'msg64-100', label: '64 B, 100 streams on 1 connection', type: 'echo', conns: 1, streams: 100, size: 64, inflight: 1 },
  { id: 'msg1k-4x50', label: '1 KiB, 4 connections × 50 streams', type: 'echo', conns: 4, streams: 50, size: 1024, inflight: 1 },
  { id: 'msg64k-1', label: '64 KiB, 1 stream', type: 'echo', conns: 1, streams: 1, size: 65536, inflight: 1 },
  { id: 'tunnels', label: 'new tunnels/s (open + first echo + close, 16 at a time)', type: 'tunnels' },
  // The multi-core row: 2 processes or threads per gateway, on several connections so that a
  // gateway can spread them over its cores. Measured on the multi-core targets only.
  { id: 'mc-msg64-8x25', label: '×2: 64 B, 8 connections × 25 streams', type: 'echo', conns: 8, streams: 25, size: 64, inflight: 1, multicore: true },
  { id: 'mc-msg1k-8x25', label: '×2: 1 KiB, 8 connections × 25 streams', type: 'echo', conns: 8, streams: 25, size: 1024, inflight: 1, multicore: true },
  { id: 'mc-tunnels', label: '×2: new tunnels/s on 8 connections, 16 at a time', type: 'tunnels', connections: 8, multicore: true },
];

function usage(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

const log = (...a) => console.log(...a);
const started = Date.now();
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s]`;
const failures = [];
/** Measurements during which other processes used more than this share of a core are repeated. */
const DISTURBED = 0.35;
const MAX_REPEATS = 2;
const disturbed = [];

function fail(where, err) {
  const message = err instanceof Error ? err.message : String(err);
  failures.push({ where, message });
  log(`${stamp()} FAILED ${where}: ${message}`);
}

// ---------------------------------------------------------------------------------------

/** Installs missing peers with apt-get when we may; returns a note for the report. */
function ensurePeers(targets) {
  const missing = targets.filter((t) => t.apt && t.check());
  if (missing.length === 0) return undefined;
  const pkgs = [...new Set(missing.map((t) => t.apt))];
  if (!CONFIG.install) return `not installing ${pkgs.join(', ')} (BENCH_NO_INSTALL=1)`;
  if (process.getuid?.() !== 0 || !capture('bash', ['-c', 'command -v apt-get'])) return `cannot install ${pkgs.join(', ')}: needs root and apt-get`;
  log(`${stamp()} installing ${pkgs.join(' ')} with apt-get …`);
  const r = spawnSync('bash', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkgs.join(' ')}`], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) return `apt-get install ${pkgs.join(' ')} failed: ${`${r.stderr}`.trim().split('\n').slice(-3).join(' / ')}`;
  return `installed ${pkgs.join(', ')} with apt-get`;
}

function machine(targets) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  const osName = existsSync('/etc/os-release') ? /PRETTY_NAME="?([^"\n]*)/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] : undefined;
  const gitRev = capture('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = capture('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'bin']);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const wsPkg = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/ws/package.json'), 'utf8'));
  const versions = {};
  for (const t of targets) {
    const v = t.check() ? undefined : t.version();
    if (v) versions[t.id] = v;
  }
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: model,
    memoryGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    os: osName,
    h2ws: `${pkg.version}${gitRev ? ` (git ${gitRev}${dirty ? ', with uncommitted changes in src/ or bin/' : ''})` : ''}`,
    loadGenerator: `Node ${process.version} (node:http2 client; ws ${wsPkg.version} client for direct)`,
    backend: `ws ${wsPkg.version} echo server on Node ${process.version}`,
    versions,
    nofile: Number(capture('bash', ['-c', 'ulimit -Hn']) ?? 0),
  };
}

/** The last lines of a child's stderr, on one line. */
function tail(text, lines = 3) {
  return text.trim().split('\n').slice(-lines).join(' / ') || '(no output)';
}

/** Starts a crashed target again; undefined if that fails too. */
async function restart(t) {
  try {
    const inst = await t.start();
    log(`${stamp()} ${t.label}: restarted on port ${inst.port} (pid ${inst.pid})`);
    return inst;
  } catch (err) {
    fail(`${t.label} restart`, err);
    return undefined;
  }
}

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function command() {
  const vars = Object.entries(env)
    .filter(([k]) => k.startsWith('BENCH_'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const base = env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node bench/run.mjs';
  return vars ? `${vars} ${base}` : base;
}

// ---------------------------------------------------------------------------------------

async function main() {
  log(`h2ws benchmark: ${CONFIG.reps} repetition(s), ${CONFIG.seconds} s per scenario (+${CONFIG.warmup} s warm-up), ${CONFIG.tunnels} idle tunnels`);
  const built = path.join(ROOT, 'dist/src/cli/main.js');
  if (!existsSync(built)) usage('dist/ is missing: run `npm run build` first');
  const newest = newestMtime(path.join(ROOT, 'src'));
  if (newest > statSync(built).mtimeMs) log('warning: src/ has changes newer than dist/: the gateways run the old build (run `npm run build`)');

  const backend = spawnTracked('echo backend', process.execPath, [path.join(ROOT, 'bench/lib/echo-backend.mjs')], { cwd: ROOT });
  const backendPort = Number((await waitForOutput(backend, /echo backend listening on (\d+)/))[1]);
  let targets = makeTargets(backendPort);
  if (CONFIG.only) {
    const unknown = CONFIG.only.filter((id) => !targets.some((t) => t.id === id));
    if (unknown.length) usage(`unknown target(s) in BENCH_TARGETS: ${unknown.join(', ')}`);
    targets = targets.filter((t) => CONFIG.only.includes(t.id));
  }
  const installNote = ensurePeers(targets);
  if (installNote) log(`${stamp()} ${installNote}`);
  const meta = machine(targets);
  log(`${stamp()} machine: ${meta.nproc} × ${meta.cpu}; ${Object.values(meta.versions).join('; ')}`);

  // Start every target once for the message and tunnel scenarios, and check it end to end.
  const status = {};
  const running = {};
  for (const t of targets) {
    const missing = t.check();
    if (missing) {
      status[t.id] = { available: false, reason: missing };
      log(`${stamp()} ${t.label}: NOT AVAILABLE: ${missing}`);
      if (!t.peer) fail(`${t.label} start`, missing);
      continue;
    }
    try {
      const inst = await t.start();
      const ms = await smoke(t.kind, inst.port);
      running[t.id] = inst;
      status[t.id] = { available: true };
      log(`${stamp()} ${t.label}: ready on port ${inst.port}${inst.pid ? ` (pid ${inst.pid})` : ''}; smoke test (64 B, 1 KiB, 64 KiB echoed, clean close) ${ms.toFixed(1)} ms`);
    } catch (err) {
      const reason = `could not be started or failed its smoke test: ${err.message.split('\n')[0]}`;
      status[t.id] = { available: false, reason };
      log(`${stamp()} ${t.label}: NOT AVAILABLE: ${err.message}`);
      if (!t.peer) fail(`${t.label} start`, err);
    }
  }
  const live = targets.filter((t) => status[t.id].available);

  // Message and tunnel scenarios: for each repetition, each scenario, each target in turn.
  const results = {};
  for (const s of SCENARIOS) results[s.id] = Object.fromEntries(targets.map((t) => [t.id, []]));
  for (let rep = 1; rep <= CONFIG.reps; rep++) {
    for (const s of SCENARIOS) {
      // The multi-core scenarios on the multi-core targets, the others on the rest.
      for (const t of live.filter((x) => !!x.multicore === !!s.multicore)) {
        const where = `rep ${rep} ${s.label} ${t.label}`;
        const inst = running[t.id];
        if (!inst) {
          results[s.id][t.id].push({ error: `${t.label} is not running (it crashed and could not be restarted)` });
          continue;
        }
        const probe = cpuProbe(inst.pid, backend.pid);
        const common = { kind: t.kind, port: inst.port, warmupMs: CONFIG.warmup * 1000, durationMs: CONFIG.seconds * 1000, probe };
        let r;
        for (let attempt = 0; ; attempt++) {
          try {
            r = s.type === 'echo' ? await runEcho({ ...common, conns: s.conns, streams: s.streams, size: s.size, inflight: s.inflight }) : await runTunnelRate({ ...common, concurrency: CONFIG.tunnelConcurrency, connections: s.connections });
          } catch (err) {
            r = { error: err.message };
            fail(where, err);
          }
          await sleep(150); // let the target's teardown settle before the next one starts
          // Other work on the machine (a build, a test run) skews a measurement: do it again.
          const other = r.cpu ? r.cpu.otherMs / r.cpu.wallMs : 0;
          if (r.error !== undefined || other <= DISTURBED || (inst.proc && inst.proc.exitCode !== undefined)) break;
          disturbed.push({ where, otherPercent: Math.round(other * 100), repeated: attempt < MAX_REPEATS });
          if (attempt >= MAX_REPEATS) {
            r.disturbed = true;
            log(`${stamp()} ${where}: other processes used ${Math.round(other * 100)}% of a core again; keeping this measurement, marked as disturbed`);
            break;
          }
          log(`${stamp()} ${where}: other processes used ${Math.round(other * 100)}% of a core during the measurement; measuring again`);
        }
        if (inst.proc && inst.proc.exitCode !== undefined) {
          // A crash during the scenario or its teardown (sessions end with GOAWAY) fails the run;
          // the rep does not count, and a fresh process takes over for the rest.
          const crash = `${t.label} crashed during or right after this scenario (exit ${inst.proc.exitCode}): ${tail(inst.proc.err)}`;
          r = { ...r, error: r.error ? `${r.error}; ${crash}` : crash };
          fail(where, crash);
          running[t.id] = await restart(t);
        }
        results[s.id][t.id].push(r);
        if (r.error === undefined) {
          const gw = r.cpu && Number.isFinite(r.cpu.gatewayMs) ? `  gateway ${((r.cpu.gatewayMs * 1000) / r.samples).toFixed(1).padStart(6)} µs CPU/op` : '';
          log(`${stamp()} rep ${rep} ${s.label.padEnd(34).slice(0, 34)} ${t.label.padEnd(10)} ${Math.round(r.rate).toString().padStart(7)}/s  p50 ${r.p50.toFixed(0).padStart(6)} µs  p99 ${r.p99.toFixed(0).padStart(6)} µs${gw}`);
        }
      }
    }
  }
  for (const t of live) await running[t.id]?.stop();

  // Memory per idle tunnel: per repetition, a fresh process per target, each bridging to its
  // own echo backend (so no process holds more than one target's sockets), measured side by
  // side so that the settle waits are shared.
  const memory = Object.fromEntries(targets.filter((t) => t.memory).map((t) => [t.id, []]));
  if (CONFIG.tunnels > 0) {
    for (let rep = 1; rep <= CONFIG.reps; rep++) await measureMemory(rep, live.filter((x) => x.memory), memory);
  }

  const elapsed = (Date.now() - started) / 1000;
  const report = writeReports({
    out: CONFIG.out,
    config: { ...CONFIG, out: path.relative(ROOT, CONFIG.out) || '.' },
    command: command(),
    date: new Date().toISOString(),
    elapsedSeconds: elapsed,
    machine: meta,
    installNote,
    h2wsConfig: H2WS_CONFIG,
    targets: targets.map((t) => ({ id: t.id, label: t.label, kind: t.kind, peer: !!t.peer, multicore: !!t.multicore, version: meta.versions[t.id], setup: t.describe?.(), ...status[t.id] })),
    scenarios: SCENARIOS,
    results,
    memory,
    failures,
    disturbed,
  });
  log('');
  log(report.summary);
  log(`${stamp()} wrote ${path.relative(process.cwd(), report.files.md)}, ${path.relative(process.cwd(), report.files.json)}, ${path.relative(process.cwd(), report.files.svg)} (${(elapsed / 60).toFixed(1)} min)`);
  if (failures.length > 0) {
    log(`\nbench FAILED: ${failures.length} problem(s):`);
    for (const f of failures) log(`  - ${f.where}: ${f.message}`);
    return 1;
  }
  return 0;
}

/**
 * One repetition of the memory measurement. RSS is read at rest: after the warm-up, and again
 * with the idle tunnels open, each time after CONFIG.settle seconds without traffic. A garbage
 * collector returns the opening burst's garbage only after some idle seconds (V8's memory
 * reducer ran 20-30 s after the burst in Node and Deno), so an earlier reading counts that
 * garbage as memory held by the tunnels. The reading 1 s after opening is kept as "burst".
 */
async function measureMemory(rep, memTargets, memory) {
  const runs = [];
  const failRun = (r, err) => {
    memory[r.t.id].push({ error: err.message });
    fail(`rep ${rep} memory ${r.t.label}`, err);
    r.failed = true;
  };
  const crashed = (r, when) => (r.inst.proc.exitCode !== undefined ? new Error(`${r.t.label} crashed ${when} (exit ${r.inst.proc.exitCode}): ${tail(r.inst.proc.err)}`) : undefined);
  try {
    for (const t of memTargets) {
      const r = { t, failed: false };
      runs.push(r);
      try {
        r.backend = spawnTracked(`echo backend for ${t.label}`, process.execPath, [path.join(ROOT, 'bench/lib/echo-backend.mjs')], { cwd: ROOT });
        const port = Number((await waitForOutput(r.backend, /echo backend listening on (\d+)/))[1]);
        r.inst = await makeTargets(port).find((x) => x.id === t.id).start();
        // Warm up (first tunnels, JIT, pools) before the baseline.
        const warm = await openIdle({ port: r.inst.port, total: 200, perConn: CONFIG.tunnelsPerConnection });
        await warm.close();
      } catch (err) {
        failRun(r, err);
      }
    }
    await sleep(CONFIG.settle * 1000);
    for (const r of runs.filter((x) => !x.failed)) r.before = rssKiB(r.inst.pid);
    for (const r of runs.filter((x) => !x.failed)) {
      try {
        const t0 = Date.now();
        r.idle = await openIdle({ port: r.inst.port, total: CONFIG.tunnels, perConn: CONFIG.tunnelsPerConnection });
        r.openSeconds = (Date.now() - t0) / 1000;
        await sleep(1000);
        r.burst = rssKiB(r.inst.pid);
      } catch (err) {
        failRun(r, err);
      }
    }
    await sleep(CONFIG.settle * 1000);
    for (const r of runs.filter((x) => !x.failed)) {
      const after = rssKiB(r.inst.pid);
      const err = crashed(r, 'while holding idle tunnels');
      if (err) {
        failRun(r, err);
        continue;
      }
      r.after = after;
    }
    for (const r of runs.filter((x) => !x.failed)) {
      await r.idle.close();
      await sleep(150);
      const err = crashed(r, "when the idle tunnels' connections closed");
      if (err) {
        failRun(r, err);
        continue;
      }
      const perTunnel = (r.after - r.before) / CONFIG.tunnels;
      const burstPerTunnel = (r.burst - r.before) / CONFIG.tunnels;
      memory[r.t.id].push({ beforeKiB: r.before, afterKiB: r.after, burstKiB: r.burst, perTunnelKiB: perTunnel, burstPerTunnelKiB: burstPerTunnel, openSeconds: r.openSeconds, connections: r.idle.connections });
      log(`${stamp()} rep ${rep} memory ${r.t.label.padEnd(10)} RSS ${(r.before / 1024).toFixed(1)} → ${(r.after / 1024).toFixed(1)} MiB with ${CONFIG.tunnels} idle tunnels on ${r.idle.connections} connections, after ${CONFIG.settle} s at rest: ${perTunnel.toFixed(2)} KiB/tunnel (1 s after opening: ${burstPerTunnel.toFixed(2)}; opened in ${r.openSeconds.toFixed(1)} s)`);
    }
  } finally {
    for (const r of runs) {
      if (r.idle && r.failed) await r.idle.close().catch(() => {});
      if (r.inst) await r.inst.stop();
      if (r.backend) await r.backend.stop();
    }
    await sleep(300);
  }
}

let exiting = false;
async function shutdown(code) {
  if (exiting) return;
  exiting = true;
  await stopAll();
  removeTmp();
  process.exit(code);
}
process.on('exit', killAllSync);
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));
process.on('uncaughtException', (err) => {
  console.error(err);
  void shutdown(1);
});
process.on('unhandledRejection', (err) => {
  console.error(err);
  void shutdown(1);
});

/** `--rerender`: rewrites RESULTS.md and results.svg from results.json (after editing notes.md). */
function rerender() {
  const file = path.join(CONFIG.out, 'results.json');
  const j = JSON.parse(readFileSync(file, 'utf8'));
  const nums = (v) => (v === null ? NaN : v);
  const revive = (x) => (Array.isArray(x) ? x.map(revive) : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, revive(v)])) : nums(x));
  const report = writeReports({
    out: CONFIG.out,
    config: j.config,
    command: j.command,
    date: j.date,
    elapsedSeconds: j.elapsedSeconds,
    machine: j.machine,
    installNote: j.installNote,
    h2wsConfig: j.h2wsConfig,
    targets: j.targets,
    scenarios: j.scenarios,
    results: revive(j.raw.results),
    memory: revive(j.raw.memory),
    failures: j.failures,
    disturbed: j.disturbed ?? [],
  });
  log(`rewrote ${path.relative(process.cwd(), report.files.md)} and ${path.relative(process.cwd(), report.files.svg)} from ${path.relative(process.cwd(), file)}`);
}

mkdirSync(CONFIG.out, { recursive: true });
if (process.argv.includes('--rerender')) {
  rerender();
  process.exit(0);
}
main().then(
  (code) => shutdown(code),
  (err) => {
    console.error(`bench: ${err.stack ?? err}`);
    void shutdown(1);
  },
);
