/**
 * Soak: tunnels opened and closed in waves against a spawned gateway. After every wave no
 * tunnel and no HTTP/2 session may be left open (h2ws_tunnels_open, h2ws_sessions_open), and
 * after the run the gateway's file descriptors and resident memory must be back near their
 * post-warm-up baseline: a tunnel that leaks a socket, a timer or a listener shows up here
 * long before it shows up in production.
 *
 * `npm test` runs a short version (test/integration/faults.e2e.test.ts). `npm run soak` runs
 * this file as a script: 10,000 tunnels under each runtime, one line per wave, exit 1 on a leak.
 *
 *   node_modules/.bin/deno run -A test/soak/soak.ts [node] [deno] [bun]
 *
 * Environment: SOAK_TUNNELS (default 10000), SOAK_WAVE (200), SOAK_FD_SLACK (4),
 * SOAK_RSS_SLACK_MIB (192: growth allowed over the post-warm-up baseline; Deno's heap settles
 * about 110 MiB above it), SOAK_RSS_PLATEAU_MIB (32: growth allowed in the second half of the
 * run over the first half's highest). Linux only: it reads /proc/<pid>/fd and /proc/<pid>/status.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import process from 'node:process';
import { setTimeout as setTimeoutPromise } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import { BIN, type GatewayProcess, RUNTIMES, type RuntimeName, startGateway, writeConfig } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, FrameSink, type H2Client, openTunnel } from '../helpers/h2-client.ts';

const H2 = http2.constants;

/** File descriptors and resident memory of a process, from /proc (Linux). */
export interface ProcStats {
  readonly fds: number;
  readonly rssKiB: number;
}

export function procStats(pid: number): ProcStats {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return { fds, rssKiB: Number(m[1]) };
}

/** A `ws` echo backend that keeps nothing per connection, so the runner's memory stays flat. */
export async function startPlainEcho(): Promise<{ url: string; connections(): number; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  let connections = 0;
  wss.on('connection', (socket) => {
    connections++;
    socket.on('error', () => {});
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** GET /metrics on a fresh HTTP/1.1 connection (Connection: close). */
export function scrape(gw: GatewayProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${gw.url}metrics`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

/** The sum of a metric's samples whose labels include every given `name="value"` pair. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * Polls /metrics until no tunnel and no h2 session is open (the scrape's own HTTP/1.1
 * connection is the only one allowed), or fails after `ms` naming what is still open.
 */
export async function settled(gw: GatewayProcess, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await scrape(gw);
    const open = {
      tunnels: metric(text, 'h2ws_tunnels_open'),
      h2: metric(text, 'h2ws_sessions_open', { transport: 'h2' }),
      h1: metric(text, 'h2ws_sessions_open', { transport: 'h1' }),
    };
    if (open.tunnels === 0 && open.h2 === 0 && open.h1 <= 1) return;
    if (Date.now() > deadline) throw new Error(`still open ${ms} ms after the wave: ${JSON.stringify(open)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface WaveOptions {
  readonly tunnels: number;
  /** Fresh h2 connections the wave's h2 tunnels are spread over (Deno's gateway ends a session after 128 streams). */
  readonly h2Connections: number;
  /** How many of the wave's tunnels go over HTTP/1.1 instead. */
  readonly h1Tunnels: number;
  /** Every `resetEvery`-th tunnel is aborted by the client (RST_STREAM CANCEL, or a TCP RST) instead of closed. */
  readonly resetEvery: number;
  /**
   * End each h2 connection by closing its socket (no GOAWAY) instead of session.close().
   * Deno 2.9's node:http2 aborts the process on a client GOAWAY after busy connections
   * (bench/repro-deno-goaway-crash.mjs), so the Deno soak drops connections the way vanished
   * peers do; that path must not leak either.
   */
  readonly dropConnections?: boolean;
}

export interface WaveResult {
  readonly opened: number;
  readonly failures: readonly string[];
}

const closeFrame = (code: number) => clientFrame(Buffer.from([code >> 8, code & 0xff]), 0x8);

function streamClosed(stream: http2.ClientHttp2Stream): Promise<void> {
  return new Promise((resolve) => (stream.closed ? resolve() : stream.once('close', () => resolve())));
}

/** One h2 tunnel: open, one echo round trip, then Close 1000 + END_STREAM, or RST_STREAM CANCEL. */
async function h2Tunnel(client: H2Client, id: string, reset: boolean): Promise<void> {
  const res = await openTunnel(client, `/soak?t=${id}`);
  if (res.status !== 200) throw new Error(`h2 tunnel ${id}: status ${res.status}, rst ${res.rstCode}`);
  const sink = new FrameSink(false);
  res.stream.on('data', (d: Buffer) => sink.write(d));
  res.stream.write(clientFrame(id));
  await sink.until(() => sink.messages.length === 1, 10_000);
  if (sink.messages[0] !== id) throw new Error(`h2 tunnel ${id}: echoed ${String(sink.messages[0])}`);
  if (reset) {
    await cancelStream(res.stream);
  } else {
    res.stream.end(closeFrame(1000));
    await sink.until(() => sink.close !== undefined, 10_000);
  }
  await streamClosed(res.stream);
  if (!reset && res.stream.rstCode !== H2.NGHTTP2_NO_ERROR) throw new Error(`h2 tunnel ${id}: closed with RST_STREAM ${res.stream.rstCode}`);
}

/** One HTTP/1.1 tunnel: open, one echo round trip, then Close 1000, or a TCP reset. */
async function h1Tunnel(gw: GatewayProcess, id: string, reset: boolean): Promise<void> {
  const ws = new WebSocket(`${gw.url.replace('http', 'ws')}soak?t=${id}`);
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`h1 tunnel ${id}: status ${res.statusCode}`)));
    ws.once('close', () => reject(new Error(`h1 tunnel ${id}: closed before open`)));
  });
  const echoed = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`h1 tunnel ${id}: no echo`)), 10_000);
    ws.once('message', (data) => {
      clearTimeout(t);
      resolve(String(data));
    });
    ws.send(id);
  });
  if (echoed !== id) throw new Error(`h1 tunnel ${id}: echoed ${echoed}`);
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  if (reset) tcpReset(ws);
  else ws.close(1000);
  const code = await closed;
  if (!reset && code !== 1000) throw new Error(`h1 tunnel ${id}: closed with ${code}`);
}

