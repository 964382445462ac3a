/**
 * The gateway's Prometheus metrics. Metric names and label names are a contract: dashboards
 * and alerts are written against them, so they change only with a major version.
 *
 * Label conventions:
 * - `route` is the matched route's prefix (for example `/chat`). A handshake that matched no
 *   route is counted under {@link NO_ROUTE} (`none`), which cannot clash with a prefix
 *   because prefixes start with `/`.
 * - `transport` is `h2` (extended CONNECT, RFC 8441) or `h1` (Upgrade, RFC 6455).
 * - `code` is the RFC 9113 §7 error name (`CANCEL`, `CONNECT_ERROR`, ...), or `0x..` in
 *   lowercase hex for a code the RFC does not name.
 * - `side` is `sent` (h2ws sent the frame) or `received` (the peer did).
 *
 * @example
 * ```ts
 * import { PROMETHEUS_CONTENT_TYPE } from './registry.ts';
 *
 * const metrics = new GatewayMetrics({ routes: ['/chat'] });
 * metrics.handshake('/chat', 'h2', 'ok');
 * metrics.tunnelOpened('/chat', 'h2');
 * metrics.tunnelClosed('/chat', 'h2', { bytesToBackend: 10, bytesToClient: 20, durationMs: 1500 });
 * new Response(metrics.render(), { headers: { 'content-type': PROMETHEUS_CONTENT_TYPE } });
 * ```
 *
 * @module
 */
import { H2ErrorCode } from '../h2/error-codes.ts';
import type { Outcome } from '../tunnel/outcomes.ts';
import { ProcessMetrics, type ProcessSample } from './process-metrics.ts';
import { type Counter, type Gauge, type Histogram, Registry } from './registry.ts';

/** The `transport` label: `h2` (RFC 8441) or `h1` (RFC 6455 Upgrade). */
export type Transport = 'h2' | 'h1';
/** The `direction` label of the byte counter. */
export type Direction = 'to_backend' | 'to_client';
/** The `side` label: `sent` by h2ws, or `received` from the peer. */
export type Side = 'sent' | 'received';

/** The `route` label of a handshake that matched no route. */
export const NO_ROUTE = 'none';

export const TRANSPORTS = ['h2', 'h1'] as const satisfies readonly Transport[];
export const DIRECTIONS = ['to_backend', 'to_client'] as const satisfies readonly Direction[];

/** Every outcome, in the order they are seeded. */
export const OUTCOMES = [
  'ok', 'backend_unreachable', 'backend_timeout', 'backend_status', 'bad_accept', 'bad_subprotocol', 'refused', 'rejected', 'forbidden',
] as const satisfies readonly Outcome[];
// Fails to compile if an Outcome is added without being listed above.
const _allOutcomes: Exclude<Outcome, (typeof OUTCOMES)[number]> extends never ? true : never = true;
void _allOutcomes;

/**
 * Tunnel lifetimes in seconds: from a WebSocket closed right after opening up to an hour-long
 * session; anything longer lands in `+Inf`.
 */
export const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600] as const;

const H2_ERROR_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(H2ErrorCode).map(([name, code]) => [code, name]));

/** The RFC 9113 §7 name of an HTTP/2 error code, or `0x..` (lowercase hex) for unknown codes. */
export function h2ErrorName(code: number): string {
  return H2_ERROR_NAMES.get(code) ?? `0x${(code >>> 0).toString(16)}`;
}

/** What a closed tunnel carried, and for how long. */
export interface TunnelTotals {
  /** Bytes toward the backend. */
  readonly bytesToBackend: number;
  /** Bytes toward the client. */
  readonly bytesToClient: number;
  /** Milliseconds; whole milliseconds keep the duration sum exact. */
  readonly durationMs: number;
  /** h2ws ended the client's stream with RST_STREAM NO_ERROR after the closing handshake. */
  readonly resetAfterClose?: boolean;
}

/** What {@link GatewayMetrics} starts with. */
export interface GatewayMetricsOptions {
  /** Route prefixes to show at zero before their first tunnel, so rate() works from the start. */
  readonly routes?: readonly string[];
  /**
   * Reads the process at each {@link GatewayMetrics.render}; when given, the exposition ends
   * with the standard process metrics (CPU, memory, file descriptors, event-loop lag).
   */
  readonly readProcess?: () => ProcessSample;
}

/** The gateway's Prometheus metrics, exact counts of events; `render()` gives the exposition served at /metrics. */
export class GatewayMetrics {
  /** The registry every metric below lives in. */
  readonly registry: Registry = new Registry();

  /** `h2ws_tunnels_open`: tunnels open now, by route and transport. */
  readonly tunnelsOpen: Gauge<'route' | 'transport'> = this.registry.gauge({
    name: 'h2ws_tunnels_open',
    help: 'WebSocket tunnels open now.',
    labelNames: ['route', 'transport'],
  });

  /** `h2ws_tunnels_total`: handshakes by route, transport and outcome. */
  readonly tunnelsTotal: Counter<'route' | 'transport' | 'outcome'> = this.registry.counter({
    name: 'h2ws_tunnels_total',
    help: 'WebSocket handshakes handled, by outcome.',
    labelNames: ['route', 'transport', 'outcome'],
  });

  /** `h2ws_tunnel_bytes_total`: bytes carried by closed tunnels, by route and direction. */
  readonly tunnelBytes: Counter<'route' | 'direction'> = this.registry.counter({
    name: 'h2ws_tunnel_bytes_total',
    help: 'Bytes relayed through closed tunnels, by direction.',
    labelNames: ['route', 'direction'],
  });

