/**
 * `--workers N` (docs/deploy.md): N processes serve one address under a supervisor, on Node
 * (node:cluster), Deno and Bun (SO_REUSEPORT). Connections spread across the workers; a worker
 * that dies is replaced without touching the other workers' tunnels; /metrics and /status on
 * any worker show the whole gateway; SIGTERM drains them all; `limits.maxTunnels` holds for
 * the whole gateway.
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoBackend, startEchoBackend } from '../helpers/backends.ts';
import { EchoLoop } from '../helpers/echo-loop.ts';
import { connectOutcome, metric, scrape, scrapeUntil, status } from '../helpers/gateway-admin.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, eventually, FrameSink, type H2Client, openTunnel, type TunnelResponse } from '../helpers/h2-client.ts';

const H2 = http2.constants;
/** Enough connections that every worker gets some, however the kernel hashes them. */
const CONNECTIONS = 16;

let echo: EchoBackend;

beforeAll(async () => {
  echo = await startEchoBackend();
});

afterAll(async () => {
  await echo?.close();
});

/** One connection per tunnel, so a worker's tunnel count is its connection count. */
async function tunnels(gw: GatewayProcess, n: number): Promise<Array<{ client: H2Client; tunnel: TunnelResponse }>> {
  return Promise.all(Array.from({ length: n }, async () => {
    const client = await connectH2(gw.url);
    const tunnel = await openTunnel(client, '/echo');
    return { client, tunnel };
  }));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.each(RUNTIMES)('--workers under %s', (runtime) => {
  it('spreads tunnels across workers, sums them in /metrics and /status, and replaces a killed worker without touching the others', async () => {
    const gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', echo.url, '--workers', '2', '--log-level', 'warn']);
    const open: Array<{ client: H2Client; tunnel: TunnelResponse }> = [];
    try {
      expect(gw.stdout()).toMatch(/2 workers, (SO_REUSEPORT|cluster)/);
      open.push(...(await tunnels(gw, CONNECTIONS)));
      expect(open.map((o) => o.tunnel.status)).toEqual(Array(CONNECTIONS).fill(200));
      const loops = open.map((o, i) => new EchoLoop(o.tunnel.stream, i + 1, 1024).start());
      await Promise.all(loops.map((l) => l.more(2)));

      // Whichever worker answers, the numbers are the gateway's: both workers have tunnels.
      const text = await scrapeUntil(gw.url, (t) => metric(t, 'h2ws_tunnels_open') === CONNECTIONS);
      expect(metric(text, 'h2ws_tunnels_open')).toBe(CONNECTIONS);
      expect(metric(text, 'h2ws_tunnels_total', { outcome: 'ok' })).toBe(CONNECTIONS);
      expect(metric(text, 'h2ws_workers')).toBe(2);
      const perWorker = [metric(text, 'h2ws_worker_tunnels_open', { worker: '1' }), metric(text, 'h2ws_worker_tunnels_open', { worker: '2' })];
      expect(perWorker[0]! + perWorker[1]!).toBe(CONNECTIONS);
      expect(Math.min(...perWorker), `tunnels per worker: ${perWorker}`).toBeGreaterThan(0);
      const before = await status(gw.url);
      expect(before.openTotal).toBe(CONNECTIONS);
      expect(before.workers?.map((w) => [w.worker, w.openTotal])).toEqual([[1, perWorker[0]], [2, perWorker[1]]]);
      const pids = before.workers!.map((w) => w.pid!);
      expect(pids.every((pid) => processAlive(pid) && pid !== gw.proc.pid)).toBe(true);

      // Worker 1 dies hard: its connections go, worker 2's tunnels keep echoing every byte.
      process.kill(pids[0]!, 'SIGKILL');
      await eventually(() => loops.filter((l) => l.failure !== undefined).length === perWorker[0], 10_000, `${perWorker[0]} tunnels of worker 1 to end`);
      const survivors = loops.filter((l) => l.failure === undefined);
      expect(survivors).toHaveLength(perWorker[1]!);
      await Promise.all(survivors.map((l) => l.more(5)));
      expect(survivors.every((l) => l.failure === undefined)).toBe(true);

      // A new worker 1 takes its place; the supervisor and worker 2 never stopped.
      let after = await status(gw.url);
      for (let i = 0; i < 150 && !(after.workers?.length === 2 && after.workers[0]!.pid !== pids[0]); i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await status(gw.url);
      }
      expect(after.workers?.map((w) => w.worker)).toEqual([1, 2]);
      expect(after.workers![0]!.pid).not.toBe(pids[0]);
      expect(after.workers![1]!.pid).toBe(pids[1]);
      expect(processAlive(gw.proc.pid!)).toBe(true);
      // New connections reach the new worker too.
      const more = await tunnels(gw, CONNECTIONS);
      open.push(...more);
      expect(more.map((o) => o.tunnel.status)).toEqual(Array(CONNECTIONS).fill(200));
      const later = await scrapeUntil(gw.url, (t) => metric(t, 'h2ws_worker_tunnels_open', { worker: '1' }) > 0);
      expect(metric(later, 'h2ws_worker_tunnels_open', { worker: '1' })).toBeGreaterThan(0);
      expect(metric(later, 'h2ws_worker_restarts_total')).toBe(1);
      // The dead worker's counters stay in the totals: counters never go down.
      expect(metric(later, 'h2ws_tunnels_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(2 * CONNECTIONS);
      await Promise.all(survivors.map((l) => l.stop()));
    } finally {
      await Promise.all(open.map((o) => o.client.close()));
      await gw.stop();
    }
  });

  it('SIGTERM drains every worker: GOAWAY on each connection, open tunnels keep relaying, exit 0 once they end', async () => {
    const gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', echo.url, '--workers', '2', '--log-level', 'info'], { timeouts: { drainMs: 15_000 } });
    try {
      const open = await tunnels(gw, CONNECTIONS);
      const text = await scrapeUntil(gw.url, (t) => metric(t, 'h2ws_tunnels_open') === CONNECTIONS);
      expect(Math.min(metric(text, 'h2ws_worker_tunnels_open', { worker: '1' }), metric(text, 'h2ws_worker_tunnels_open', { worker: '2' }))).toBeGreaterThan(0);
      const goaways = open.map(({ client }) => {
        const seen: number[] = [];
        client.session.on('goaway', (code: number) => seen.push(code));
        return seen;
      });
      const started = Date.now();
      gw.proc.kill('SIGTERM');
      await eventually(() => goaways.every((g) => g.length > 0), 10_000, 'a GOAWAY on every connection');
      expect(goaways.flat().every((code) => code === H2.NGHTTP2_NO_ERROR)).toBe(true);
      // Every worker logged its drain, and no new connection is taken.
      await eventually(() => (gw.stderr().match(/"event":"draining"/g) ?? []).length === 2, 5000, 'two drain records');
      expect(await connectOutcome(gw.port)).toBe('ECONNREFUSED');
      // The open tunnels, on both workers, still relay.
      await Promise.all(open.map(async ({ tunnel }, i) => {
        const sink = new FrameSink(false);
        tunnel.stream.on('data', (d: Buffer) => sink.write(d));
        tunnel.stream.write(clientFrame(`after goaway ${i}`));
        await sink.until(() => sink.messages.includes(`after goaway ${i}`));
      }));
      for (const { tunnel } of open) tunnel.stream.end();
      expect(await gw.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(12_000);
      await Promise.all(open.map(({ client }) => client.close()));
    } finally {
      await gw.stop();
    }
  });

  it('limits.maxTunnels holds for the whole gateway: each worker admits its share, the rest are refused with REFUSED_STREAM', async () => {
    const gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', echo.url, '--workers', '2', '--log-level', 'warn'], { limits: { maxTunnels: 4 } });
    try {
      // Enough connections that each worker sees at least its share of two.
      const open = await tunnels(gw, 24);
      const statuses = open.map((o) => o.tunnel.status ?? `reset ${o.tunnel.rstCode}`);
      expect(statuses.filter((s) => s === 200)).toHaveLength(4);
      expect(statuses.filter((s) => s === `reset ${H2.NGHTTP2_REFUSED_STREAM}`)).toHaveLength(20);
      const text = await scrape(gw.url);
      expect([metric(text, 'h2ws_worker_tunnels_open', { worker: '1' }), metric(text, 'h2ws_worker_tunnels_open', { worker: '2' })]).toEqual([2, 2]);
      expect(metric(text, 'h2ws_tunnels_total', { outcome: 'refused' })).toBe(20);
      await Promise.all(open.map((o) => o.client.close()));
    } finally {
      await gw.stop();
    }
  });

  it('a config whose maxTunnels is below the worker count exits 2 naming the field', async () => {
    const started = startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', echo.url, '--workers', '3'], { limits: { maxTunnels: 2 } });
    await expect(started).rejects.toThrow(/exited with 2[\s\S]*limits\.maxTunnels: 2 is fewer than the 3 workers/);
  });
});
