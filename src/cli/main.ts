import { type CliArgs, parseArgs } from '../config/argv.ts';
import type { GatewayOptions } from '../config/options.ts';
import { demoApp } from '../demo/app.ts';
import { startDemoBackend } from '../demo/backend.ts';
import { ErrorCode, H2wsError } from '../errors.ts';
import { runtimeVersion } from '../runtime/detect.ts';
import { workerId } from '../runtime/workers.ts';
import { Gateway } from '../server/gateway.ts';
import { VERSION } from '../version.ts';
import { runClient } from './client.ts';
import { checkConfig, type LoadedConfig, loadConfig, withDemo } from './config-source.ts';
import { HELP } from './help.ts';
import { listenFailure, readyLines } from './ready.ts';
import { handleSignals } from './signals.ts';
import { runSupervisor } from './supervise.ts';
import { runWorker } from './worker.ts';

const EXIT_USAGE = 2;

/**
 * The h2ws command. Resolves with the exit code: 0 after a graceful shutdown or --help,
 * 2 for a bad flag or config, 1 when the gateway cannot start.
 */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'client') return runClient(argv.slice(1));
  let args: CliArgs;
  let loaded: LoadedConfig;
  try {
    args = parseArgs(argv);
    if (args.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (args.version) {
      process.stdout.write(`h2ws ${VERSION} (${runtimeVersion()})\n`);
      return 0;
    }
    if (args.checkConfig !== undefined) return checkConfig(args);
    // A worker's config comes from its supervisor, read once for all of them.
    const worker = workerId();
    if (worker !== undefined) return runWorker(worker, args);
    loaded = loadConfig(args);
  } catch (err) {
    if (err instanceof H2wsError && err.code === ErrorCode.CONFIG) {
      process.stderr.write(`h2ws: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (loaded.workers > 1) return runSupervisor(args, loaded);
  return runSingle(args, loaded);
}

/** One process: the gateway itself. SIGHUP re-reads the config and TLS files. */
async function runSingle(args: CliArgs, loaded: LoadedConfig): Promise<number> {
  let demo: Awaited<ReturnType<typeof startDemoBackend>> | undefined;
  if (loaded.resolved.embedded) demo = await startDemoBackend();
  const effective = (options: GatewayOptions) => (demo === undefined ? options : withDemo(options, demo.url));
  const options = effective(loaded.resolved.options);
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(options, demo === undefined ? {} : { fetch: demoApp().fetch }, {
      load: () => {
        const next = loadConfig(args);
        return { options: effective(next.resolved.options), ...(next.workers !== 1 && { restartNeeded: ['workers'] }) };
      },
    });
  } catch (err) {
    await demo?.close();
    if (err instanceof H2wsError && err.code === ErrorCode.CONFIG) {
      process.stderr.write(`h2ws: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(listenFailure(err, options));
    return 1;
  }

  // Handlers go in before the ready line, so a supervisor that signals as soon as it reads
  // the line always gets a graceful drain.
  const stopped = new Promise<number>((resolve) => {
    handleSignals({
      logger: gateway.logger,
      stop: () => void gateway.close().then(async () => {
        await demo?.close();
        resolve(0);
      }),
      exitNow: () => resolve(1),
      reload: () => void gateway.reload(),
    });
  });
  process.stdout.write(readyLines(gateway.url, options, demo !== undefined));
  return stopped;
}