  /** `h2ws_tunnel_duration_seconds`: how long tunnels stayed open, by route. */
  readonly tunnelDuration: Histogram<'route'> = this.registry.histogram({
    name: 'h2ws_tunnel_duration_seconds',
    help: 'How long tunnels stayed open.',
    labelNames: ['route'],
    buckets: DURATION_BUCKETS,
    divisor: 1000, // observed in milliseconds
  });

  /** `h2ws_tunnel_resets_after_close_total`: clean tunnels ended with RST_STREAM NO_ERROR after the close grace. */
  readonly resetsAfterClose: Counter<'route'> = this.registry.counter({
    name: 'h2ws_tunnel_resets_after_close_total',
    help: 'Tunnels closed cleanly whose HTTP/2 client sent no END_STREAM after the WebSocket closing handshake; h2ws ended the stream with RST_STREAM NO_ERROR after timeouts.closeGraceMs (RFC 9113 §8.1).',
    labelNames: ['route'],
  });

  /** `h2ws_resets_total`: RST_STREAM frames by error code and side. */
  readonly resets: Counter<'code' | 'side'> = this.registry.counter({
    name: 'h2ws_resets_total',
    help: 'HTTP/2 RST_STREAM frames, by error code (RFC 9113 §7) and side.',
    labelNames: ['code', 'side'],
  });

  /** `h2ws_goaways_total`: GOAWAY frames by error code and side. */
  readonly goaways: Counter<'code' | 'side'> = this.registry.counter({
    name: 'h2ws_goaways_total',
    help: 'HTTP/2 GOAWAY frames, by error code (RFC 9113 §7) and side.',
    labelNames: ['code', 'side'],
  });

  /** `h2ws_sessions_open`: client connections open now, by transport. */
  readonly sessionsOpen: Gauge<'transport'> = this.registry.gauge({
    name: 'h2ws_sessions_open',
    help: 'Client connections open now.',
    labelNames: ['transport'],
  });

  /** `h2ws_rapid_reset_clients_total`: client addresses cut off for rapid reset (CVE-2023-44487). */
  readonly rapidResetClients: Counter = this.registry.counter({
    name: 'h2ws_rapid_reset_clients_total',
    help: 'Times a client address was cut off for resetting too many streams before they were answered, across its connections (CVE-2023-44487).',
  });

  readonly #process: { readonly metrics: ProcessMetrics; readonly read: () => ProcessSample } | undefined;

  /** Seeds the sessions and the given routes at zero, so dashboards see them before any traffic. */
  constructor(options: GatewayMetricsOptions = {}) {
    const read = options.readProcess;
    this.#process = read === undefined ? undefined : { metrics: new ProcessMetrics(this.registry), read };
    for (const transport of TRANSPORTS) this.sessionsOpen.seed({ transport });
    this.rapidResetClients.seed({});
    for (const route of options.routes ?? []) this.seedRoute(route);
  }

  /** Show a route's gauges and counters at zero (its histogram appears with the first tunnel). */
  seedRoute(route: string): void {
    for (const transport of TRANSPORTS) {
      this.tunnelsOpen.seed({ route, transport });
      for (const outcome of OUTCOMES) this.tunnelsTotal.seed({ route, transport, outcome });
    }
    for (const direction of DIRECTIONS) this.tunnelBytes.seed({ route, direction });
    this.resetsAfterClose.seed({ route });
  }

  /** A handshake finished; `route` is the prefix, or undefined for {@link NO_ROUTE}. */
  handshake(route: string | undefined, transport: Transport, outcome: Outcome): void {
    this.tunnelsTotal.inc({ route: route ?? NO_ROUTE, transport, outcome });
  }

  /** A tunnel opened on this route. */
  tunnelOpened(route: string, transport: Transport): void {
    this.tunnelsOpen.inc({ route, transport });
  }

  /** A tunnel that {@link tunnelOpened} counted has closed. */
  tunnelClosed(route: string, transport: Transport, totals: TunnelTotals): void {
    this.tunnelsOpen.dec({ route, transport });
    this.tunnelBytes.inc({ route, direction: 'to_backend' }, totals.bytesToBackend);
    this.tunnelBytes.inc({ route, direction: 'to_client' }, totals.bytesToClient);
    this.tunnelDuration.observe({ route }, totals.durationMs);
    if (totals.resetAfterClose === true) this.resetsAfterClose.inc({ route });
  }

  /** An RST_STREAM with this error code (RFC 9113 §6.4). */
  reset(code: number, side: Side): void {
    this.resets.inc({ code: h2ErrorName(code), side });
  }

  /** A GOAWAY with this error code (RFC 9113 §6.8). */
  goaway(code: number, side: Side): void {
    this.goaways.inc({ code: h2ErrorName(code), side });
  }

  /** A client connection opened. */
  sessionOpened(transport: Transport): void {
    this.sessionsOpen.inc({ transport });
  }

  /** A client connection closed. */
  sessionClosed(transport: Transport): void {
    this.sessionsOpen.dec({ transport });
  }

  /** A client address emptied its rapid-reset budget and was cut off for a cool-down. */
  rapidResetClient(): void {
    this.rapidResetClients.inc({});
  }

  /** The exposition, to serve with `PROMETHEUS_CONTENT_TYPE`. */
  render(): string {
    this.#process?.metrics.update(this.#process.read());
    return this.registry.render();
  }
}
