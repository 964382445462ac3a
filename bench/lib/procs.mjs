// Child processes of the benchmark: spawned with a raised file-descriptor limit, tracked so
// that every one of them is stopped at the end, even when the run fails.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

/** Every child still running, for stopAll() and the exit hook. */
const live = new Set();

/** The file-descriptor limit the children ask for (the hard limit caps it). */
export const NOFILE = Number(process.env.BENCH_NOFILE ?? 65536);

/**
 * Spawns `cmd args` through bash so the child gets `ulimit -n NOFILE` (or the hard limit when
 * that is lower); `exec` keeps the child's pid the pid we hold.
 */
export function spawnTracked(name, cmd, args, options = {}) {
  const script = 'ulimit -n "$0" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"';
  const child = spawn('bash', ['-c', script, String(NOFILE), cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    cwd: options.cwd,
  });
  const proc = {
    name,
    child,
    pid: child.pid,
    out: '',
    err: '',
    exitCode: undefined,
    exited: undefined,
    /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
    async stop(graceMs = 3000) {
      if (proc.exitCode !== undefined) return proc.exitCode;
      try {
        child.kill('SIGTERM');
      } catch {}
      const timer = setTimeout(() => {
        try {
          child.kill('SIGKILL');
        } catch {}
      }, graceMs);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
  child.stdout.setEncoding('utf8').on('data', (d) => {
    proc.out = (proc.out + d).slice(-20_000);
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    proc.err = (proc.err + d).slice(-20_000);
  });
  proc.exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      proc.exitCode = code ?? signal;
      live.delete(proc);
      resolve(proc.exitCode);
    }),
  );
  child.once('error', (err) => {
    proc.err += `\nspawn error: ${err.message}`;
  });
  live.add(proc);
  return proc;
}

/** Waits until `regex` matches the child's stdout (or stderr); rejects if it exits first. */
export function waitForOutput(proc, regex, ms = 30_000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = regex.exec(proc.out) ?? regex.exec(proc.err);
      if (m) {
        done();
        resolve(m);
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${proc.name} printed no ready line within ${ms} ms\nstdout: ${proc.out}\nstderr: ${proc.err}`));
    }, ms);
    const onExit = () => {
      done();
      reject(new Error(`${proc.name} exited (${proc.exitCode}) before it was ready\nstdout: ${proc.out.trim()}\nstderr: ${proc.err.trim()}`));
    };
    const done = () => {
      clearTimeout(timer);
      proc.child.stdout.off('data', check);
      proc.child.stderr.off('data', check);
      proc.child.off('exit', onExit);
    };
    proc.child.stdout.on('data', check);
    proc.child.stderr.on('data', check);
    proc.child.once('exit', onExit);
    check();
  });
}

/** Stops every tracked child (SIGTERM, then SIGKILL). */
export async function stopAll() {
  await Promise.all([...live].map((p) => p.stop()));
}

/** Last resort on exit: SIGKILL whatever is still running. */
export function killAllSync() {
  for (const p of live) {
    try {
      p.child.kill('SIGKILL');
    } catch {}
  }
}

/** A free loopback TCP port (bind to 0, read it, release it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function childrenOf(pid) {
  const out = [];
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch {}
  }
  return out;
}

/**
 * VmRSS in KiB of a process and all its descendants (nghttpx runs a worker process under
 * its master; the others are one process each).
 */
export function rssKiB(pid) {
  let total = 0;
  const seen = new Set();
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    if (seen.has(p)) continue;
    seen.add(p);
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]);
    } catch {}
    stack.push(...childrenOf(p));
  }
  return total;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

function treeOf(pid) {
  const seen = new Set();
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    if (seen.has(p)) continue;
    seen.add(p);
    stack.push(...childrenOf(p));
  }
  return [...seen];
}

/** CPU time (user + system, all threads) in ms of a process and its descendants. */
export function cpuMs(pid) {
  let ticks = 0;
  for (const p of treeOf(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {}
  }
  return (ticks * 1000) / CLK_TCK;
}

/** Busy CPU time of the whole machine (user, nice, system, irq, softirq), in ms. */
function machineMs() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
  return ((f[1] + f[2] + f[3] + f[6] + f[7]) * 1000) / CLK_TCK;
}

/**
 * Measures CPU use over a window: the gateway (pid, may be undefined), the backend, this
 * process (the load generator), and whatever else ran on the machine meanwhile ("other":
 * machine time less ours), which tells a measurement disturbed by other work.
 */
export function cpuProbe(gatewayPid, backendPid) {
  let g0, b0, l0, m0, t0;
  return {
    begin() {
      g0 = gatewayPid ? cpuMs(gatewayPid) : NaN;
      b0 = cpuMs(backendPid);
      l0 = process.cpuUsage();
      m0 = machineMs();
      t0 = performance.now();
    },
    end() {
      const wallMs = performance.now() - t0;
      const l = process.cpuUsage(l0);
      const gatewayMs = gatewayPid ? cpuMs(gatewayPid) - g0 : NaN;
      const backendMs = cpuMs(backendPid) - b0;
      const loadgenMs = (l.user + l.system) / 1000;
      const otherMs = machineMs() - m0 - (gatewayPid ? gatewayMs : 0) - backendMs - loadgenMs;
      return { wallMs, gatewayMs, backendMs, loadgenMs, otherMs };
    },
  };
}

/** Runs a command to completion and returns its trimmed output, or undefined if it fails. */
export function capture(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.trim();
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
