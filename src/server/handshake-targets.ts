import type { GatewayOptions } from '../config/options.ts';
import { H2UpgradedStream } from '../h2/upgraded-stream.ts';
import { generateKey } from '../handshake/accept.ts';
import type { WebSocketRequest } from '../handshake/websocket-request.ts';
import type { Logger } from '../log/logger.ts';
import type { RouteTable } from '../routing/route-table.ts';
import { acceptWebSocket } from '../websocket/accept.ts';
import { attachRequest, claimEndpoint, type Endpoint } from '../websocket/endpoint.ts';
import { offerUpgrade } from '../websocket/hono.ts';
import { keepAlive } from '../websocket/keepalive.ts';
import { upgradeFetchRequest } from '../websocket/upgrade-request.ts';
import { refusalFrom } from './app-refusal.ts';
import type { BackendPools } from './backend-pools.ts';
import { bridge } from './bridge.ts';
import type { InProcessClient } from './client-handles.ts';
import type { FetchHandler } from './fetch-adapter.ts';
import type { TunnelEvent } from './gateway-hooks.ts';
import { InProcessTunnel } from './in-process.ts';
import type { TunnelRegistry } from './tunnel-registry.ts';

/** A route table's answer for a handshake's path. */
export type HandshakeMatch = ReturnType<RouteTable<Endpoint>['match']>;

/** What opening a tunnel needs. */
export interface TargetsContext {
  readonly registry: TunnelRegistry;
  readonly pools: BackendPools;
  /** The application's fetch handler (or the default 404 app). */
  readonly fetch: FetchHandler;
  readonly scheme: 'http' | 'https';
  readonly logger: Logger;
  /** The options in force: timeouts and limits for the tunnels opened from now on. */
  options(): GatewayOptions;
}

/**
 * Where an admitted handshake goes: bridged to a backend, handled in-process, or offered to the
 * application's fetch handler. Each counts as a handshake in flight until it opens or fails.
 */
export class HandshakeTargets {
  readonly #context: TargetsContext;

  constructor(context: TargetsContext) {
    this.#context = context;
  }

