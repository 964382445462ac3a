import type { GatewayOptions } from '../config/options.ts';
import { flowControlWindows } from '../h2/windows.ts';
import { adminApp, type AdminView, type StatusSnapshot } from './admin.ts';
import { Telemetry } from './telemetry.ts';
import type { GatewayHooks } from './gateway-hooks.ts';

export type { AuthorizeHook, AuthorizeInfo, GatewayHooks, TunnelClosedEvent, TunnelEvent } from './gateway-hooks.ts';
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts';
import type { Logger } from '../log/logger.ts';
import { runtimeVersion } from '../runtime/detect.ts';
import { defaultApp } from './app.ts';
import type { FetchHandler } from './fetch-adapter.ts';
import { selfSignedCertificate } from './self-signed.ts';
import type { GatewayBinding, ReloadResult } from './binding.ts';
import { routePrefixes } from './routes.ts';
import type { GatewayConfig } from '../create-gateway.ts';
import { BackendPools } from './backend-pools.ts';
import { ConfigInForce } from './config-in-force.ts';
import { GatewayListeners } from './gateway-listeners.ts';
import { reloadGateway } from './gateway-reload.ts';
import { HandshakeDispatch } from './handshake-dispatch.ts';
import { HandshakeTargets } from './handshake-targets.ts';
import { PlainRequests } from './plain-requests.ts';
import { SHUTDOWN_GRACE_MS, TunnelRegistry } from './tunnel-registry.ts';

export { SHUTDOWN_GRACE_MS } from './tunnel-registry.ts';

/**
 * An h2ws gateway: one listener serving HTTP/2 (TLS ALPN or h2c prior knowledge) and
 * HTTP/1.1, bridging WebSocket handshakes on either to HTTP/1.1 WebSocket backends.
 */
export class Gateway {
  /** The options in force and the route table made from them. */
  readonly #config: ConfigInForce;
  readonly #telemetry: Telemetry;
  /** Open tunnels and handshakes in flight: the tunnel limit, the drain, the reports. */
  readonly #registry: TunnelRegistry;
  /** Requests that are not WebSocket handshakes: admin endpoints, HTTP routes, the app. */
  readonly #plain: PlainRequests;
  /** WebSocket handshakes on either transport. */
  readonly #dispatch: HandshakeDispatch;
  /** HTTP/2 connections to backends that speak RFC 8441, one per backend origin. */
  readonly #pools: BackendPools;
  readonly #binding: GatewayBinding;
  /** The admin endpoints, served here or on the admin listener; undefined for the admin listener itself. */
  readonly #adminFetch: FetchHandler | undefined;
  #adminGateway: Gateway | undefined;
  #listeners!: GatewayListeners;
  #closing: Promise<void> | undefined;

  private constructor(options: GatewayOptions, hooks: GatewayHooks, role: 'main' | 'admin', binding: GatewayBinding) {
    this.#binding = binding;
    this.#config = new ConfigInForce(options, hooks.inProcess ?? {});
    const scheme = options.tls !== undefined ? 'https' : 'http';
    // Backend→client bytes arrive on the backend sessions: the same windows as toward clients.
    // The backend pool runs on the same engine: both windows on every runtime.
    this.#pools = new BackendPools(options.timeouts.backendConnectMs, flowControlWindows(options.limits.maxBufferedBytesPerTunnel));
    const telemetry = new Telemetry(routePrefixes(options, this.#config.inProcess), options.log, hooks.log);
    this.#telemetry = telemetry;
    const view = binding.admin === undefined ? this.#adminView() : binding.admin(this.#adminView());
    const admin = role === 'main' && (options.admin.metrics || options.admin.status || options.admin.listen === undefined) ? adminApp(view, options.admin).fetch : undefined;
    this.#adminFetch = admin;
    // The admin endpoints on this listener, or undefined (a separate admin listener, or this is it).
    const adminHere = options.admin.listen === undefined ? admin : undefined;
    const fetch = hooks.fetch ?? defaultApp().fetch;
    const { logger } = telemetry;
    const draining = () => this.draining;
    const current = () => this.#config.options;
    this.#registry = new TunnelRegistry(telemetry, { onTunnel: hooks.onTunnel, onTunnelClosed: hooks.onTunnelClosed, idleMs: () => current().timeouts.idleMs, draining });
    this.#plain = new PlainRequests({ admin: adminHere, fetch, scheme, trustedProxies: () => current().trustedProxies }, logger);
    const targets = new HandshakeTargets({ registry: this.#registry, pools: this.#pools, fetch, scheme, logger, options: current });
    this.#dispatch = new HandshakeDispatch({
      config: this.#config,
      registry: this.#registry,
      targets,
      admin: adminHere,
      appTakesWebSockets: hooks.fetch !== undefined,
      authorize: hooks.authorize,
      scheme,
      logger,
      draining,
    });
  }

  /** The options in force: those it started with, or the last reload's. */
  get options(): GatewayOptions {
    return this.#config.options;
  }

  /**
   * Starts listening (and the admin listener, when configured); resolves once bound.
   * `binding` is how the h2ws command and `serve()` embed it (reload source, shared port).
   */
  static async start(options: GatewayOptions, hooks: GatewayHooks = {}, binding: GatewayBinding = {}): Promise<Gateway> {
    const gateway = new Gateway(options, hooks, 'main', binding);
    await gateway.#listen();
    const adminAt = options.admin.listen;
    if (adminAt !== undefined && gateway.#adminFetch !== undefined) {
      try {
        gateway.#adminGateway = await new Gateway(
          { ...options, ...adminAt, routes: [], httpRoutes: [], timeouts: { ...options.timeouts, drainMs: SHUTDOWN_GRACE_MS }, admin: { ...options.admin, listen: undefined }, log: { ...options.log, level: 'warn' } },
          { fetch: gateway.#adminFetch, ...(hooks.log && { log: hooks.log }) },
          'admin',
          { ...(binding.reusePort === true && { reusePort: true }) },
        ).#started();
      } catch (err) {
        await gateway.close();
        throw err;
      }
    }
    gateway.#telemetry.logger.info('listening', { url: gateway.url, admin: gateway.adminUrl, runtime: runtimeVersion() });
    return gateway;
  }

  async #started(): Promise<Gateway> {
    await this.#listen();
    return this;
  }

  /** Where /metrics, /healthz, /readyz and /status are served: the admin listener's URL, or this one's. */
  get adminUrl(): string {
    return this.#adminGateway?.url ?? this.url;
  }

  /** True while the server takes new tunnels: false from the moment a drain starts (GET /readyz). */
  get ready(): boolean {
    return !this.draining;
  }

  /** The exact Prometheus metrics (also served at GET /metrics unless turned off). */
  get metrics(): GatewayMetrics {
    return this.#telemetry.metrics;
  }

  /** The structured logger the server writes to. */
  get logger(): Logger {
    return this.#telemetry.logger;
  }

  #adminView(): AdminView {
    return {
      ready: () => this.ready,
      metrics: () => this.#telemetry.metrics.render(),
      status: () => this.#status(),
    };
  }

