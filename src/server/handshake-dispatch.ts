import type http from 'node:http';
import type net from 'node:net';
import type { RequestHead } from '../h2/field-validation.ts';
import type { H2Stream } from '../h2/stream.ts';
import { generateKey } from '../handshake/accept.ts';
import { checkAccess } from '../handshake/access.ts';
import type { ResponseFields } from '../handshake/client-response.ts';
import { validateExtendedConnect } from '../handshake/extended-connect.ts';
import { validateH1Upgrade } from '../handshake/h1-upgrade.ts';
import { splitList } from '../handshake/headers.ts';
import { isTrustedProxy } from '../handshake/proxy-trust.ts';
import type { WebSocketRequest } from '../handshake/websocket-request.ts';
import type { Logger } from '../log/logger.ts';
import { REFUSED } from '../tunnel/outcomes.ts';
import { refusalFrom } from './app-refusal.ts';
import { h1Client, h2Client, type InProcessClient, refuseH1, respondH2 } from './client-handles.ts';
import type { ConfigInForce } from './config-in-force.ts';
import type { FetchHandler } from './fetch-adapter.ts';
import type { AuthorizeHook } from './gateway-hooks.ts';
import type { HandshakeTargets } from './handshake-targets.ts';
import type { TunnelRegistry } from './tunnel-registry.ts';
import { upgradeFetchRequest } from '../websocket/upgrade-request.ts';

/** What admitting a handshake needs. */
export interface DispatchContext {
  readonly config: ConfigInForce;
  readonly registry: TunnelRegistry;
  readonly targets: HandshakeTargets;
  /** The admin endpoints on this listener, whose status page has its own WebSocket; or undefined. */
  readonly admin: FetchHandler | undefined;
  /** A fetch handler of the application's own, which may claim WebSocket handshakes no route takes. */
  readonly appTakesWebSockets: boolean;
  readonly authorize: AuthorizeHook | undefined;
  readonly scheme: 'http' | 'https';
  readonly logger: Logger;
  /** True once the gateway drains: new handshakes are refused. */
  draining(): boolean;
}

/**
 * WebSocket handshakes on either transport, an HTTP/2 extended CONNECT (RFC 8441 §4) or an
 * HTTP/1.1 Upgrade (RFC 6455 §4.2): admitted under the tunnel limit, validated, checked against
 * the access rules and the authorize hook, then sent where their route says.
 */
export class HandshakeDispatch {
  readonly #context: DispatchContext;

  constructor(context: DispatchContext) {
    this.#context = context;
  }

  /** An extended CONNECT stream. */
  extendedConnect(stream: H2Stream, head: RequestHead): void {
    const { config, registry } = this.#context;
    const path = head.path ?? '';
    const peerAddress = stream.remoteAddress ?? 'unknown';
    // Over the limit: refuse before any work, so the client may retry (RFC 9113 §8.7).
    if (registry.open >= config.options.limits.maxTunnels || this.#context.draining()) {
      const route = config.routes.match(path)?.route.prefix;
      stream.reset(REFUSED.h2Code);
      registry.report({ transport: 'h2', client: peerAddress, path, route, outcome: 'refused', message: 'tunnel limit reached', h2Code: REFUSED.h2Code });
      return;
    }
    const checked = validateExtendedConnect(head.headers, { trustedProxy: isTrustedProxy(stream.remoteAddress, config.options.trustedProxies) });
    if (!checked.ok) {
      const { rejection } = checked;
      if (rejection.h2Code !== undefined) stream.reset(rejection.h2Code);
      else respondH2(stream, rejection.status, rejection.headers ?? {}, `${rejection.message}\n`);
      registry.report({ transport: 'h2', client: peerAddress, path, route: undefined, outcome: rejection.outcome, status: rejection.status, message: rejection.message, ...(rejection.h2Code !== undefined && { h2Code: rejection.h2Code }) });
      return;
    }
    this.#open(checked.request, h2Client(stream, checked.request, { secure: this.#context.scheme === 'https', closeGraceMs: config.options.timeouts.closeGraceMs }));
  }