  /** Sends an admitted handshake where its route says: a backend, an in-process handler, or the app. */
  route(request: WebSocketRequest, client: InProcessClient, match: HandshakeMatch, fetchRequest: Request | undefined): void {
    const { registry, pools, logger, scheme } = this.#context;
    if (match === undefined || !('backendPath' in match)) {
      // Handled here: the in-process WebSocket needs a Sec-WebSocket-Key (HTTP/2 requests
      // carry none, RFC 8441 §5); one the authorize hook saw is reused. A bridged tunnel's
      // key is made by the backend handshake instead.
      const key = fetchRequest?.headers.get('sec-websocket-key') ?? request.clientKey ?? generateKey();
      if (match === undefined) {
        this.offerToApp(request, client, this.#context.fetch, false, key, fetchRequest);
        return;
      }
      registry.handshakeStarted();
      this.#openInProcess(match.route.local, match.route.prefix, request, client, key, fetchRequest ?? upgradeFetchRequest(request, key, scheme, client.signal), false);
      return;
    }
    registry.handshakeStarted();
    const { timeouts, limits } = this.#context.options();
    bridge(match, request, client, {
      backendConnectMs: timeouts.backendConnectMs,
      backendUpgradeMs: timeouts.backendUpgradeMs,
      maxBufferedBytes: limits.maxBufferedBytesPerTunnel,
      closeGraceMs: timeouts.closeGraceMs,
      h2Pool: pools.current,
    }).then(
      (result) => {
        registry.handshakeEnded();
        const { outcome, status, message } = result;
        if (outcome === 'cancelled') {
          this.#cancelled(request, client, match.route.prefix);
          return registry.checkIdle();
        }
        registry.report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route: match.route.prefix, outcome, ...(status !== undefined && { status }), ...(message !== undefined && { message }) });
        const { tunnel } = result;
        if (tunnel === undefined) return registry.checkIdle();
        registry.track(tunnel, { transport: request.transport, path: request.path, route: match.route.prefix, backend: match.route.backend.url, client: client.forwarded.clientAddress }, false);
      },
      (err: unknown) => {
        registry.handshakeEnded();
        logger.error('internal_error', { path: request.path.split('?')[0], message: (err as Error)?.message ?? String(err) });
        client.refuse(502, {}, 'bad gateway\n');
        registry.checkIdle();
      },
    );
  }

  /**
   * A handshake no route takes goes to the application's fetch handler as a GET with
   * `Upgrade: websocket`. If the app claims it (Hono's `upgradeWebSocket`), it is handled
   * in-process; otherwise the app's answer is the client's, except that a 2xx, which on
   * HTTP/2 would tell the client its WebSocket is open (RFC 8441 §5), becomes 404.
   */
  offerToApp(request: WebSocketRequest, client: InProcessClient, fetch: FetchHandler, internal: boolean, key: string, prebuilt: Request | undefined): void {
    const { registry, logger } = this.#context;
    registry.handshakeStarted();
    let fetchRequest: Request;
    try {
      fetchRequest = prebuilt ?? upgradeFetchRequest(request, key, this.#context.scheme, client.signal);
    } catch {
      registry.handshakeEnded();
      client.refuse(400, {}, 'the request target is not a valid URL\n');
      registry.report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route: undefined, outcome: 'rejected', status: 400 });
      return registry.checkIdle();
    }
    const claimed = offerUpgrade(fetchRequest);
    void (async () => {
      let response: Response;
      try {
        response = await fetch(fetchRequest);
      } catch (err) {
        logger.error('app_error', { path: request.path.split('?')[0], message: (err as Error)?.message ?? String(err) });
        response = new Response('internal error\n', { status: 500 });
      }
      const claim = claimed();
      if (claim !== undefined && !client.signal.aborted) {
        this.#openInProcess(claimEndpoint(claim), claim.route, request, client, key, fetchRequest, internal);
        return;
      }
      registry.handshakeEnded();
      if (!client.signal.aborted) {
        const status = response.status < 300 ? 404 : response.status;
        const answer = status === response.status ? await refusalFrom(response) : { headers: {}, body: `no WebSocket at ${request.path.split('?')[0]}\n` };
        client.refuse(status, answer.headers, answer.body);
        registry.report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route: undefined, outcome: status === 403 ? 'forbidden' : 'rejected', status });
      }
      registry.checkIdle();
    })();
  }

  /**
   * The client withdrew (RST_STREAM, or a closed connection) before its handshake was
   * answered: no outcome to count (the reset is counted as received), one debug record.
   */
  #cancelled(request: WebSocketRequest, client: InProcessClient, route: string): void {
    this.#context.logger.debug('tunnel', { route, path: request.path.split('?')[0], transport: request.transport, client: client.forwarded.clientAddress, end: 'cancelled by client' });
  }

  /** Completes the handshake in-process (ws negotiates and frames) and hands the socket to its handler. */
  #openInProcess(endpoint: Endpoint, route: string, request: WebSocketRequest, client: InProcessClient, key: string, fetchRequest: Request, internal: boolean): void {
    const { registry, logger } = this.#context;
    const about = { transport: request.transport, path: request.path, route, backend: 'in-process', client: client.forwarded.clientAddress } as const;
    const report = (event: Omit<TunnelEvent, 'transport' | 'path' | 'route'>) => {
      if (!internal) registry.report({ ...about, ...event });
    };
    if (client.signal.aborted) {
      registry.handshakeEnded();
      if (!internal) this.#cancelled(request, client, route);
      return registry.checkIdle();
    }
    const { socket, head, message } = client.upgrade(key);
    attachRequest(message, fetchRequest);
    const upgraded = acceptWebSocket(endpoint.server, message, socket, head, (ws) => {
      registry.handshakeEnded();
      // ws reports protocol errors (1002, 1007, 1009) as 'error' after closing; they are the peer's doing.
      ws.on('error', noop);
      keepAlive(ws, endpoint.pingIntervalMs);
      report({ outcome: 'ok' });
      registry.track(new InProcessTunnel(ws, socket), about, internal);
      endpoint.open(ws, { message, request: fetchRequest }, (err) => {
        logger.error('handler_error', { route, path: request.path.split('?')[0], message: (err as Error)?.message ?? String(err), close_code: 1011 });
      });
      socket.resume(); // an HTTP/1.1 socket was paused at the upgrade; ws reads it from here
    });
    void upgraded.then((open) => {
      if (open) return;
      registry.handshakeEnded();
      const status = socket instanceof H2UpgradedStream ? socket.answer?.status : undefined;
      report({ outcome: 'rejected', ...(status !== undefined && { status }), message: 'the WebSocket handshake was turned down in-process' });
      registry.checkIdle();
    });
  }
}

function noop(): void {}
