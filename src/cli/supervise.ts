import type { CliArgs } from '../config/argv.ts';
import { startDemoBackend } from '../demo/backend.ts';
import { ErrorCode, H2wsError } from '../errors.ts';
import { addressInUse, workerMechanism } from '../runtime/workers.ts';
import { reloadFailedRecord, restartNeededRecord, restartOnlyChanges } from '../server/reload.ts';
import { selfSignedCertificate } from '../server/self-signed.ts';
import { Supervisor } from '../server/supervisor.ts';
import { processLogger } from '../server/telemetry.ts';
import { type LoadedConfig, loadConfig } from './config-source.ts';
import { listenFailure, readyLines } from './ready.ts';
import { handleSignals } from './signals.ts';

/**
 * `--workers N`: this process supervises N worker processes that serve the address. It starts
 * the one self-signed certificate and the one demo backend they share, prints the ready line
 * once every worker is ready, and turns SIGTERM/SIGINT into a drain of all of them and SIGHUP
 * into a reload of all of them.
 */
export async function runSupervisor(args: CliArgs, loaded: LoadedConfig): Promise<number> {
  const { options } = loaded.resolved;
  const logger = processLogger(options.log);
  const mechanism = await workerMechanism();
  if (mechanism === 'reuse-port') {
    // With SO_REUSEPORT a second h2ws on the same port would share it silently: check it is free.
    const addresses = [options, ...(options.admin.listen === undefined ? [] : [options.admin.listen])];
    for (const address of addresses) {
      const err = address.port === 0 ? undefined : await addressInUse(address.host, address.port);
      if (err !== undefined) {
        process.stderr.write(listenFailure(err, address));
        return 1;
      }
    }
  }
  const selfSigned = options.tls !== undefined && 'selfSigned' in options.tls ? await selfSignedCertificate() : undefined;
  const demo = loaded.resolved.embedded ? await startDemoBackend() : undefined;
  let supervisor: Supervisor;
  try {
    supervisor = await Supervisor.start({
      count: loaded.workers,
      mechanism,
      snapshot: loaded.snapshot,
      port: options.port,
      adminPort: options.admin.listen?.port,
      ...(selfSigned !== undefined && { selfSigned }),
      ...(demo !== undefined && { demoUrl: demo.url }),
      logger,
    });
  } catch (err) {
    process.stderr.write(`h2ws: ${(err as Error).message}; no worker is running\n`);
    await demo?.close();
    return 1;
  }

  let current = loaded;
  const reload = async () => {
    let next: LoadedConfig;
    try {
      next = loadConfig(args);
    } catch (err) {
      if (!(err instanceof H2wsError && err.code === ErrorCode.CONFIG)) throw err;
      logger.error('reload_failed', reloadFailedRecord(err));
      return;
    }
    const restartNeeded = restartOnlyChanges(current.resolved.options, next.resolved.options);
    if (next.workers !== current.workers) restartNeeded.push('workers');
    current = next;
    const result = await supervisor.reload(next.snapshot);
    if (result.failed.length > 0) {
      logger.error('reload_failed', { message: `${result.failed.join('; ')}; those workers keep the config they had` });
      return;
    }
    logger[restartNeeded.length > 0 ? 'warn' : 'info']('reloaded', { workers: result.reloaded, ...restartNeededRecord(restartNeeded) });
  };

  const stopped = new Promise<number>((resolve) => {
    handleSignals({
      logger,
      stop: () => void supervisor.drain().then(async (code) => {
        await demo?.close();
        resolve(code);
      }),
      exitNow: () => {
        supervisor.kill();
        resolve(1);
      },
      reload: () => void reload(),
    });
  });
  const how = mechanism === 'reuse-port' ? 'SO_REUSEPORT' : 'cluster';
  process.stdout.write(readyLines(supervisor.url, options, demo !== undefined, `${loaded.workers} workers, ${how}`));
  return stopped;
}
