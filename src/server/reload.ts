import type { GatewayOptions, TlsOptions } from '../config/options.ts';

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