/**
 * Resets a client stream with a bare RST_STREAM CANCEL, the way a browser abandons a
 * WebSocket. node:http2's close(code) sends END_STREAM before the RST_STREAM, so the server
 * would see a clean end first; destroy() with an AbortError (what an AbortSignal does) sends
 * the RST_STREAM alone, with CANCEL.
 */
/** An h2 client over a TCP socket of its own, so the connection can be dropped without a GOAWAY. */
async function connectDroppable(url: string, sockets: net.Socket[]): Promise<H2Client> {
  const { port, hostname } = new URL(url);
  const session = http2.connect(url, {
    createConnection: () => {
      const socket = net.connect(Number(port), hostname);
      sockets.push(socket);
      return socket;
    },
  });
  session.on('error', () => {});
  const settings = await new Promise<http2.Settings>((resolve, reject) => {
    session.once('remoteSettings', resolve);
    session.once('error', reject);
  });
  return { session, settings, close: async () => void session.destroy() };
}

/** Ends a connection the way a vanished peer does: the TCP connection closes, with no GOAWAY. */
function drop(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
    socket.destroy();
  });
}

export async function cancelStream(stream: http2.ClientHttp2Stream): Promise<void> {
  const abortError: unknown = await setTimeoutPromise(0, undefined, { signal: AbortSignal.abort() }).catch((err: unknown) => err);
  stream.destroy(abortError as Error);
}

/** Aborts a `ws` client's connection with a TCP RST (terminate() would send a FIN). */
export function tcpReset(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: net.Socket })._socket;
  if (socket === undefined) throw new Error('the WebSocket has no socket');
  socket.resetAndDestroy();
}

/** Opens and closes one wave of tunnels concurrently; every h2 connection is closed before it returns. */
export async function runWave(gw: GatewayProcess, wave: number, options: WaveOptions): Promise<WaveResult> {
  const sockets: net.Socket[] = [];
  const clients = await Promise.all(
    Array.from({ length: options.h2Connections }, () => (options.dropConnections ? connectDroppable(gw.url, sockets) : connectH2(gw.url))),
  );
  const failures: string[] = [];
  let opened = 0;
  const jobs: Array<Promise<void>> = [];
  for (let i = 0; i < options.tunnels; i++) {
    const id = `${wave}.${i}`;
    const reset = i % options.resetEvery === options.resetEvery - 1;
    const job = i < options.h1Tunnels ? h1Tunnel(gw, id, reset) : h2Tunnel(clients[i % clients.length]!, id, reset);
    jobs.push(job.then(() => void opened++, (err: Error) => void failures.push(err.message)));
  }
  await Promise.all(jobs);
  if (options.dropConnections) await Promise.all(sockets.map(drop));
  else await Promise.all(clients.map((c) => c.close()));
  return { opened, failures };
}

