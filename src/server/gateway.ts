import http from 'node:http';
import type net from 'node:net';
import type { GatewayOptions } from '../config/options.ts';
import { H2Server } from '../h2/server.ts';
import type { H2Stream } from '../h2/stream.ts';
import type { RequestHead } from '../h2/field-validation.ts';
import type { ResponseFields } from '../handshake/client-response.ts';
import { validateExtendedConnect } from '../handshake/extended-connect.ts';
import { validateH1Upgrade } from '../handshake/h1-upgrade.ts';
import { isTrustedProxy } from '../handshake/proxy-trust.ts';
import { splitList } from '../handshake/headers.ts';
import type { WebSocketRequest } from '../handshake/websocket-request.ts';
import type { RouteTable } from '../routing/route-table.ts';
import { H2wsError } from '../errors.ts';
import { OUTCOME_ERROR_CODE, REFUSED } from '../tunnel/outcomes.ts';
import type { TunnelSummary } from '../tunnel/relay.ts';
import type { OpenTunnel } from '../tunnel/open-tunnel.ts';
import { watchIdle } from '../tunnel/idle-timeout.ts';
import { generateKey } from '../handshake/accept.ts';
import { flowControlWindows } from '../h2/windows.ts';
import { checkAccess } from '../handshake/access.ts';
import { H2UpgradedStream } from '../h2/upgraded-stream.ts';
import { H2SessionPool, type PoolWindows } from '../h2/client-pool.ts';
import { acceptWebSocket } from '../websocket/accept.ts';
import { attachRequest, claimEndpoint, type Endpoint } from '../websocket/endpoint.ts';
import { offerUpgrade } from '../websocket/hono.ts';
import { keepAlive } from '../websocket/keepalive.ts';
import { upgradeFetchRequest } from '../websocket/upgrade-request.ts';
import { InProcessTunnel } from './in-process.ts';
import { ADMIN_PATHS, adminApp, type AdminView, type StatusSnapshot } from './admin.ts';
import { Telemetry } from './telemetry.ts';
import type { AuthorizeHook, GatewayHooks, TunnelClosedEvent, TunnelEvent } from './gateway-hooks.ts';

export type { AuthorizeHook, AuthorizeInfo, GatewayHooks, TunnelClosedEvent, TunnelEvent } from './gateway-hooks.ts';
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts';
import type { Logger } from '../log/logger.ts';
import { runtimeVersion } from '../runtime/detect.ts';
import { defaultApp } from './app.ts';
import { refusalFrom } from './app-refusal.ts';
import { bridge } from './bridge.ts';
import { type FetchHandler, serveH1, serveH2 } from './fetch-adapter.ts';
import { createFrontListener, type FrontListener } from './listener.ts';
import { createH1Server, type H1Server } from './h1-server.ts';
import { HttpSide } from './http-side.ts';
import { selfSignedCertificate } from './self-signed.ts';
import { h1Client, h2Client, type InProcessClient, refuseH1, respondH2 } from './client-handles.ts';
import type { GatewayBinding, ReloadResult } from './binding.ts';
import { planReload, type ReloadPlan, reloadFailedRecord, restartNeededRecord } from './reload.ts';
import { routePrefixes, routeTable } from './routes.ts';
import { ErrorCode } from '../errors.ts';
import type { InProcessRoute } from '../websocket/endpoint.ts';
import type { GatewayConfig } from '../create-gateway.ts';

/** How long tunnels get to close once told to (1001 going away) before they are aborted. */
export const SHUTDOWN_GRACE_MS = 1_000;

/**
 * An h2ws gateway: one listener serving HTTP/2 (TLS ALPN or h2c prior knowledge) and
 * HTTP/1.1, bridging WebSocket handshakes on either to HTTP/1.1 WebSocket backends.
 */
