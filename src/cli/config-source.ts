import { readFileSync } from 'node:fs';
import type { CliArgs } from '../config/argv.ts';
import type { GatewayOptions } from '../config/options.ts';
import { type ConfigSnapshot, type ResolvedConfig, takeSnapshot } from '../config/snapshot.ts';
import { checkWorkerLimits, workerCount } from '../config/workers.ts';
import { ErrorCode, H2wsError } from '../errors.ts';
import { parseBackendUrl } from '../routing/route-table.ts';
import { cpuCount } from '../runtime/workers.ts';
import { checkCertificatePair } from '../server/tls-credentials.ts';
import { StaticFiles } from '../server/static-files.ts';

/** Reads a file the command line or config names; the error names the field. */
export function readText(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new H2wsError(ErrorCode.CONFIG, `${field}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { field });
  }
}

/** A config read from disk, checked through: fields, TLS pair, worker count against the limits. */
export interface LoadedConfig {
  readonly snapshot: ConfigSnapshot;
  readonly resolved: ResolvedConfig;
  /** `workers`, with "auto" counted. */
  readonly workers: number;
}

/**
 * Reads the config file and the TLS files the flags and the file name, and checks them all.
 * Throws H2wsError (H2WS_ERR_CONFIG) naming the field: a startup exits 2 with it, a reload
 * logs it and keeps the running config.
 */
export function loadConfig(args: CliArgs): LoadedConfig {
  const { snapshot, resolved } = takeSnapshot(args, readText);
  checkCertificate(resolved.options, args);
  const workers = workerCount(resolved.workers, cpuCount());
  checkWorkerLimits(resolved.options, workers);
  return { snapshot, resolved, workers };
}

/** A certificate and key that do not go together are a config error, caught before listening. */
export function checkCertificate(options: GatewayOptions, args: CliArgs): void {
  const tls = options.tls;
  if (tls === undefined || 'selfSigned' in tls) return;
  const problem = checkCertificatePair(tls.cert, tls.key);
  if (problem === undefined) return;
  const field = args.tlsCert !== undefined ? '--tls-cert' : 'tls';
  throw new H2wsError(ErrorCode.CONFIG, `${field}: ${problem}`, { field });
}

/** The embedded demo: its backend takes the WebSocket paths under /ws. */
export function withDemo(options: GatewayOptions, demoUrl: string): GatewayOptions {
  return Object.freeze({ ...options, routes: Object.freeze([{ prefix: '/ws', backend: parseBackendUrl(demoUrl) }]) });
}

/**
 * `h2ws --check-config FILE`: reads FILE (with any other flags given) as a start would, starts
 * nothing, and exits 0 when it is good, 2 with one line naming the field when it is not.
 */
export async function checkConfig(args: CliArgs): Promise<number> {
  const path = args.checkConfig!;
  try {
    const { resolved, workers } = loadConfig({ ...args, config: path });
    const { options } = resolved;
    const httpRoutes = options.httpRoutes ?? [];
    // The static directories are opened as the gateway opens them at start-up, so a config
    // that passes here does not fail there.
    for (const route of httpRoutes) {
      if (route.static !== undefined) await StaticFiles.open(route.static, route.prefix === '/' ? 'static' : `routes.${route.prefix}.static`);
    }
    const tls = options.tls === undefined ? 'cleartext' : 'selfSigned' in options.tls ? 'TLS, self-signed' : 'TLS';
    const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
    const routes = resolved.embedded ? 'no backend: the embedded demo' : `${plural(options.routes.length, 'route')}, ${plural(httpRoutes.length, 'HTTP route')}`;
    process.stdout.write(`h2ws: ${path} is valid (${routes}; ${tls}; ${workers} worker${workers === 1 ? '' : 's'})\n`);
    return 0;
  } catch (err) {
    if (err instanceof H2wsError && err.code === ErrorCode.CONFIG) {
      process.stderr.write(`h2ws: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