export interface SoakOptions extends WaveOptions {
  readonly waves: number;
  /** Waves run before the baseline is taken: code paths, JIT and allocator pools warm up. */
  readonly warmupWaves: number;
  readonly onWave?: (report: WaveReport) => void;
}

export interface WaveReport {
  readonly wave: number;
  readonly result: WaveResult;
  readonly stats: ProcStats;
}

export interface SoakResult {
  readonly baseline: ProcStats;
  readonly final: ProcStats;
  readonly waves: readonly WaveReport[];
}

/**
 * Runs the warm-up waves, takes the baseline, runs `waves` more; after each wave waits for
 * the gauges to return to zero (fails if they do not) and samples the gateway's fds and RSS.
 */
export async function soak(gw: GatewayProcess, options: SoakOptions): Promise<SoakResult> {
  const pid = gw.proc.pid!;
  const one = async (wave: number) => {
    let result: WaveResult;
    try {
      result = await runWave(gw, wave, options);
      await settled(gw);
    } catch (err) {
      // A refused or reset connection usually means the gateway is gone: say so, with why.
      await Promise.race([gw.exited, new Promise((r) => setTimeout(r, 1000))]);
      throw dead(gw, wave) ?? err;
    }
    const gone = dead(gw, wave);
    if (gone !== undefined) throw gone;
    const report = { wave, result, stats: procStats(pid) };
    options.onWave?.(report);
    return report;
  };
  for (let w = 0; w < options.warmupWaves; w++) await one(w - options.warmupWaves);
  const baseline = procStats(pid);
  const waves: WaveReport[] = [];
  for (let w = 0; w < options.waves; w++) waves.push(await one(w));
  return { baseline, final: procStats(pid), waves };
}

/** An error naming how the gateway died and its last words, or undefined while it runs. */
function dead(gw: GatewayProcess, wave: number): Error | undefined {
  const { exitCode, signalCode } = gw.proc;
  if (exitCode === null && signalCode === null) return undefined;
  const last = gw.stderr().split('\n').filter((l) => l.trim() !== '' && !l.includes('"event":"tunnel"')).slice(-3).join('\n');
  return new Error(`the ${gw.runtime} gateway died during wave ${wave} (${signalCode ?? `exit ${exitCode}`}):\n${last}`);
}

/**
 * What is wrong with a finished soak: failed tunnels, more fds than at baseline plus
 * `slack.fds`, VmRSS above baseline plus `slack.rssKiB`, and, with `slack.plateauKiB`, VmRSS
 * still climbing in the second half of the run (a heap settles at its working size early on;
 * a leak keeps growing with every wave).
 */