export class Gateway {
  #options: GatewayOptions;
  #routes: RouteTable<Endpoint>;
  readonly #fetch: FetchHandler;
  /** HTTP upstreams and static files for plain requests (docs/http-proxy.md). */
  #http: HttpSide | undefined;
  /** A fetch handler of the application's own, which may claim WebSocket handshakes no route takes. */
  readonly #appTakesWebSockets: boolean;
  readonly #telemetry: Telemetry;
  /** The admin endpoints on this listener, or undefined (a separate admin listener, or this is it). */
  readonly #admin: FetchHandler | undefined;
  #adminGateway: Gateway | undefined;
  readonly #onTunnel: ((event: TunnelEvent) => void) | undefined;
  readonly #authorize: AuthorizeHook | undefined;
  readonly #onTunnelClosed: ((event: TunnelClosedEvent) => void) | undefined;
  readonly #tunnels = new Map<OpenTunnel, TunnelAbout | undefined>();
  /** HTTP/2 receive windows (RFC 9113 §6.9) toward clients. */
  #serverWindows: { readonly stream: number; readonly connection: number };
  /** The same for the sessions to RFC 8441 backends. */
  #windows: PoolWindows;
  readonly #binding: GatewayBinding;
  /** The library's in-process routes, kept across reloads that do not replace them. */
  #inProcess: Readonly<Record<string, InProcessRoute>>;
  /** HTTP/1.1 servers a reload replaced: they still serve the connections they had. */
  readonly #oldH1 = new Set<http.Server>();
  /** Backend pools a reload replaced: closed (GOAWAY), their tunnels finishing. */
  readonly #oldPools = new Set<H2SessionPool>();
  #handshakes = 0;
  #plainInFlight = 0;
  #plainIdleWaiters: Array<() => void> = [];
  #idleWaiters: Array<() => void> = [];
  #front!: FrontListener;
  #h1!: H1Server;
  #sessions!: H2Server;
  #secure = false;
  #closing: Promise<void> | undefined;
  #address!: { host: string; port: number };

  private constructor(options: GatewayOptions, hooks: GatewayHooks, role: 'main' | 'admin', binding: GatewayBinding) {
    this.#options = options;
    this.#binding = binding;
    const windows = flowControlWindows(options.limits.maxBufferedBytesPerTunnel);
    this.#serverWindows = windows;
    // The backend pool runs on the same engine: both windows on every runtime.
    this.#windows = windows;
    this.#inProcess = hooks.inProcess ?? {};
    this.#routes = routeTable(options, this.#inProcess);
    this.#fetch = hooks.fetch ?? defaultApp().fetch;
    this.#appTakesWebSockets = hooks.fetch !== undefined;
    // Backend→client bytes arrive on these sessions: the same windows as toward clients.
    this.#backendPool = new H2SessionPool({ connectTimeoutMs: options.timeouts.backendConnectMs, windows: this.#windows });
    this.#telemetry = new Telemetry(routePrefixes(options, this.#inProcess), options.log, hooks.log);
    const view = binding.admin === undefined ? this.#adminView() : binding.admin(this.#adminView());
    const admin = role === 'main' && (options.admin.metrics || options.admin.status || options.admin.listen === undefined) ? adminApp(view, options.admin).fetch : undefined;
    this.#admin = options.admin.listen === undefined ? admin : undefined;
    this.#adminFetch = admin;
    this.#onTunnel = hooks.onTunnel;
    this.#authorize = hooks.authorize;
    this.#onTunnelClosed = hooks.onTunnelClosed;
  }

  readonly #adminFetch: FetchHandler | undefined;

  /** The options in force: those it started with, or the last reload's. */
  get options(): GatewayOptions {
    return this.#options;
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
    const open = new Map<string, { route: string; transport: 'h2' | 'h1'; count: number }>();
    let toBackend = this.#closedBytes.toBackend;
    let toClient = this.#closedBytes.toClient;
    for (const [tunnel, about] of this.#tunnels) {
      if (about === undefined) continue;
      toBackend += tunnel.bytesToBackend;
      toClient += tunnel.bytesToClient;
      const key = `${about.route}\u0000${about.transport}`;
      const entry = open.get(key) ?? { route: about.route, transport: about.transport, count: 0 };
      entry.count++;
      open.set(key, entry);
    }
    const sessions = this.#telemetry.metrics.sessionsOpen;
    return {
      time: new Date().toISOString(),
      ready: this.ready,
      openTotal: [...open.values()].reduce((n, e) => n + e.count, 0),
      open: [...open.values()].sort((a, b) => a.route.localeCompare(b.route) || a.transport.localeCompare(b.transport)),
      sessions: { h2: sessions.value({ transport: 'h2' }) ?? 0, h1: sessions.value({ transport: 'h1' }) ?? 0 },
      bytes: { toBackend, toClient },
      recent: this.#telemetry.recent,
    };
  }

