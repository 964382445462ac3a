import type { CliArgs } from '../config/argv.ts';
import { type ConfigSnapshot, resolveSnapshot } from '../config/snapshot.ts';
import { workerOptions } from '../config/workers.ts';
import { demoApp } from '../demo/app.ts';
import type { AdminView } from '../server/admin.ts';
import { Gateway } from '../server/gateway.ts';
import { WorkerChannel } from '../server/worker-channel.ts';
import type { WorkerInit } from '../server/worker-protocol.ts';
import { withDemo } from './config-source.ts';
import { listenFailure } from './ready.ts';

/**
 * A worker process: one gateway on the shared address, run as the supervisor says (its
 * config snapshot, port, certificate, share of the limits), reporting to it over IPC.
 */
export async function runWorker(id: number, args: CliArgs): Promise<number> {
  const channel = new WorkerChannel();
  // Ctrl-C and a closing terminal signal the whole process group; the supervisor acts on
  // them for every worker, so a worker leaves them alone.
  process.on('SIGINT', noop);
  process.on('SIGHUP', noop);
  let init: WorkerInit;
  try {
    init = await channel.init;
  } catch (err) {
    if (channel.drainRequested) return 0;
    process.stderr.write(`h2ws: worker ${id}: ${(err as Error).message}\n`);
    return 1;
  }
  let snapshot = init.snapshot;
  const first = effectiveOptions(init, id, snapshot, args);
  let local: AdminView | undefined;
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(first.options, first.embedded ? { fetch: demoApp().fetch } : {}, {
      reusePort: init.reusePort,
      load: () => ({ options: effectiveOptions(init, id, snapshot, args).options }),
      // /metrics and /status on any worker show the whole gateway; its own numbers if the
      // supervisor does not answer.
      admin: (view) => {
        local = view;
        return {
          ready: () => view.ready(),
          metrics: async () => (await channel.ask('metrics'))?.metrics ?? view.metrics(),
          status: async () => (await channel.ask('status'))?.status ?? view.status(),
        };
      },
    });
  } catch (err) {
    process.stderr.write(listenFailure(err, first.options));
    return 1;
  }
  const adminPort = first.options.admin.listen === undefined ? undefined : Number(new URL(gateway.adminUrl).port);
  channel.ready({ port: gateway.address.port, ...(adminPort !== undefined && { adminPort }), url: gateway.url, adminUrl: gateway.adminUrl });

  return new Promise<number>((resolve) => {
    let draining = false;
    const drain = () => {
      if (draining) return;
      draining = true;
      void gateway.close().then(() => resolve(0));
    };
    channel.serve({
      reload: async (next: ConfigSnapshot) => {
        const before = snapshot;
        snapshot = next;
        const result = await gateway.reload();
        if (!result.ok) snapshot = before;
        return result;
      },
      collect: async (what) => (what === 'metrics' ? { metrics: await local!.metrics() } : { status: await local!.status() }),
      drain,
    });
    // A SIGTERM sent to this worker alone (or with its process group, as systemd's default
    // KillMode does) drains it like the supervisor's request; a second one exits at once.
    let signalled = false;
    process.on('SIGTERM', () => {
      if (signalled) return resolve(1);
      signalled = true;
      drain();
    });
  });
}

/** The options this worker runs: the snapshot's, on the supervisor's port and certificate, with its share of the limits. */
function effectiveOptions(init: WorkerInit, id: number, snapshot: ConfigSnapshot, args: CliArgs): { options: ReturnType<typeof workerOptions>; embedded: boolean } {
  const { options: resolved, embedded } = resolveSnapshot(snapshot, args);
  let options = { ...resolved, ...(init.port !== undefined && { port: init.port }) };
  if (options.admin.listen !== undefined && init.adminPort !== undefined) options = { ...options, admin: { ...options.admin, listen: { ...options.admin.listen, port: init.adminPort } } };
  if (options.tls !== undefined && 'selfSigned' in options.tls && init.selfSigned !== undefined) options = { ...options, tls: init.selfSigned };
  const withRoutes = embedded && init.demoUrl !== undefined ? withDemo(options, init.demoUrl) : Object.freeze(options);
  return { options: workerOptions(withRoutes, init.workers, id - 1), embedded };
}

function noop(): void {}
