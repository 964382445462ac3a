import type { AccessRule } from '../handshake/access.ts';
import type { LogLevel } from '../log/levels.ts';
import type { HttpRoute } from '../routing/http-routes.ts';
import type { Route } from '../routing/route-table.ts';

/** Limits, each with a safe default (docs/operations.md, "Limits and security"). */
export interface Limits {
  /** Open tunnels across the process; past it, RST_STREAM REFUSED_STREAM on h2 and 503 on HTTP/1.1. */
  readonly maxTunnels: number;
  /** Advertised as SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2). */
  readonly maxStreamsPerConnection: number;
  /** Advertised as SETTINGS_MAX_HEADER_LIST_SIZE and enforced on HTTP/1.1 heads. */
  readonly maxHeaderListSize: number;
  /** What h2ws holds in memory for a slow reader, per tunnel (both directions together). */
  readonly maxBufferedBytesPerTunnel: number;
}

/** Timeouts, each with a safe default; all in milliseconds. */
export interface Timeouts {
  /** TLS handshake and first bytes from a new client connection. */
  readonly handshakeMs: number;
  /** TCP (and TLS) connect to the backend; past it, 502. */
  readonly backendConnectMs: number;
  /** The backend's answer to the upgrade; past it, 504. */
  readonly backendUpgradeMs: number;
  /** A tunnel with no bytes either way is closed; 0 turns it off (the default). */
  readonly idleMs: number;
  /** The graceful-shutdown deadline for open tunnels. */
  readonly drainMs: number;
  /**
   * After a WebSocket's closing handshake (a Close frame each way, RFC 6455 §7.1.1) and
   * h2ws's END_STREAM, how long h2ws waits for the HTTP/2 client's END_STREAM before it
   * ends the stream with RST_STREAM NO_ERROR (RFC 9113 §8.1). Firefox never sends one.
   */
  readonly closeGraceMs: number;
  /**
   * HTTP/2 PING interval; a session that leaves a PING unanswered for a whole interval is
   * closed (a vanished peer, or a session nghttp2 already ended with GOAWAY). 0 turns it off.
   */
  readonly pingIntervalMs: number;
  /**
   * An HTTP upstream that neither reads the request nor starts its response for this long
   * gets 504 (docs/http-proxy.md); the connect itself is `backendConnectMs` (past it, 502).
   */
  readonly upstreamResponseMs: number;
}

/** Where the operational endpoints live (/metrics, /healthz, /readyz, /status) and which are on. */
export interface AdminOptions {
  /** A separate listener for them; undefined serves them on the main listener. */
  readonly listen: { readonly host: string; readonly port: number } | undefined;
  /** Prometheus metrics at GET /metrics. Default on. */
  readonly metrics: boolean;
  /** The live status page at /status (and its WebSocket at /status/ws). Default on. */
  readonly status: boolean;
}

/** How the gateway logs. */
export interface LogOptions {
  /** Records below this level are dropped. */
  readonly level: LogLevel;
  /** undefined: readable when stderr is a terminal, JSON lines otherwise. */
  readonly format: 'json' | 'pretty' | undefined;
}

/** TLS for the listener: PEM text, or a certificate made at start-up (for trying out). */
export type TlsOptions = { readonly cert: string; readonly key: string } | { readonly selfSigned: true };

/** Everything a gateway needs, validated and frozen. */
export interface GatewayOptions {
  /** The address the listener binds (`listen` without its port). */
  readonly host: string;
  /** The port the listener binds; 0 picks a free one (see `Gateway.address`). */
  readonly port: number;
  /** PEM certificate and key, a self-signed certificate, or undefined for cleartext. */
  readonly tls: TlsOptions | undefined;
  /** Bridged routes, by path prefix (the longest prefix wins). */
  readonly routes: readonly Route[];
  /** Where plain HTTP requests go: HTTP upstreams and static directories (none: the app's or 404). */
  readonly httpRoutes?: readonly HttpRoute[];
  /** The access rule for routes without one of their own (in-process routes, app-claimed sockets). */
  readonly access: AccessRule | undefined;
  /**
   * Peers (IP addresses or CIDR ranges) trusted as proxies: their X-Forwarded-For, Forwarded
   * and X-Real-IP reach the backend, extended with h2ws's hop. Absent or empty: nobody's do.
   */
  readonly trustedProxies?: readonly string[];
  /** See {@link Limits}. */
  readonly limits: Limits;
  /** See {@link Timeouts}. */
  readonly timeouts: Timeouts;
  /** Where /metrics, /healthz, /readyz and /status are served, and which are on. */
  readonly admin: AdminOptions;
  /** Log level and format. */
  readonly log: LogOptions;
}

/** The limits a gateway uses for every field the config leaves out. */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxTunnels: 10_000,
  maxStreamsPerConnection: 256,
  maxHeaderListSize: 65_536,
  maxBufferedBytesPerTunnel: 1_048_576,
});

/** The timeouts a gateway uses for every field the config leaves out. */
export const DEFAULT_TIMEOUTS: Timeouts = Object.freeze({
  handshakeMs: 10_000,
  backendConnectMs: 5_000,
  backendUpgradeMs: 10_000,
  idleMs: 0,
  drainMs: 30_000,
  closeGraceMs: 250,
  pingIntervalMs: 30_000,
  upstreamResponseMs: 60_000,
});

export const DEFAULT_ADMIN: AdminOptions = Object.freeze({ listen: undefined, metrics: true, status: true });
export const DEFAULT_LOG: LogOptions = Object.freeze({ level: 'info', format: undefined });

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_TLS_PORT = 8443;
export const DEFAULT_CLEARTEXT_PORT = 8080;