  readonly #closedBytes = { toBackend: 0, toClient: 0 };
  /** HTTP/2 connections to backends that speak RFC 8441, one per backend origin. */
  #backendPool: H2SessionPool;

  /** The bound address (useful with port 0). */
  get address(): { host: string; port: number } {
    return this.#address;
  }

  /** The URL clients use, e.g. "https://127.0.0.1:8443/". */
  get url(): string {
    const host = this.#address.host.includes(':') ? `[${this.#address.host}]` : this.#address.host;
    return `${this.#secure ? 'https' : 'http'}://${host}:${this.#address.port}/`;
  }

  /** Open tunnels plus handshakes in flight: what `limits.maxTunnels` counts. */
  get openTunnels(): number {
    return this.#tunnels.size + this.#handshakes;
  }

  /** True once `close()` has been called. */
  get draining(): boolean {
    return this.#closing !== undefined;
  }

  async #listen(): Promise<void> {
    const { limits, timeouts } = this.#options;
    let tlsFiles: { cert: string; key: string } | undefined;
    if (this.#options.tls !== undefined) {
      tlsFiles = 'selfSigned' in this.#options.tls ? await selfSignedCertificate() : this.#options.tls;
      this.#secure = true;
    }
    const { metrics } = this.#telemetry;
    if (this.options.httpRoutes !== undefined && this.options.httpRoutes.length > 0) {
      this.#http = await HttpSide.start(this.options.httpRoutes, timeouts, this.#telemetry.logger);
    }
    const h2 = new H2Server({
      limits,
      initialWindowSize: this.#serverWindows.stream,
      connectionWindow: this.#serverWindows.connection,
      pingIntervalMs: timeouts.pingIntervalMs,
      observer: this.#telemetry.sessionObserver(),
      onStream: (stream, head, endStream) => this.#onStream(stream, head, endStream),
    });
    this.#sessions = h2;

    this.#h1 = this.#h1Server();