  #status(): StatusSnapshot {
    const { openTotal, open, bytes } = this.#registry.tally();
    const sessions = this.#telemetry.metrics.sessionsOpen;
    return {
      time: new Date().toISOString(),
      ready: this.ready,
      openTotal,
      open,
      sessions: { h2: sessions.value({ transport: 'h2' }) ?? 0, h1: sessions.value({ transport: 'h1' }) ?? 0 },
      bytes,
      recent: this.#telemetry.recent,
    };
  }

  /** The bound address (useful with port 0). */
  get address(): { host: string; port: number } {
    return this.#listeners.address;
  }

  /** The URL clients use, e.g. "https://127.0.0.1:8443/". */
  get url(): string {
    return this.#listeners.url;
  }

  /** Open tunnels plus handshakes in flight: what `limits.maxTunnels` counts. */
  get openTunnels(): number {
    return this.#registry.open;
  }

  /** True once `close()` has been called. */
  get draining(): boolean {
    return this.#closing !== undefined;
  }

  async #listen(): Promise<void> {
    const { options } = this.#config;
    let tlsFiles: { cert: string; key: string } | undefined;
    if (options.tls !== undefined) {
      tlsFiles = 'selfSigned' in options.tls ? await selfSignedCertificate() : options.tls;
    }
    await this.#plain.start(options);
    this.#listeners = await GatewayListeners.open(options, tlsFiles, this.#binding.reusePort === true, this.#telemetry, {
      stream: (stream, head, endStream) => {
        if (head.method !== 'CONNECT') this.#plain.h2(stream, head, endStream);
        else this.#dispatch.extendedConnect(stream, head);
      },
      request: (req, res) => this.#plain.h1(req, res),
      upgrade: (req, socket, head) => this.#dispatch.upgrade(req, socket, head),
    });
  }

  /**
   * Reads the config again and applies it to what comes next: routes, access rules, trusted
   * proxies, limits and timeouts for new handshakes and connections, the TLS certificate and
   * key for new TLS handshakes. Open tunnels and connections keep running as they are.
   *
   * Where the config comes from: `config` when given (from `serve()`, the same fields it
   * takes); otherwise `serve()`'s config function is called again, and the h2ws command
   * re-reads its config file and TLS files (what SIGHUP does). A bad config or an unusable
   * certificate changes nothing: it is logged in one line and reported in the result. Never
   * rejects.
   */
  reload(config?: GatewayConfig): Promise<ReloadResult> {
    return reloadGateway({
      config: this.#config,
      load: this.#binding.load,
      listeners: this.#listeners,
      plain: this.#plain,
      pools: this.#pools,
      telemetry: this.#telemetry,
      draining: () => this.draining,
    }, config);
  }

  /**
   * Graceful shutdown: stop accepting, GOAWAY(NO_ERROR, last stream id) to every session,
   * let open tunnels finish until `timeouts.drainMs`, then close them with 1001 (going away)
   * where frame boundaries are known, and abort what is left after a short grace.
   */
  close(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    const started = Date.now();
    const { drainMs } = this.options.timeouts;
    this.#telemetry.logger.info('draining', { open_tunnels: this.openTunnels, drain_ms: drainMs });
    const frontClosed = this.#listeners.stopAccepting();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Open tunnels and plain responses still being written (a download, a proxied request) finish first.
    await Promise.race([Promise.all([this.#registry.whenIdle(), this.#plain.whenIdle()]), new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
    clearTimeout(timer);
    this.#registry.goingAway();
    await this.#registry.whenIdle();
    this.#listeners.destroyAll();
    this.#pools.destroy();
    this.#plain.close();
    await frontClosed;
    await this.#adminGateway?.close();
    this.#telemetry.logger.info('stopped', { duration_ms: Date.now() - started });
  }
}