export function leaks(result: SoakResult, slack: { fds: number; rssKiB: number; plateauKiB?: number }): string[] {
  const problems: string[] = [];
  for (const w of result.waves) for (const f of w.result.failures) problems.push(`wave ${w.wave}: ${f}`);
  const { baseline, final, waves } = result;
  if (final.fds > baseline.fds + slack.fds) problems.push(`file descriptors: ${final.fds} after the run, ${baseline.fds} at baseline (slack ${slack.fds})`);
  if (final.rssKiB > baseline.rssKiB + slack.rssKiB) {
    problems.push(`VmRSS: ${mib(final.rssKiB)} after the run, ${mib(baseline.rssKiB)} at baseline (slack ${mib(slack.rssKiB)})`);
  }
  if (slack.plateauKiB !== undefined && waves.length >= 4) {
    const firstHalf = Math.max(...waves.slice(0, Math.floor(waves.length / 2)).map((w) => w.stats.rssKiB));
    if (final.rssKiB > firstHalf + slack.plateauKiB) {
      problems.push(`VmRSS still climbing: ${mib(final.rssKiB)} after the run, at most ${mib(firstHalf)} in its first half (slack ${mib(slack.plateauKiB)})`);
    }
  }
  return problems;
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** Starts a gateway bridging every path to `backend`. */
export function startSoakGateway(runtime: RuntimeName, backend: string): Promise<GatewayProcess> {
  // Only warnings: ten thousand tunnel records would only fill the pipe. The stream limit
  // sits above one wave's share per connection; a short drain lets the runner exit quickly.
  const args = ['--listen', '127.0.0.1:0', '--backend', backend, '--log-level', 'warn'];
  const config = { limits: { maxStreamsPerConnection: 1000 }, timeouts: { drainMs: 2000 } };
  const onNode = process.versions.deno === undefined && process.versions.bun === undefined;
  return runtime === 'node' && !onNode ? startNodeGateway(args, config) : startGateway(runtime, args, config);
}

/**
 * startGateway runs the Node gateway with process.execPath, which is this runner's own binary
 * when the script runs under Deno; there the `node` on PATH (the one npm ran) runs it instead.
 */
async function startNodeGateway(args: string[], config: unknown): Promise<GatewayProcess> {
  const proc = spawn('node', [BIN, '--config', writeConfig(config), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node gateway did not get ready in 30 s: ${out}${err}`)), 30_000);
    proc.stdout.on('data', () => {
      const m = /listening on (\S+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`node gateway exited with ${code}: ${out}${err}`)));
  });
  return {
    runtime: 'node',
    url,
    port: Number(new URL(url).port),
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const env = process.env;
  const total = Number(env.SOAK_TUNNELS ?? 10_000);
  const waveSize = Number(env.SOAK_WAVE ?? 200);
  const slack = {
    fds: Number(env.SOAK_FD_SLACK ?? 4),
    rssKiB: Number(env.SOAK_RSS_SLACK_MIB ?? 192) * 1024,
    plateauKiB: Number(env.SOAK_RSS_PLATEAU_MIB ?? 32) * 1024,
  };
  const runtimes = argv.length > 0 ? (argv as RuntimeName[]) : RUNTIMES;
  for (const r of runtimes) if (!RUNTIMES.includes(r)) throw new Error(`unknown runtime ${r}; expected ${RUNTIMES.join(', ')}`);
  const echo = await startPlainEcho();
  let failed = false;
  try {
    for (const runtime of runtimes) {
      const gw = await startSoakGateway(runtime, echo.url);
      try {
        const waves = Math.ceil(total / waveSize);
        const warmupWaves = 2;
        console.log(`${runtime}: ${warmupWaves} warm-up waves, then ${waves} waves of ${waveSize} tunnels (gateway pid ${gw.proc.pid})`);
        let started = Date.now();
        const result = await soak(gw, {
          waves,
          warmupWaves,
          tunnels: waveSize,
          h2Connections: 4,
          h1Tunnels: Math.floor(waveSize / 5),
          resetEvery: 5,
          // Deno 2.9's node:http2 aborts on a client GOAWAY after busy connections (bench/repro-deno-goaway-crash.mjs).
          dropConnections: runtime === 'deno',
          onWave: ({ wave, result: r, stats }) => {
            const label = wave < 0 ? 'warm-up' : `wave ${String(wave + 1).padStart(3)}`;
            const failures = r.failures.length > 0 ? `, ${r.failures.length} failed: ${r.failures[0]}` : '';
            console.log(`${runtime} ${label}: ${r.opened}/${waveSize} ok in ${Date.now() - started} ms, ${stats.fds} fds, VmRSS ${mib(stats.rssKiB)}${failures}`);
            started = Date.now();
          },
        });
        const problems = leaks(result, slack);
        console.log(`${runtime}: baseline ${result.baseline.fds} fds, ${mib(result.baseline.rssKiB)}; after ${result.final.fds} fds, ${mib(result.final.rssKiB)}`);
        for (const p of problems) console.log(`${runtime}: LEAK ${p}`);
        if (problems.length > 0) failed = true;
      } catch (err) {
        console.log(`${runtime}: ${(err as Error).message}`);
        failed = true;
      } finally {
        // A crash shows as an exit before the stop. (Deno's child_process reports a child that
        // exits 0 on SIGTERM as killed by the signal, so the stop's own exit status says nothing.)
        if (gw.proc.exitCode !== null || gw.proc.signalCode !== null) {
          console.log(`${runtime}: the gateway died during the soak (${gw.proc.exitCode ?? gw.proc.signalCode})\n${gw.stderr()}`);
          failed = true;
        }
        await gw.stop();
      }
    }
  } finally {
    await echo.close();
  }
  console.log(failed ? 'soak: FAILED' : 'soak: ok');
  return failed ? 1 : 0;
}

// Run as a script (not when the vitest suite imports the helpers above).
const entry = process.argv[1] ?? '';
if (/soak\.ts$/.test(entry)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
