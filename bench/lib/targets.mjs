// The targets: direct ws (no gateway), h2ws under Node, Deno and Bun, nghttpx and HAProxy.
// Each start() spawns a fresh process and resolves once it accepts h2c with RFC 8441.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectH2 } from './loadgen.mjs';
import { capture, freePort, sleep, spawnTracked, waitForOutput } from './procs.mjs';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/h2ws.js');
let tmp;

/** A temporary folder for config files, made on first use. */
function tmpFile(name) {
  tmp ??= mkdtempSync(path.join(tmpdir(), 'h2ws-bench-'));
  return path.join(tmp, name);
}

/** Removes the temporary config files. */
export function removeTmp() {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
}

/** Peer worker threads: 1 by default, like h2ws's one JS thread (override: BENCH_PEER_THREADS). */
export const PEER_THREADS = Number(process.env.BENCH_PEER_THREADS ?? 1);

/** h2ws's config for the benchmark: room for 10,000+ tunnels, a short drain on SIGTERM. */
export const H2WS_CONFIG = { limits: { maxTunnels: 20_000 }, timeouts: { drainMs: 500 } };

function which(cmd) {
  return capture('bash', ['-c', `command -v ${cmd}`]);
}

/** Polls until an h2c connection with SETTINGS_ENABLE_CONNECT_PROTOCOL succeeds. */
async function waitH2(proc, port, ms = 15_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    if (proc.exitCode !== undefined) throw new Error(`${proc.name} exited (${proc.exitCode}) during start-up\nstdout: ${proc.out.trim()}\nstderr: ${proc.err.trim()}`);
    try {
      const s = await connectH2(port, 2000);
      s.destroy();
      return;
    } catch (err) {
      last = err;
      await sleep(100);
    }
  }
  throw new Error(`${proc.name} did not accept h2c on port ${port} within ${ms} ms: ${last?.message}\nstderr: ${proc.err.trim()}`);
}

function h2wsCommand(runtime, bin = BIN) {
  if (runtime === 'node') return { cmd: process.execPath, args: [bin] };
  const exe = path.join(ROOT, 'node_modules/.bin', runtime);
  return runtime === 'deno' ? { cmd: exe, args: ['run', '-A', bin] } : { cmd: exe, args: [bin] };
}

/**
 * `id` and `root` name another built checkout of h2ws to measure side by side (the baseline
 * row: BENCH_BASELINE=path, a checkout of the release before h2ws's own HTTP/2 engine).
 * `extra` are more flags (`--workers 2` for the multi-core row).
 */
