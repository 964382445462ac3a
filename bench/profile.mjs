#!/usr/bin/env node
// Runs one benchmark scenario against h2ws on Node with extra Node flags, for profiling, and
// can attach a tracer to the gateway process while it is measured. Used for the profile
// evidence in bench/notes.md.
//
//   node bench/profile.mjs SCENARIO [--seconds N] [--node-flags="..."] [--trace "cmd with PID"]
//
// SCENARIO: msg64-1 | msg64-1x16 | msg64-100 | msg1k-4x50 | msg64k-1 | tunnels | memory
//
// Examples (after `npm run build`):
//   node bench/profile.mjs tunnels --node-flags="--cpu-prof --cpu-prof-dir=/tmp/prof"
//   node bench/profile.mjs msg64-100 --trace "perf record -g -o /tmp/perf.data -p PID -- sleep 3"
//   node bench/profile.mjs msg64-100 --trace "timeout -s INT 3 strace -c -f -p PID"
//   node bench/profile.mjs memory --node-flags=--heapsnapshot-signal=SIGUSR2 --snapshot
//
// (--node-flags takes "=": its value starts with a dash.)
// The gateway runs a warm-up pass of the scenario first, so the JIT has settled when the
// measured pass (and the tracer) starts. --snapshot sends SIGUSR2 while the idle tunnels are
// open and waits for the heap snapshot to be written (into the current directory).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openIdle, runEcho, runTunnelRate } from './lib/loadgen.mjs';
import { cpuProbe, rssKiB, sleep, spawnTracked, stopAll, waitForOutput } from './lib/procs.mjs';
import { H2WS_CONFIG, ROOT } from './lib/targets.mjs';

const ECHO = {
  'msg64-1': { conns: 1, streams: 1, size: 64, inflight: 1 },
  'msg64-1x16': { conns: 1, streams: 1, size: 64, inflight: 16 },
  'msg64-100': { conns: 1, streams: 100, size: 64, inflight: 1 },
  'msg1k-4x50': { conns: 4, streams: 50, size: 1024, inflight: 1 },
  'msg64k-1': { conns: 1, streams: 1, size: 65536, inflight: 1 },
};

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      seconds: { type: 'string', default: '3' },
      'node-flags': { type: 'string', default: '' },
      trace: { type: 'string' },
      snapshot: { type: 'boolean', default: false },
    },
  });
} catch (err) {
  console.error(`profile: ${err.message.split('\n')[0]} (write --node-flags="--flag ...")`);
  process.exit(2);
}
const { values, positionals } = parsed;
const scenario = positionals[0];
if (scenario === undefined || !(scenario in ECHO || scenario === 'tunnels' || scenario === 'memory')) {
  console.error(`profile: scenario must be one of ${[...Object.keys(ECHO), 'tunnels', 'memory'].join(', ')}`);
  process.exit(2);
}
const seconds = Number(values.seconds);
if (!(seconds > 0)) {
  console.error('profile: --seconds must be a positive number');
  process.exit(2);
}

const tmp = mkdtempSync(path.join(tmpdir(), 'h2ws-profile-'));
try {
  const backend = spawnTracked('echo backend', process.execPath, [path.join(ROOT, 'bench/lib/echo-backend.mjs')]);
  const backendPort = Number((await waitForOutput(backend, /echo backend listening on (\d+)/))[1]);
  const config = path.join(tmp, 'h2ws.json');
  writeFileSync(config, JSON.stringify(H2WS_CONFIG));
  const flags = values['node-flags'].split(' ').filter(Boolean);
  const gateway = spawnTracked('h2ws Node', process.execPath, [...flags, path.join(ROOT, 'bin/h2ws.js'), '--listen', '127.0.0.1:0', '--backend', `ws://127.0.0.1:${backendPort}`, '--config', config, '--log-level', 'warn'], { cwd: process.cwd() });
  const port = Number((await waitForOutput(gateway, /h2ws listening on http:\/\/127\.0\.0\.1:(\d+)\//))[1]);
  console.log(`h2ws Node pid ${gateway.pid} on port ${port}; backend pid ${backend.pid}`);

  const pass = async (measured) => {
    const durationMs = (measured ? seconds : Math.min(seconds, 2)) * 1000;
    const common = { kind: 'h2', port, warmupMs: 500, durationMs, probe: cpuProbe(gateway.pid, backend.pid) };
    if (scenario === 'tunnels') return runTunnelRate({ ...common, concurrency: 16 });
    return runEcho({ ...common, ...ECHO[scenario] });
  };

  if (scenario === 'memory') {
    const before = rssKiB(gateway.pid);
    const idle = await openIdle({ port, total: 10_000, perConn: 100 });
    await sleep(1000);
    const after = rssKiB(gateway.pid);
    console.log(`RSS ${(before / 1024).toFixed(1)} → ${(after / 1024).toFixed(1)} MiB: ${((after - before) / 10_000).toFixed(2)} KiB per idle tunnel`);
    if (values.snapshot) {
      process.kill(gateway.pid, 'SIGUSR2');
      console.log('heap snapshot requested; waiting 20 s for it to be written');
      await sleep(20_000);
    }
    await idle.close();
  } else {
    await pass(false);
    const tracer = values.trace ? spawn('bash', ['-c', `exec ${values.trace.replaceAll('PID', String(gateway.pid))}`], { stdio: 'inherit' }) : undefined;
    const traced = tracer ? new Promise((resolve) => tracer.once('exit', resolve)) : undefined;
    const r = await pass(true);
    if (tracer) {
      tracer.kill('SIGINT');
      await traced;
    }
    const cpuPerOp = (r.cpu.gatewayMs * 1000) / r.samples;
    console.log(`${scenario}: ${Math.round(r.rate)}/s, p50 ${r.p50.toFixed(0)} µs, p99 ${r.p99.toFixed(0)} µs, gateway ${cpuPerOp.toFixed(1)} µs CPU per ${scenario === 'tunnels' ? 'tunnel' : 'message'}`);
  }
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