  /** An HTTP/1.1 request with `Upgrade`; the socket is ours from here on. */
  upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const { config, registry } = this.#context;
    socket.on('error', noop);
    socket.pause();
    socket.setNoDelay(true);
    const path = req.url ?? '';
    const peerAddress = socket.remoteAddress ?? 'unknown';
    const refuse = (status: number, headers: ResponseFields, body: Uint8Array | string) => refuseH1(socket, status, headers, body);
    if (!splitList(req.headers.upgrade, true).includes('websocket')) {
      refuse(400, {}, `upgrade to "${req.headers.upgrade}" is not supported; h2ws upgrades to websocket only\n`);
      registry.report({ transport: 'h1', client: peerAddress, path, route: undefined, outcome: 'rejected', status: 400 });
      return;
    }
    if (registry.open >= config.options.limits.maxTunnels || this.#context.draining()) {
      refuse(REFUSED.h1Status, { 'retry-after': '1' }, 'tunnel limit reached; retry later\n');
      registry.report({ transport: 'h1', client: peerAddress, path, route: config.routes.match(path)?.route.prefix, outcome: 'refused', status: REFUSED.h1Status });
      return;
    }
    const checked = validateH1Upgrade(req.method ?? '', req.httpVersion, req.headers, path, { rawHeaders: req.rawHeaders, trustedProxy: isTrustedProxy(socket.remoteAddress, config.options.trustedProxies) });
    if (!checked.ok) {
      const { rejection } = checked;
      refuse(rejection.status, rejection.headers ?? {}, `${rejection.message}\n`);
      registry.report({ transport: 'h1', client: peerAddress, path, route: undefined, outcome: rejection.outcome, status: rejection.status, message: rejection.message });
      return;
    }
    this.#open(checked.request, h1Client(req, socket, head, checked.request));
  }

  /**
   * Routes a validated handshake: bridged to a backend, handled in-process, or offered to
   * the application's fetch handler. The handshake counts toward the limit meanwhile.
   */
  #open(request: WebSocketRequest, client: InProcessClient): void {
    const { config, registry, targets, admin, authorize, logger } = this.#context;
    if (admin !== undefined && request.path.split('?')[0] === STATUS_SOCKET_PATH) {
      targets.offerToApp(request, client, admin, true, generateKey(), undefined);
      return;
    }
    const match = config.routes.match(request.path);
    if (match === undefined && !this.#context.appTakesWebSockets) {
      client.refuse(404, {}, `no route for ${request.path.split('?')[0]}\n`);
      registry.report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route: undefined, outcome: 'rejected', status: 404 });
      return;
    }
    const route = match?.route.prefix;
    const { options } = config;
    // Access rules first (RFC 6455 §10.2: the server decides from Origin), then the app's hook.
    const denied = checkAccess(match === undefined ? options.access : (match.route.access ?? ('local' in match.route ? options.access : undefined)), request);
    if (denied !== undefined) {
      this.#deny(request, client, route, denied.status, denied.headers, `${denied.message}\n`);
      return;
    }
    if (authorize === undefined) {
      targets.route(request, client, match, undefined);
      return;
    }
    const key = request.clientKey ?? generateKey();
    let fetchRequest: Request;
    try {
      fetchRequest = upgradeFetchRequest(request, key, this.#context.scheme, client.signal);
    } catch {
      this.#deny(request, client, route, 400, {}, 'the request target is not a valid URL\n', 'rejected');
      return;
    }
    registry.handshakeStarted();
    void (async () => {
      let verdict: boolean | void | Response;
      try {
        verdict = await authorize(fetchRequest, { route, transport: request.transport, client: client.forwarded.clientAddress });
      } catch (err) {
        logger.error('authorize_error', { path: request.path.split('?')[0], message: (err as Error)?.message ?? String(err) });
        verdict = new Response('internal error\n', { status: 500 });
      }
      registry.handshakeEnded();
      if (client.signal.aborted) return registry.checkIdle();
      if (verdict === false) {
        this.#deny(request, client, route, 403, {}, 'forbidden\n');
      } else if (verdict instanceof Response && (verdict.status < 200 || verdict.status > 299)) {
        const { headers, body } = await refusalFrom(verdict);
        this.#deny(request, client, route, verdict.status, headers, body, verdict.status >= 500 ? 'rejected' : 'forbidden');
      } else {
        targets.route(request, client, match, fetchRequest);
      }
      registry.checkIdle();
    })();
  }

  /** Turns a handshake down before any backend work: 401/403 are "forbidden" in reports. */
  #deny(request: WebSocketRequest, client: InProcessClient, route: string | undefined, status: number, headers: ResponseFields, body: Uint8Array | string, outcome: 'forbidden' | 'rejected' = 'forbidden'): void {
    client.refuse(status, headers, body);
    this.#context.registry.report({ transport: request.transport, client: client.forwarded.clientAddress, path: request.path, route, outcome, status, message: typeof body === 'string' ? body.trim() : `${status}` });
  }
}

/** The status page's WebSocket. */
const STATUS_SOCKET_PATH = '/status/ws';

function noop(): void {}
