/**
 * h2ws: WebSocket over HTTP/2 (RFC 8441) for Node, Deno and Bun.
 *
 * An HTTP/2 endpoint that advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, accepts extended
 * CONNECT with `:protocol = websocket`, and bridges each tunnel to an HTTP/1.1 WebSocket
 * backend. HTTP/1.1 `Upgrade: websocket` on the same port is bridged the same way.
 *
 * @example Bridge browsers' WebSockets over HTTP/2 to an unchanged `ws` server
 * ```ts
 * import { createGateway } from './mod.ts';
 *
 * const gateway = await createGateway({
 *   listen: '127.0.0.1:8443',
 *   selfSigned: true,
 *   routes: { '/chat': 'ws://127.0.0.1:9000' },
 * });
 * console.log(`listening on ${gateway.url}`);
 * // later: await gateway.close(); // GOAWAY, drain, then close
 * ```
 *
 * @module
 */
export { createGateway, serve, type GatewayConfig } from './src/create-gateway.ts';
export { upgradeWebSocket, type UpgradeWebSocketOptions } from './src/websocket/hono.ts';
export { WebSocketServer, type WebSocketServerOptions } from './src/websocket/server.ts';
export { type ClientWebSocket, type ClientWebSocketStream, connect, type ConnectOptions, connectStream, defaultPool } from './src/client/connect.ts';
export { type ClientTlsOptions, H2SessionPool, type PoolWindows, type TunnelOpen } from './src/h2/client-pool.ts';
export type { H2Stream, StreamCallbacks, StreamClose } from './src/h2/stream.ts';
export { WebSocketStream, type WebSocketCloseInfo, type WebSocketCloseOptions, type WebSocketMessage } from './src/websocket/stream.ts';
export type { InProcessRoute, WebSocketServerLike, WebSocketStreamHandler } from './src/websocket/endpoint.ts';
export { DEFAULT_MAX_PAYLOAD, DEFAULT_WEBSOCKET_PING_INTERVAL_MS, type WebSocketOptions } from './src/websocket/options.ts';
export { Gateway, type GatewayHooks, type TunnelClosedEvent, type TunnelEvent } from './src/server/gateway.ts';
export type { ConfigLoader, GatewayBinding, ReloadResult, ReloadTarget } from './src/server/binding.ts';
export type { TunnelSummary } from './src/tunnel/relay.ts';
export type { FetchHandler } from './src/server/fetch-adapter.ts';
export type { GatewayOptions, Limits, Timeouts, TlsOptions } from './src/config/options.ts';
export { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from './src/config/options.ts';
export { parseConfigFile } from './src/config/resolve.ts';
export { ErrorCode, H2wsError } from './src/errors.ts';
export { H2ErrorCode } from './src/h2/error-codes.ts';
export { validateExtendedConnect, WEBSOCKET_VERSION } from './src/handshake/extended-connect.ts';
export { validateH1Upgrade } from './src/handshake/h1-upgrade.ts';
export { computeAccept, generateKey } from './src/handshake/accept.ts';
export { parseResponseHead, verifyUpgradeResponse, type Negotiated } from './src/handshake/backend-response.ts';
export type { WebSocketRequest, Rejection, HandshakeResult } from './src/handshake/websocket-request.ts';
export { type Outcome } from './src/tunnel/outcomes.ts';
export { VERSION } from './src/version.ts';
export { GatewayMetrics, h2ErrorName, NO_ROUTE } from './src/metrics/gateway-metrics.ts';
export { PROMETHEUS_CONTENT_TYPE } from './src/metrics/registry.ts';
export { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './src/log/logger.ts';
export { ADMIN_PATHS, type AdminView, type StatusSnapshot, type WorkerStatus } from './src/server/admin.ts';
// Types the exports above mention, so the API reference documents every one of them.
export type { AccessRule } from './src/handshake/access.ts';
export type { BackendTarget, Route } from './src/routing/route-table.ts';
export type { HttpRoute, UpstreamTarget } from './src/routing/http-routes.ts';
export type { AdminOptions, LogOptions } from './src/config/options.ts';
export type { ConfigFile, RouteConfig } from './src/config/schema.ts';
export type { AuthorizeHook, AuthorizeInfo } from './src/server/gateway-hooks.ts';
export type { Direction, Side, Transport, TunnelTotals, GatewayMetricsOptions } from './src/metrics/gateway-metrics.ts';
export type { AnyMetric, Cell, Counter, Gauge, Histogram, HistogramCell, HistogramOptions, HistogramValue, Labels, Metric, MetricOptions, MetricType, Registry } from './src/metrics/registry.ts';
export type { ProcessSample } from './src/metrics/process-metrics.ts';
export type { HeaderRecord, RequestHead as H2RequestHead, ResponseHead as H2ResponseHead } from './src/h2/field-validation.ts';
export type { StreamHost } from './src/h2/stream.ts';
export type { StreamState, StreamStateValue } from './src/h2/stream-state.ts';
export type { FlowControlWindows } from './src/h2/windows.ts';
export type { ResponseHead, UpgradeVerdict } from './src/handshake/backend-response.ts';
export type { HandshakeContext } from './src/handshake/websocket-request.ts';
export type { H1HandshakeContext } from './src/handshake/h1-upgrade.ts';
export type { HeaderMap } from './src/handshake/headers.ts';
export type { LogFields, LoggerOptions, LogFormat, RecordLevel } from './src/log/logger.ts';
export type { RecentOutcome } from './src/server/telemetry.ts';