function h2wsTarget(runtime, label, backendPort, id = runtime, root = ROOT, extra = []) {
  const bin = runtime === 'node' ? process.execPath : path.join(ROOT, 'node_modules/.bin', runtime);
  const check = () => {
    if (!existsSync(path.join(root, 'dist/src/cli/main.js'))) return `${path.join(root, 'dist')} is missing: run \`npm run build\` there first`;
    if (!existsSync(bin)) return `${runtime} is not installed at ${path.relative(ROOT, bin)} (run \`npm ci\`; it is a devDependency)`;
    return undefined;
  };
  const version = () => {
    if (runtime === 'node') return `Node ${process.version}`;
    const v = capture(bin, ['--version']);
    return v ? `${runtime === 'deno' ? 'Deno' : 'Bun'} ${v.split('\n')[0].replace(/^deno\s+/, '').split(' ')[0]}` : undefined;
  };
  return {
    id,
    label,
    kind: 'h2',
    memory: true,
    check,
    version,
    async start() {
      const config = tmpFile('h2ws.json');
      writeFileSync(config, JSON.stringify(H2WS_CONFIG));
      const { cmd, args } = h2wsCommand(runtime, path.join(root, 'bin/h2ws.js'));
      const proc = spawnTracked(label, cmd, [...args, '--listen', '127.0.0.1:0', '--backend', `ws://127.0.0.1:${backendPort}`, '--config', config, '--log-level', 'warn', ...extra], { cwd: root });
      try {
        const m = await waitForOutput(proc, /h2ws listening on http:\/\/127\.0\.0\.1:(\d+)\//);
        const port = Number(m[1]);
        await waitH2(proc, port);
        return { port, pid: proc.pid, proc, stop: () => proc.stop() };
      } catch (err) {
        await proc.stop(1000);
        throw err;
      }
    },
  };
}

/** nghttpx 1.52: RFC 8441 on the h2c frontend, HTTP/1.1 Upgrade to the backend. */
function nghttpxTarget(backendPort, threads = PEER_THREADS, id = 'nghttpx', label = 'nghttpx') {
  const args = (port) => [
    '--conf=/dev/null',
    `--frontend=127.0.0.1,${port};no-tls`,
    `--backend=127.0.0.1,${backendPort}`,
    `--workers=${threads}`,
    '--frontend-http2-read-timeout=1h',
    '--backend-read-timeout=1h',
    '--backend-write-timeout=1h',
    '--backend-keep-alive-timeout=1h',
  ];
  return {
    id,
    label,
    kind: 'h2',
    peer: true,
    memory: id === 'nghttpx',
    apt: 'nghttp2-proxy',
    check: () => (which('nghttpx') ? undefined : 'nghttpx is not installed (Debian package nghttp2-proxy)'),
    version: () => capture('nghttpx', ['--version'])?.split('\n')[0].replace(/^nghttpx nghttp2\//, 'nghttpx '),
    describe: () =>
      `\`nghttpx ${args('PORT')
        .map((a) => (a.includes(';') ? `'${a}'` : a))
        .join(' ')}\`. RFC 8441 is on by default in 1.52 (it sends SETTINGS_ENABLE_CONNECT_PROTOCOL=1; \`nghttpx --help\` lists no flag to turn it on or off). The 1 h timeouts keep idle tunnels open during the memory measurement.`,
    async start() {
      const port = await freePort();
      const proc = spawnTracked(label, 'nghttpx', args(port));
      try {
        await waitH2(proc, port);
        return { port, pid: proc.pid, proc, stop: () => proc.stop() };
      } catch (err) {
        await proc.stop(1000);
        throw err;
      }
    },
  };
}

/** HAProxy 2.6: `bind ... proto h2` (h2c prior knowledge); RFC 8441 → HTTP/1.1 Upgrade. */
function haproxyTarget(backendPort, threads = PEER_THREADS, id = 'haproxy', label = 'HAProxy') {
  const config = (port) => `global
  nbthread ${threads}
  maxconn 9000

defaults
  mode http
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h

frontend fe
  bind 127.0.0.1:${port} proto h2
  default_backend be

backend be
  server ws 127.0.0.1:${backendPort}
`;
  return {
    id,
    label,
    kind: 'h2',
    peer: true,
    memory: id === 'haproxy',
    apt: 'haproxy',
    check: () => (which('haproxy') ? undefined : 'haproxy is not installed (Debian package haproxy)'),
    version: () => {
      const m = /HA-?Proxy version (\S+)/.exec(capture('haproxy', ['-v']) ?? '');
      return m ? `HAProxy ${m[1]}` : undefined;
    },
    describe: () =>
      `\`haproxy -db -f haproxy.cfg\` (foreground, one process). \`option http-use-htx\` is left out: 2.6 rejects it as an unknown option, HTX being the only mode since 2.1. RFC 8441 needs no option on a \`proto h2\` bind. \`maxconn\` counts client connections, not backend ones, and keeps HAProxy within the open-files limit.\n\n  \`\`\`\n${config('PORT')
        .trim()
        .split('\n')
        .map((l) => (l ? `  ${l}` : ''))
        .join('\n')}\n  \`\`\``,
    async start() {
      const port = await freePort();
      const file = tmpFile(`${id}.cfg`);
      writeFileSync(file, config(port));
      const proc = spawnTracked(label, 'haproxy', ['-db', '-f', file]);
      try {
        await waitH2(proc, port);
        return { port, pid: proc.pid, proc, stop: () => proc.stop() };
      } catch (err) {
        await proc.stop(1000);
        throw err;
      }
    },
  };
}

/** The baseline: the load generator speaks HTTP/1.1 WebSocket straight to the backend. */
function directTarget(backendPort) {
  return {
    id: 'direct',
    label: 'direct ws',
    kind: 'ws',
    memory: false,
    check: () => undefined,
    version: () => undefined,
    async start() {
      return { port: backendPort, pid: undefined, stop: async () => {} };
    },
  };
}

/** Processes or threads each gateway gets in the multi-core row. */
export const MULTICORE = 2;

/**
 * The multi-core row: h2ws with `--workers 2` on each runtime (Node: node:cluster; Deno and
 * Bun: SO_REUSEPORT), nghttpx `--workers=2` and HAProxy `nbthread 2`. Measured only in the
 * multi-core scenarios, against nghttpx with 2 workers.
 */
function multicoreTargets(backendPort) {
  const workers = ['--workers', String(MULTICORE)];
  return [
    h2wsTarget('node', `h2ws Node ×${MULTICORE}`, backendPort, 'node-w2', ROOT, workers),
    h2wsTarget('deno', `h2ws Deno ×${MULTICORE}`, backendPort, 'deno-w2', ROOT, workers),
    h2wsTarget('bun', `h2ws Bun ×${MULTICORE}`, backendPort, 'bun-w2', ROOT, workers),
    nghttpxTarget(backendPort, MULTICORE, 'nghttpx-w2', `nghttpx ×${MULTICORE}`),
    haproxyTarget(backendPort, MULTICORE, 'haproxy-w2', `HAProxy ×${MULTICORE}`),
  ].map((t) => ({ ...t, multicore: true, memory: false }));
}

/** All targets, in the order each repetition visits them. */
export function makeTargets(backendPort) {
  return [
    directTarget(backendPort),
    h2wsTarget('node', 'h2ws Node', backendPort),
    ...(process.env.BENCH_BASELINE ? [h2wsTarget('node', 'h2ws Node, node:http2 (previous release)', backendPort, 'baseline', path.resolve(process.env.BENCH_BASELINE))] : []),
    h2wsTarget('deno', 'h2ws Deno', backendPort),
    h2wsTarget('bun', 'h2ws Bun', backendPort),
    nghttpxTarget(backendPort),
    haproxyTarget(backendPort),
    ...multicoreTargets(backendPort),
  ];
}
