import { ErrorCode, H2wsError } from '../errors.ts';
import type { CliArgs } from './argv.ts';
import type { GatewayOptions } from './options.ts';
import { type ConfigFile, MAX_WORKERS } from './schema.ts';

/** What `--workers` or the config's `workers` asks for: a count, or one per CPU. */
export type WorkersSetting = number | 'auto';

export const DEFAULT_WORKERS: WorkersSetting = 1;

function fail(field: string, message: string): never {
  throw new H2wsError(ErrorCode.CONFIG, message, { field });
}

/** `--workers` wins over the config file's `workers`; the default is one process. */
export function resolveWorkers(file: ConfigFile, args: CliArgs): WorkersSetting {
  if (args.workers === undefined) return file.workers ?? DEFAULT_WORKERS;
  const value = args.workers;
  if (value === 'auto') return 'auto';
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_WORKERS)) fail('--workers', `--workers: "${value}" is not a count from 1 to ${MAX_WORKERS}, or auto`);
  return n;
}

/** The number of worker processes: "auto" is one per CPU the runtime reports. */
export function workerCount(setting: WorkersSetting, cpus: number): number {
  return setting === 'auto' ? Math.max(1, Math.min(MAX_WORKERS, Math.floor(cpus))) : setting;
}

/**
 * Limits that count across the whole gateway are split between the workers, so that together
 * they never admit more than configured (docs/deploy.md, "Limits with workers"). Each worker
 * needs at least one tunnel of `limits.maxTunnels`.
 */
export function checkWorkerLimits(options: GatewayOptions, count: number, field = 'limits.maxTunnels'): void {
  if (options.limits.maxTunnels < count) {
    fail(field, `${field}: ${options.limits.maxTunnels} is fewer than the ${count} workers; each worker needs at least one tunnel (raise it, or run fewer workers)`);
  }
}

/** A worker's share of a gateway-wide total: an equal part, the remainder going to the first workers. */
export function shareOf(total: number, count: number, index: number): number {
  return Math.floor(total / count) + (index < total % count ? 1 : 0);
}

/** The options worker `index` (0-based) of `count` runs with: its share of `limits.maxTunnels`. */
export function workerOptions(options: GatewayOptions, count: number, index: number): GatewayOptions {
  if (count === 1) return options;
  const limits = Object.freeze({ ...options.limits, maxTunnels: shareOf(options.limits.maxTunnels, count, index) });
  return Object.freeze({ ...options, limits });
}
