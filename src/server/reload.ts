import type { GatewayOptions, TlsOptions } from '../config/options.ts';
import { ErrorCode, H2wsError } from '../errors.ts';
import type { InProcessRoute } from '../websocket/endpoint.ts';
import type { ConfigLoader } from './binding.ts';
import { checkCertificatePair } from './tls-credentials.ts';

/** "none", "files" (PEM text) or "self-signed": switching between them needs a new listener. */
function tlsKind(tls: TlsOptions | undefined): string {
  if (tls === undefined) return 'none';
  return 'selfSigned' in tls ? 'self-signed' : 'files';
}

/**
 * The fields of `next` that differ from `running` and that a running listener cannot take: its
 * address, the admin endpoints, logging, and TLS switched on, off or between files and a
 * self-signed certificate. A reload keeps the running values and names these.
 */
export function restartOnlyChanges(running: GatewayOptions, next: GatewayOptions): string[] {
  const changed: string[] = [];
  if (running.host !== next.host || running.port !== next.port) changed.push('listen');
  if (JSON.stringify(running.admin) !== JSON.stringify(next.admin)) changed.push('admin');
  if (running.log.level !== next.log.level || running.log.format !== next.log.format) changed.push('log');
  if (tlsKind(running.tls) !== tlsKind(next.tls)) changed.push('tls');
  return changed;
}

/**
 * What a reload runs with: `next`, except for the restart-only fields, which keep their running
 * values. A self-signed certificate stays the one made at start-up.
 */
export function reloadedOptions(running: GatewayOptions, next: GatewayOptions): GatewayOptions {
  const keepTls = tlsKind(running.tls) !== tlsKind(next.tls) || tlsKind(next.tls) === 'self-signed';
  return Object.freeze({
    ...next,
    host: running.host,
    port: running.port,
    admin: running.admin,
    log: running.log,
    tls: keepTls ? running.tls : next.tls,
  });
}

/** The new certificate and key, or undefined when they are the running ones (or TLS is off). */
export function changedCertificate(running: GatewayOptions, next: GatewayOptions): { cert: string; key: string } | undefined {
  const a = running.tls;
  const b = next.tls;
  if (a === undefined || b === undefined || 'selfSigned' in a || 'selfSigned' in b) return undefined;
  return a.cert === b.cert && a.key === b.key ? undefined : b;
}

/** A reload checked through, not yet applied. */
export interface ReloadPlan {
  /** The options to run with from now on. */
  readonly next: GatewayOptions;
  /** The library's in-process routes, when the config gave new ones. */
  readonly inProcess: Readonly<Record<string, InProcessRoute>> | undefined;
  /** A new certificate and key for the listener, already checked to belong together. */
  readonly certificate: { readonly cert: string; readonly key: string } | undefined;
  readonly restartNeeded: readonly string[];
}

/**
 * Reads the config again through `load` and checks it against the running options. Throws
 * H2wsError (H2WS_ERR_CONFIG) naming the field for anything that would be refused, before
 * anything has changed.
 */
export async function planReload(running: GatewayOptions, load: ConfigLoader | undefined, config: unknown): Promise<ReloadPlan> {
  if (load === undefined) throw new H2wsError(ErrorCode.CONFIG, 'this gateway has no config to reload from; start it with serve() or the h2ws command');
  let target: Awaited<ReturnType<ConfigLoader>>;
  try {
    target = await load(config);
  } catch (err) {
    if (err instanceof H2wsError) throw err;
    throw new H2wsError(ErrorCode.CONFIG, `cannot load the config: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  const next = reloadedOptions(running, target.options);
  const certificate = changedCertificate(running, next);
  const problem = certificate === undefined ? undefined : checkCertificatePair(certificate.cert, certificate.key);
  if (problem !== undefined) throw new H2wsError(ErrorCode.CONFIG, `tls: ${problem}`, { field: 'tls' });
  return { next, inProcess: target.inProcess, certificate, restartNeeded: [...restartOnlyChanges(running, target.options), ...(target.restartNeeded ?? [])] };
}

/** The fields of a `reload_failed` log record. */
export function reloadFailedRecord(error: H2wsError): { field: string | undefined; message: string } {
  return { field: error.field, message: `${error.message}; the running config stays in force` };
}

/** The fields a `reloaded` record adds when some changes wait for a restart (warn level then). */
export function restartNeededRecord(restartNeeded: readonly string[]): { restart_needed?: string; message?: string } {
  if (restartNeeded.length === 0) return {};
  return { restart_needed: restartNeeded.join(','), message: `${restartNeeded.join(', ')} changed; that takes a restart, the rest applies to new handshakes now` };
}