    this.#front = createFrontListener(tlsFiles, {
      h2: (socket) => h2.accept(socket),
      h1: (socket) => {
        metrics.sessionOpened('h1');
        socket.once('close', () => metrics.sessionClosed('h1'));
        this.#h1.accept(socket);
      },
    }, timeouts.handshakeMs);
    const { server } = this.#front;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // reusePort: every worker process binds the same address (runtime/workers.ts).
      server.listen({ port: this.#options.port, host: this.#options.host, ...(this.#binding.reusePort === true && { reusePort: true }) }, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.#telemetry.logger.error('listener_error', { message: err.message }));
    const bound = server.address() as net.AddressInfo;
    this.#address = { host: bound.address, port: bound.port };
  }

  /** An HTTP/1.1 server with the limits in force, for the connections accepted from now on. */
  #h1Server(): H1Server {
    const { limits, timeouts } = this.#options;
    return createH1Server(limits, timeouts.handshakeMs, {
      request: (req, res) => this.#servePlain(serveH1(req, res, this.#scheme, this.#plainHandler(req.url ?? '/', req.socket.remoteAddress, 'h1'))),
      upgrade: (req, socket, head) => this.#onUpgrade(req, socket, head),
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
  async reload(config?: GatewayConfig): Promise<ReloadResult> {
    const { logger } = this.#telemetry;
    let plan: ReloadPlan;
    let http: HttpSide | undefined;
    try {
      if (this.draining) throw new H2wsError(ErrorCode.CONFIG, 'the gateway is draining; reload ignored');
      plan = await planReload(this.#options, this.#binding.load, config);
      // Opening the new static directories can fail too, so it comes before anything changes.
      http = await this.#reloadedHttp(plan.next);
      // The one step that can still fail, so it goes first: nothing has changed yet if it does.
      try {
        this.#front.update({ ...(plan.certificate !== undefined && { tls: plan.certificate }), handshakeMs: plan.next.timeouts.handshakeMs });
      } catch (err) {
        throw new H2wsError(ErrorCode.CONFIG, `tls: the TLS stack refused the certificate and key (${(err as Error).message})`, { field: 'tls' });
      }
    } catch (err) {
      if (!(err instanceof H2wsError)) throw err;
      logger.error('reload_failed', reloadFailedRecord(err));
      return { ok: false, error: err };
    }
    this.#apply(plan.next, plan.inProcess ?? this.#inProcess);
    if (http === undefined) this.#http?.close();
    this.#http = http;
    const { restartNeeded } = plan;
    logger[restartNeeded.length > 0 ? 'warn' : 'info']('reloaded', {
      routes: this.#routes.routes.length,
      certificate: plan.certificate !== undefined ? 'replaced' : undefined,
      ...restartNeededRecord(restartNeeded),
    });
    return { ok: true, restartNeeded };
  }

  /** The HTTP routes of a reloaded config, sharing the running upstream connections. */
  async #reloadedHttp(next: GatewayOptions): Promise<HttpSide | undefined> {
    const routes = next.httpRoutes ?? [];
    if (routes.length === 0) return undefined;
    return this.#http === undefined ? HttpSide.start(routes, next.timeouts, this.#telemetry.logger) : this.#http.reloaded(routes, next.timeouts);
  }

  /** Swaps in reloaded options; only what is created from now on sees them. */
  #apply(next: GatewayOptions, inProcess: Readonly<Record<string, InProcessRoute>>): void {
    const before = this.#options;
    this.#options = next;
    this.#inProcess = inProcess;
    this.#routes = routeTable(next, inProcess);
    for (const prefix of routePrefixes(next, inProcess)) this.#telemetry.metrics.seedRoute(prefix);
    const windows = flowControlWindows(next.limits.maxBufferedBytesPerTunnel);
    this.#serverWindows = windows;
    this.#windows = windows;
    this.#sessions.reconfigure({ limits: next.limits, initialWindowSize: windows.stream, connectionWindow: windows.connection, pingIntervalMs: next.timeouts.pingIntervalMs });
    if (next.limits.maxHeaderListSize !== before.limits.maxHeaderListSize || next.timeouts.handshakeMs !== before.timeouts.handshakeMs) {
      this.#oldH1.add(this.#h1.server);
      this.#h1 = this.#h1Server();
    }
    if (next.timeouts.backendConnectMs !== before.timeouts.backendConnectMs || next.limits.maxBufferedBytesPerTunnel !== before.limits.maxBufferedBytesPerTunnel) {
      // Tunnels on the old pool's sessions go on; the pool takes no new ones and its
      // sessions close once their streams end (GOAWAY, RFC 9113 §6.8).
      for (const pool of this.#oldPools) if (pool.sessions === 0) this.#oldPools.delete(pool);
      this.#backendPool.close();
      this.#oldPools.add(this.#backendPool);
      this.#backendPool = new H2SessionPool({ connectTimeoutMs: next.timeouts.backendConnectMs, windows: this.#windows });
    }
  }

  /**
   * Plain requests: the admin endpoints where they live on this listener, then the HTTP
   * routes (upstreams and static files), then the application.
   */
  #plainHandler(target: string, remoteAddress: string | undefined, transport: 'h2' | 'h1'): FetchHandler {
    const q = target.indexOf('?');
    if (this.#admin !== undefined && ADMIN_PATHS.has(q === -1 ? target : target.slice(0, q))) return this.#admin;
    const peer = { clientAddress: remoteAddress ?? 'unknown', proto: this.#scheme, transport, trustedProxy: isTrustedProxy(remoteAddress, this.options.trustedProxies) };
    return this.#http?.handler(target, peer) ?? this.#fetch;
  }

  #report(event: TunnelEvent & { h2Code?: number; client: string }): void {
    const { h2Code, client, ...rest } = event;
    if (event.outcome !== 'ok') {
      const details = { ...(event.status !== undefined && { status: event.status }), ...(h2Code !== undefined && { h2Code }) };
      (rest as { error?: H2wsError }).error = new H2wsError(OUTCOME_ERROR_CODE[event.outcome], event.message ?? event.outcome, details);
    }
    this.#onTunnel?.(rest);
    if (event.outcome === 'ok') this.#telemetry.metrics.handshake(event.route, event.transport, 'ok');
    else this.#telemetry.handshakeFailed({ ...event, outcome: event.outcome });
  }

  #onStream(stream: H2Stream, head: RequestHead, endStream: boolean): void {
    if (head.method !== 'CONNECT') {
      this.#servePlain(serveH2(stream, head, endStream, this.#scheme, this.#plainHandler(head.path ?? '/', stream.remoteAddress, 'h2')));
      return;
    }
    const path = head.path ?? '';
    const peerAddress = stream.remoteAddress ?? 'unknown';
    // Over the limit: refuse before any work, so the client may retry (RFC 9113 §8.7).
    if (this.openTunnels >= this.options.limits.maxTunnels || this.draining) {
      const route = this.#routes.match(path)?.route.prefix;
      stream.reset(REFUSED.h2Code);
      this.#report({ transport: 'h2', client: peerAddress, path, route, outcome: 'refused', message: 'tunnel limit reached', h2Code: REFUSED.h2Code });
      return;
    }
    const checked = validateExtendedConnect(head.headers, { trustedProxy: isTrustedProxy(stream.remoteAddress, this.options.trustedProxies) });
    if (!checked.ok) {
      const { rejection } = checked;
      if (rejection.h2Code !== undefined) stream.reset(rejection.h2Code);
      else respondH2(stream, rejection.status, rejection.headers ?? {}, `${rejection.message}\n`);
      this.#report({ transport: 'h2', client: peerAddress, path, route: undefined, outcome: rejection.outcome, status: rejection.status, message: rejection.message, ...(rejection.h2Code !== undefined && { h2Code: rejection.h2Code }) });
      return;
    }
    this.#open(checked.request, h2Client(stream, checked.request, { secure: this.#secure, closeGraceMs: this.options.timeouts.closeGraceMs }));
  }

  #onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    socket.on('error', noop);
    socket.pause();
    socket.setNoDelay(true);
    const path = req.url ?? '';
    const peerAddress = socket.remoteAddress ?? 'unknown';
    const refuse = (status: number, headers: ResponseFields, body: Uint8Array | string) => refuseH1(socket, status, headers, body);
    if (!splitList(req.headers.upgrade, true).includes('websocket')) {
      refuse(400, {}, `upgrade to "${req.headers.upgrade}" is not supported; h2ws upgrades to websocket only\n`);
      this.#report({ transport: 'h1', client: peerAddress, path, route: undefined, outcome: 'rejected', status: 400 });
      return;
    }
    if (this.openTunnels >= this.options.limits.maxTunnels || this.draining) {
      refuse(REFUSED.h1Status, { 'retry-after': '1' }, 'tunnel limit reached; retry later\n');
      this.#report({ transport: 'h1', client: peerAddress, path, route: this.#routes.match(path)?.route.prefix, outcome: 'refused', status: REFUSED.h1Status });
      return;
    }
    const checked = validateH1Upgrade(req.method ?? '', req.httpVersion, req.headers, path, { rawHeaders: req.rawHeaders, trustedProxy: isTrustedProxy(socket.remoteAddress, this.options.trustedProxies) });
    if (!checked.ok) {
      const { rejection } = checked;
      refuse(rejection.status, rejection.headers ?? {}, `${rejection.message}\n`);
      this.#report({ transport: 'h1', client: peerAddress, path, route: undefined, outcome: rejection.outcome, status: rejection.status, message: rejection.message });
      return;
    }
    this.#open(checked.request, h1Client(req, socket, head, checked.request));
  }

  /**
   * Routes a validated handshake: bridged to a backend, handled in-process, or offered to
   * the application's fetch handler. The handshake counts toward the limit meanwhile.
   */
  #open(request: WebSocketRequest, client: InProcessClient): void {
    if (this.#admin !== undefined && request.path.split('?')[0] === STATUS_SOCKET_PATH) {
      this.#offerToApp(request, client, this.#admin, true, generateKey(), undefined);
      return;
    }
    const match = this.#routes.match(request.path);
    if (match === undefined && !this.#appTakesWebSockets) {
      client.refuse(404, {}, `no route for ${request.path.split('?')[0]}\n`);
      this.#report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route: undefined, outcome: 'rejected', status: 404 });
      return;
    }
    const route = match?.route.prefix;
    // Access rules first (RFC 6455 §10.2: the server decides from Origin), then the app's hook.
    const denied = checkAccess(match === undefined ? this.options.access : (match.route.access ?? ('local' in match.route ? this.options.access : undefined)), request);
    if (denied !== undefined) {
      this.#deny(request, client, route, denied.status, denied.headers, `${denied.message}\n`);
      return;
    }
    if (this.#authorize === undefined) {
      this.#route(request, client, match, undefined);
      return;
    }
    const key = request.clientKey ?? generateKey();
    let fetchRequest: Request;
    try {
      fetchRequest = upgradeFetchRequest(request, key, this.#scheme, client.signal);
    } catch {
      this.#deny(request, client, route, 400, {}, 'the request target is not a valid URL\n', 'rejected');
      return;
    }
    this.#handshakes++;
    void (async () => {
      let verdict: boolean | void | Response;
      try {
        verdict = await this.#authorize!(fetchRequest, { route, transport: request.transport, client: client.forwarded.clientAddress });
      } catch (err) {
        this.#telemetry.logger.error('authorize_error', { path: request.path.split('?')[0], message: (err as Error)?.message ?? String(err) });
        verdict = new Response('internal error\n', { status: 500 });
      }
      this.#handshakes--;
      if (client.signal.aborted) return this.#checkIdle();
      if (verdict === false) {
        this.#deny(request, client, route, 403, {}, 'forbidden\n');
      } else if (verdict instanceof Response && (verdict.status < 200 || verdict.status > 299)) {
        const { headers, body } = await refusalFrom(verdict);
        this.#deny(request, client, route, verdict.status, headers, body, verdict.status >= 500 ? 'rejected' : 'forbidden');
      } else {
        this.#route(request, client, match, fetchRequest);
      }
      this.#checkIdle();
    })();
  }

  /**
   * The client withdrew (RST_STREAM, or a closed connection) before its handshake was
   * answered: no outcome to count (the reset is counted as received), one debug record.
   */
  #cancelled(request: WebSocketRequest, client: InProcessClient, route: string): void {
    this.#telemetry.logger.debug('tunnel', { route, path: request.path.split('?')[0], transport: request.transport, client: client.forwarded.clientAddress, end: 'cancelled by client' });
  }

  /** Turns a handshake down before any backend work: 401/403 are "forbidden" in reports. */
  #deny(request: WebSocketRequest, client: InProcessClient, route: string | undefined, status: number, headers: ResponseFields, body: Uint8Array | string, outcome: 'forbidden' | 'rejected' = 'forbidden'): void {
    client.refuse(status, headers, body);
    this.#report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route, outcome, status, message: typeof body === 'string' ? body.trim() : `${status}` });
  }

  /** Sends an admitted handshake where its route says: a backend, an in-process handler, or the app. */
  #route(request: WebSocketRequest, client: InProcessClient, match: ReturnType<RouteTable<Endpoint>['match']>, fetchRequest: Request | undefined): void {
    if (match === undefined || !('backendPath' in match)) {
      // Handled here: the in-process WebSocket needs a Sec-WebSocket-Key (HTTP/2 requests
      // carry none, RFC 8441 §5); one the authorize hook saw is reused. A bridged tunnel's
      // key is made by the backend handshake instead.
      const key = fetchRequest?.headers.get('sec-websocket-key') ?? request.clientKey ?? generateKey();
      if (match === undefined) {
        this.#offerToApp(request, client, this.#fetch, false, key, fetchRequest);
        return;
      }
      this.#handshakes++;
      this.#openInProcess(match.route.local, match.route.prefix, request, client, key, fetchRequest ?? upgradeFetchRequest(request, key, this.#scheme, client.signal), false);
      return;
    }
    this.#handshakes++;
    const { timeouts, limits } = this.options;
    bridge(match, request, client, {
      backendConnectMs: timeouts.backendConnectMs,
      backendUpgradeMs: timeouts.backendUpgradeMs,
      maxBufferedBytes: limits.maxBufferedBytesPerTunnel,
      closeGraceMs: timeouts.closeGraceMs,
      h2Pool: this.#backendPool,
    }).then(
      (result) => {
        this.#handshakes--;
        const { outcome, status, message } = result;
        if (outcome === 'cancelled') {
          this.#cancelled(request, client, match.route.prefix);
          return this.#checkIdle();
        }
        this.#report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route: match.route.prefix, outcome, ...(status !== undefined && { status }), ...(message !== undefined && { message }) });
        const { tunnel } = result;
        if (tunnel === undefined) return this.#checkIdle();
        this.#track(tunnel, { transport: request.transport, path: request.path, route: match.route.prefix, backend: match.route.backend.url, client: client.forwarded.clientAddress }, false);
      },
      (err: unknown) => {
        this.#handshakes--;
        this.#telemetry.logger.error('internal_error', { path: request.path.split('?')[0], message: (err as Error)?.message ?? String(err) });
        client.refuse(502, {}, 'bad gateway\n');
        this.#checkIdle();
      },
    );
  }

  get #scheme(): 'http' | 'https' {
    return this.#secure ? 'https' : 'http';
  }

  /**
   * Counts an open tunnel until it closes, with the idle timeout and the drain applied to it.
   * Internal tunnels (the status page's own socket) are drained but not reported.
   */
  #track(tunnel: OpenTunnel, about: TunnelAbout, internal: boolean): void {
    const { timeouts } = this.options;
    this.#tunnels.set(tunnel, internal ? undefined : about);
    if (!internal) this.#telemetry.metrics.tunnelOpened(about.route, about.transport);
    if (timeouts.idleMs > 0) watchIdle(tunnel, timeouts.idleMs, SHUTDOWN_GRACE_MS);
    if (this.draining) tunnel.shutdown(1001, 'going away', SHUTDOWN_GRACE_MS);
    void tunnel.closed.then((summary) => {
      this.#tunnels.delete(tunnel);
      if (!internal) {
        const closed = { ...summary, ...about };
        this.#closedBytes.toBackend += summary.bytesToBackend;
        this.#closedBytes.toClient += summary.bytesToClient;
        this.#telemetry.tunnelClosed(closed);
        this.#onTunnelClosed?.(closed);
      }
      this.#checkIdle();
    });
  }

  /**
   * A handshake no route takes goes to the application's fetch handler as a GET with
   * `Upgrade: websocket`. If the app claims it (Hono's `upgradeWebSocket`), it is handled
   * in-process; otherwise the app's answer is the client's, except that a 2xx, which on
   * HTTP/2 would tell the client its WebSocket is open (RFC 8441 §5), becomes 404.
   */
  #offerToApp(request: WebSocketRequest, client: InProcessClient, fetch: FetchHandler, internal: boolean, key: string, prebuilt: Request | undefined): void {
    this.#handshakes++;
    let fetchRequest: Request;
    try {
      fetchRequest = prebuilt ?? upgradeFetchRequest(request, key, this.#scheme, client.signal);
    } catch {
      this.#handshakes--;
      client.refuse(400, {}, 'the request target is not a valid URL\n');
      this.#report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route: undefined, outcome: 'rejected', status: 400 });
      return this.#checkIdle();
    }
    const claimed = offerUpgrade(fetchRequest);
    void (async () => {
      let response: Response;
      try {
        response = await fetch(fetchRequest);
      } catch (err) {
        this.#telemetry.logger.error('app_error', { path: request.path.split('?')[0], message: (err as Error)?.message ?? String(err) });
        response = new Response('internal error\n', { status: 500 });
      }
      const claim = claimed();
      if (claim !== undefined && !client.signal.aborted) {
        this.#openInProcess(claimEndpoint(claim), claim.route, request, client, key, fetchRequest, internal);
        return;
      }
      this.#handshakes--;
      if (!client.signal.aborted) {
        const status = response.status < 300 ? 404 : response.status;
        const answer = status === response.status ? await refusalFrom(response) : { headers: {}, body: `no WebSocket at ${request.path.split('?')[0]}\n` };
        client.refuse(status, answer.headers, answer.body);
        this.#report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route: undefined, outcome: status === 403 ? 'forbidden' : 'rejected', status });
      }
      this.#checkIdle();
    })();
  }

  /** Completes the handshake in-process (ws negotiates and frames) and hands the socket to its handler. */
  #openInProcess(endpoint: Endpoint, route: string, request: WebSocketRequest, client: InProcessClient, key: string, fetchRequest: Request, internal: boolean): void {
    const about = { transport: request.transport, path: request.path, route, backend: 'in-process', client: client.forwarded.clientAddress } as const;
    const report = (event: Omit<TunnelEvent, 'transport' | 'path' | 'route'>) => {
      if (!internal) this.#report({ ...about, ...event });
    };
    if (client.signal.aborted) {
      this.#handshakes--;
      if (!internal) this.#cancelled(request, client, route);
      return this.#checkIdle();
    }
    const { socket, head, message } = client.upgrade(key);
    attachRequest(message, fetchRequest);
    const upgraded = acceptWebSocket(endpoint.server, message, socket, head, (ws) => {
      this.#handshakes--;
      // ws reports protocol errors (1002, 1007, 1009) as 'error' after closing; they are the peer's doing.
      ws.on('error', noop);
      keepAlive(ws, endpoint.pingIntervalMs);
      report({ outcome: 'ok' });
      this.#track(new InProcessTunnel(ws, socket), about, internal);
      endpoint.open(ws, { message, request: fetchRequest }, (err) => {
        this.#telemetry.logger.error('handler_error', { route, path: request.path.split('?')[0], message: (err as Error)?.message ?? String(err), close_code: 1011 });
      });
      socket.resume(); // an HTTP/1.1 socket was paused at the upgrade; ws reads it from here
    });
    void upgraded.then((open) => {
      if (open) return;
      this.#handshakes--;
      const status = socket instanceof H2UpgradedStream ? socket.answer?.status : undefined;
      report({ outcome: 'rejected', ...(status !== undefined && { status }), message: 'the WebSocket handshake was turned down in-process' });
      this.#checkIdle();
    });
  }

  /** The HTTP/1.1 server in use and those that reloads replaced. */
  #h1Servers(): http.Server[] {
    return [this.#h1.server, ...this.#oldH1];
  }

  /** Counts a plain request until its response is written: the drain waits for these as for tunnels. */
  #servePlain(serving: Promise<void>): void {
    this.#plainInFlight++;
    const done = () => {
      if (--this.#plainInFlight > 0) return;
      for (const resolve of this.#plainIdleWaiters.splice(0)) resolve();
    };
    serving.then(done, done);
  }

  #whenPlainIdle(): Promise<void> {
    if (this.#plainInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#plainIdleWaiters.push(resolve));
  }

  #checkIdle(): void {
    if (this.openTunnels > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #whenIdle(): Promise<void> {
    if (this.openTunnels === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
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
    this.#telemetry.logger.info('draining', { open_tunnels: this.openTunnels, drain_ms: this.options.timeouts.drainMs });
    const frontClosed = new Promise<void>((resolve) => this.#front.server.close(() => resolve()));
    this.#sessions.goAwayAll();
    for (const h1 of this.#h1Servers()) (h1 as http.Server & { closeIdleConnections?: () => void }).closeIdleConnections?.();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Open tunnels and plain responses still being written (a download, a proxied request) finish first.
    await Promise.race([Promise.all([this.#whenIdle(), this.#whenPlainIdle()]), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.timeouts.drainMs)))]);
    clearTimeout(timer);
    for (const tunnel of this.#tunnels.keys()) tunnel.shutdown(1001, 'going away', SHUTDOWN_GRACE_MS);
    await this.#whenIdle();
    this.#sessions.destroyAll();
    for (const h1 of this.#h1Servers()) (h1 as http.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    this.#front.destroyAll();
    this.#backendPool.destroy();
    for (const pool of this.#oldPools) pool.destroy();
    this.#http?.close();
    await frontClosed;
    await this.#adminGateway?.close();
    this.#telemetry.logger.info('stopped', { duration_ms: Date.now() - started });
  }
}

/** Which tunnel an open tunnel is, for reports. */
type TunnelAbout = Omit<TunnelClosedEvent, keyof TunnelSummary>;

/** The status page's WebSocket. */
const STATUS_SOCKET_PATH = '/status/ws';

function noop(): void {}
