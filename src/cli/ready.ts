import type { GatewayOptions } from '../config/options.ts';

/**
 * What the command prints on stdout once it serves: the line naming the URL (tests and
 * supervisors wait for "listening on"), then the demo's address or the routes.
 */
export function readyLines(url: string, options: GatewayOptions, demo: boolean, workers?: string): string {
  const transports = options.tls === undefined ? 'h2c prior knowledge + HTTP/1.1' : 'TLS: h2, http/1.1';
  let out = `h2ws listening on ${url} (${transports}${workers === undefined ? '' : `; ${workers}`})\n`;
  if (demo) {
    const local = url.replace('127.0.0.1', 'localhost');
    out += `h2ws: embedded demo: open ${local} in a browser${options.tls !== undefined && 'selfSigned' in options.tls ? ' (self-signed certificate: accept the warning)' : ''}\n`;
  } else {
    for (const route of options.routes) out += `h2ws: route ${route.prefix} → ${route.backend.url}\n`;
    for (const route of options.httpRoutes ?? []) {
      const to = [route.static === undefined ? [] : [`files in ${route.static}`], route.upstream === undefined ? [] : [route.upstream.url]].flat().join(', then ');
      out += `h2ws: http ${route.prefix} → ${to}\n`;
    }
  }
  return out;
}

/** The one line for a listener that could not bind, with what to do about it. */
export function listenFailure(err: unknown, options: Pick<GatewayOptions, 'host' | 'port'>): string {
  const e = err as NodeJS.ErrnoException;
  const hint = e.code === 'EADDRINUSE' ? 'the address is in use; pick another with --listen' : e.code === 'EACCES' ? 'permission denied; use a port above 1023' : e.message;
  return `h2ws: cannot listen on ${options.host}:${options.port}: ${hint}\n`;
}
