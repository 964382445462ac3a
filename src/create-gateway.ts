import { parseArgs } from './config/argv.ts';
import { parseConfigFile, resolveOptions } from './config/resolve.ts';
import type { ConfigFile, RouteConfig } from './config/schema.ts';
import { ErrorCode, H2wsError } from './errors.ts';
import type { GatewayOptions } from './config/options.ts';
import { Gateway, type GatewayHooks } from './server/gateway.ts';
import type { ConfigLoader } from './server/binding.ts';
import type { InProcessRoute } from './websocket/endpoint.ts';

/**
 * What `serve` (and `createGateway`) take: the config file's fields, validated with the same
 * schema, except that `tls` holds PEM text rather than file paths and a route may be handled
 * in-process: its value is then a Web Streams handler (alone, or `{ handler, ...options }`)
 * or a ws-compatible `WebSocketServer` instead of a backend URL.
 */
export type GatewayConfig = Omit<ConfigFile, 'tls' | 'routes' | 'workers'> & {
  tls?: { cert: string; key: string };
  routes?: Record<string, string | RouteConfig | InProcessRoute>;
} & Omit<GatewayHooks, 'inProcess'>;

/**
 * Starts an h2ws server from code: one listener for HTTP/2 (TLS ALPN or h2c) and HTTP/1.1,
 * with the same limits and graceful `close()` as the command line. Each WebSocket route is
 * bridged to a backend or handled in-process, mixed freely; plain requests, and handshakes no
 * route takes, go to `fetch` (a Hono app's `fetch`, or any `(Request) => Response`).
 *
 * `config` may also be a function returning the config: `gateway.reload()` calls it again
 * and applies the result to new handshakes (read your files in it), and `gateway.reload(next)`
 * applies `next`. A reload takes the config fields and routes; the hooks (`fetch`, `authorize`,
 * `onTunnel`, `onTunnelClosed`, `log`) stay those the gateway started with.
 *
 * Throws H2wsError (code H2WS_ERR_CONFIG, `field` set) for a bad field, or when there is
 * nothing to serve (no route and no fetch handler).
 *
 * @example Reload on SIGHUP from files
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { serve } from './mod.ts';
 *
 * const gateway = await serve(() => ({
 *   ...JSON.parse(readFileSync('h2ws.json', 'utf8')),
 *   tls: { cert: readFileSync('cert.pem', 'utf8'), key: readFileSync('key.pem', 'utf8') },
 * }));
 * process.on('SIGHUP', () => void gateway.reload());
 * ```
 */
export async function serve(config: GatewayConfig | (() => GatewayConfig | Promise<GatewayConfig>)): Promise<Gateway> {
  const source = typeof config === 'function' ? config : undefined;
  let current = source === undefined ? (config as GatewayConfig) : await source();
  const first = resolveConfig(current);
  const load: ConfigLoader = async (next) => {
    const chosen = next !== undefined ? (next as GatewayConfig) : source !== undefined ? await source() : current;
    // The hooks stay the first ones: a fetch handler given then still counts as something to serve.
    const { options, inProcess } = resolveConfig({ fetch: first.hooks.fetch, ...chosen });
    current = chosen;
    return { options, inProcess };
  };
  return Gateway.start(first.options, first.hooks, { load });
}

/** A GatewayConfig checked and turned into the gateway's options, in-process routes and hooks. */
function resolveConfig(config: GatewayConfig): { options: GatewayOptions; inProcess: Record<string, InProcessRoute>; hooks: GatewayHooks } {
  const { fetch, log, onTunnel, onTunnelClosed, authorize, tls, routes, ...rest } = config;
  if ((rest as { workers?: unknown }).workers !== undefined) {
    throw new H2wsError(ErrorCode.CONFIG, 'workers: the library serves from the process it runs in; run the h2ws command with --workers for several processes', { field: 'workers' });
  }
  const backends: Record<string, string | RouteConfig> = {};
  const inProcess: Record<string, InProcessRoute> = {};
  for (const [prefix, value] of Object.entries(routes ?? {})) {
    if (typeof value === 'string' || isRouteConfig(value)) {
      backends[prefix] = value as string | RouteConfig;
      continue;
    }
    const field = `routes.${prefix}`;
    if (!prefix.startsWith('/')) throw new H2wsError(ErrorCode.CONFIG, `${field}: route prefix "${prefix}" must start with "/"`, { field });
    if (!isInProcessRoute(value)) {
      throw new H2wsError(ErrorCode.CONFIG, `${field}: expected a backend URL, a handler function, { handler }, or a WebSocketServer`, { field });
    }
    inProcess[prefix] = value;
  }
  if (rest.backend !== undefined && inProcess['/'] !== undefined) {
    throw new H2wsError(ErrorCode.CONFIG, 'backend and routes["/"] both claim "/"; keep one', { field: 'routes./' });
  }
  const file = parseConfigFile({ ...rest, ...(Object.keys(backends).length > 0 && { routes: backends }) });
  const { options, embedded } = resolveOptions({ ...file, ...(tls === undefined ? {} : { tls }) }, parseArgs([]), (text) => text);
  if (embedded && Object.keys(inProcess).length === 0 && fetch === undefined) {
    throw new H2wsError(ErrorCode.CONFIG, 'nothing to serve: give a backend, a route, or a fetch handler', { field: 'routes' });
  }
  const hooks: GatewayHooks = {
    ...(fetch && { fetch }),
    ...(log && { log }),
    ...(onTunnel && { onTunnel }),
    ...(onTunnelClosed && { onTunnelClosed }),
    ...(authorize && { authorize }),
    inProcess,
  };
  return { options, inProcess, hooks };
}

/** The same as `serve`; the name reads better for a pure bridge in front of backends. */
export const createGateway: (config: GatewayConfig | (() => GatewayConfig | Promise<GatewayConfig>)) => Promise<Gateway> = serve;

function isInProcessRoute(value: unknown): value is InProcessRoute {
  if (typeof value === 'function') return true;
  if (typeof value !== 'object' || value === null) return false;
  return typeof (value as { handler?: unknown }).handler === 'function' || typeof (value as { handleUpgrade?: unknown }).handleUpgrade === 'function';
}

/** A route object of the config file: a WebSocket backend, an HTTP upstream or static files. */
function isRouteConfig(value: unknown): value is RouteConfig {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.backend === 'string' || typeof v.http === 'string' || typeof v.static === 'string';
}
