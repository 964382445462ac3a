import type { GatewayOptions } from '../config/options.ts';
import { ErrorCode, H2wsError } from '../errors.ts';
import { flowControlWindows } from '../h2/windows.ts';
import type { GatewayConfig } from '../create-gateway.ts';
import type { InProcessRoute } from '../websocket/endpoint.ts';
import type { BackendPools } from './backend-pools.ts';
import type { ConfigLoader, ReloadResult } from './binding.ts';
import type { ConfigInForce } from './config-in-force.ts';
import type { GatewayListeners } from './gateway-listeners.ts';
import type { HttpSide } from './http-side.ts';
import type { PlainRequests } from './plain-requests.ts';
import { planReload, type ReloadPlan, reloadFailedRecord, restartNeededRecord } from './reload.ts';
import { routePrefixes } from './routes.ts';
import type { Telemetry } from './telemetry.ts';

/** What a reload reads and replaces. */
export interface ReloadParts {
  readonly config: ConfigInForce;
  /** Where the config is read again from (binding.ts); undefined: the gateway cannot reload. */
  readonly load: ConfigLoader | undefined;
  readonly listeners: GatewayListeners;
  readonly plain: PlainRequests;
  readonly pools: BackendPools;
  readonly telemetry: Telemetry;
  /** True once the gateway drains: a reload then changes nothing. */
  draining(): boolean;
}

/**
 * Reads the config again and applies it to what comes next (see Gateway.reload). Everything
 * that can fail is checked before anything changes; a failure is logged in one line and
 * reported in the result. Never rejects.
 */
export async function reloadGateway(parts: ReloadParts, config: GatewayConfig | undefined): Promise<ReloadResult> {
  const { logger } = parts.telemetry;
  let plan: ReloadPlan;
  let http: HttpSide | undefined;
  try {
    if (parts.draining()) throw new H2wsError(ErrorCode.CONFIG, 'the gateway is draining; reload ignored');
    plan = await planReload(parts.config.options, parts.load, config);
    // Opening the new static directories can fail too, so it comes before anything changes.
    http = await parts.plain.reloaded(plan.next);
    // The one step that can still fail, so it goes first: nothing has changed yet if it does.
    try {
      parts.listeners.update({ ...(plan.certificate !== undefined && { tls: plan.certificate }), handshakeMs: plan.next.timeouts.handshakeMs });
    } catch (err) {
      throw new H2wsError(ErrorCode.CONFIG, `tls: the TLS stack refused the certificate and key (${(err as Error).message})`, { field: 'tls' });
    }
  } catch (err) {
    if (!(err instanceof H2wsError)) throw err;
    logger.error('reload_failed', reloadFailedRecord(err));
    return { ok: false, error: err };
  }
  apply(parts, plan.next, plan.inProcess ?? parts.config.inProcess);
  parts.plain.use(http);
  const { restartNeeded } = plan;
  logger[restartNeeded.length > 0 ? 'warn' : 'info']('reloaded', {
    routes: parts.config.routes.routes.length,
    certificate: plan.certificate !== undefined ? 'replaced' : undefined,
    ...restartNeededRecord(restartNeeded),
  });
  return { ok: true, restartNeeded };
}

/** Swaps in reloaded options; only what is created from now on sees them. */
function apply(parts: ReloadParts, next: GatewayOptions, inProcess: Readonly<Record<string, InProcessRoute>>): void {
  const before = parts.config.options;
  parts.config.replace(next, inProcess);
  for (const prefix of routePrefixes(next, inProcess)) parts.telemetry.metrics.seedRoute(prefix);
  const windows = flowControlWindows(next.limits.maxBufferedBytesPerTunnel);
  parts.listeners.reconfigure(next, before, windows);
  if (next.timeouts.backendConnectMs !== before.timeouts.backendConnectMs || next.limits.maxBufferedBytesPerTunnel !== before.limits.maxBufferedBytesPerTunnel) {
    parts.pools.replace(next.timeouts.backendConnectMs, windows);
  }
}
