import { parseArgs } from './config/argv.ts';
import { parseConfigFile, resolveOptions } from './config/resolve.ts';
import type { ConfigFile } from './config/schema.ts';
import { ErrorCode, H2wsError } from './errors.ts';
import { Gateway, type GatewayHooks } from './server/gateway.ts';

/**
 * What `createGateway` takes: the config file's fields (validated with the same schema),
 * except that `tls` holds PEM text rather than file paths.
 */
export type GatewayConfig = Omit<ConfigFile, 'tls'> & { tls?: { cert: string; key: string } } & GatewayHooks;

/**
 * Starts a gateway from code. Throws H2wsError (code H2WS_ERR_CONFIG, `field` set) for a bad
 * field, and needs at least one route (`backend` or `routes`).
 */
export async function createGateway(config: GatewayConfig): Promise<Gateway> {
  const { fetch, log, onTunnel, onTunnelClosed, tls, ...rest } = config;
  const file = parseConfigFile(rest);
  const { options, embedded } = resolveOptions({ ...file, ...(tls === undefined ? {} : { tls }) }, parseArgs([]), (text) => text);
  if (embedded) {
    throw new H2wsError(ErrorCode.CONFIG, 'createGateway needs a backend or at least one route', { field: 'routes' });
  }
  const hooks: GatewayHooks = { ...(fetch && { fetch }), ...(log && { log }), ...(onTunnel && { onTunnel }), ...(onTunnelClosed && { onTunnelClosed }) };
  return Gateway.start(options, hooks);
}
