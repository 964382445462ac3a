import type http from 'node:http';
import type { GatewayOptions } from '../config/options.ts';
import type { RequestHead } from '../h2/field-validation.ts';
import type { H2Stream } from '../h2/stream.ts';
import { isTrustedProxy } from '../handshake/proxy-trust.ts';
import type { Logger } from '../log/logger.ts';
import { ADMIN_PATHS } from './admin.ts';
import { type FetchHandler, serveH1, serveH2 } from './fetch-adapter.ts';
import { HttpSide } from './http-side.ts';

/** Where plain requests go, besides the HTTP routes. */
export interface PlainTargets {
  /** The admin endpoints on this listener, or undefined (a separate admin listener, or this is it). */
  readonly admin: FetchHandler | undefined;
  /** The application's fetch handler (or the default 404 app). */
  readonly fetch: FetchHandler;
  readonly scheme: 'http' | 'https';
  /** `trustedProxies` in force. */
  trustedProxies(): GatewayOptions['trustedProxies'];
}

/**
 * Requests that are not WebSocket handshakes, on either transport: where each goes, and how
 * many are still being answered, which a drain waits for as for tunnels.
 */
export class PlainRequests {
  readonly #targets: PlainTargets;
  readonly #logger: Logger;
  /** HTTP upstreams and static files for plain requests (docs/http-proxy.md). */
  #http: HttpSide | undefined;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(targets: PlainTargets, logger: Logger) {
    this.#targets = targets;
    this.#logger = logger;
  }

  /** Opens the HTTP routes' static directories and upstream connections, when there are routes. */
  async start(options: GatewayOptions): Promise<void> {
    if (options.httpRoutes !== undefined && options.httpRoutes.length > 0) {
      this.#http = await HttpSide.start(options.httpRoutes, options.timeouts, this.#logger);
    }
  }

  /** The HTTP routes of a reloaded config, sharing the running upstream connections. */
  async reloaded(next: GatewayOptions): Promise<HttpSide | undefined> {
    const routes = next.httpRoutes ?? [];
    if (routes.length === 0) return undefined;
    return this.#http === undefined ? HttpSide.start(routes, next.timeouts, this.#logger) : this.#http.reloaded(routes, next.timeouts);
  }

  /** Puts reloaded HTTP routes (see `reloaded`) in force; none closes the upstream connections. */
  use(http: HttpSide | undefined): void {
    if (http === undefined) this.#http?.close();
    this.#http = http;
  }

  /** A plain request on HTTP/1.1. */
  h1(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.#serve(serveH1(req, res, this.#targets.scheme, this.#handler(req.url ?? '/', req.socket.remoteAddress, 'h1')));
  }

  /** A plain request on an HTTP/2 stream (any method but CONNECT). */
  h2(stream: H2Stream, head: RequestHead, endStream: boolean): void {
    this.#serve(serveH2(stream, head, endStream, this.#targets.scheme, this.#handler(head.path ?? '/', stream.remoteAddress, 'h2')));
  }

  /** Resolves once no plain response is still being written. */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Closes the upstream connections kept alive for reuse. */
  close(): void {
    this.#http?.close();
  }

  /**
   * Plain requests: the admin endpoints where they live on this listener, then the HTTP
   * routes (upstreams and static files), then the application.
   */
  #handler(target: string, remoteAddress: string | undefined, transport: 'h2' | 'h1'): FetchHandler {
    const { admin, scheme, fetch } = this.#targets;
    const q = target.indexOf('?');
    if (admin !== undefined && ADMIN_PATHS.has(q === -1 ? target : target.slice(0, q))) return admin;
    const peer = { clientAddress: remoteAddress ?? 'unknown', proto: scheme, transport, trustedProxy: isTrustedProxy(remoteAddress, this.#targets.trustedProxies()) };
    return this.#http?.handler(target, peer) ?? fetch;
  }

  /** Counts a plain request until its response is written: the drain waits for these as for tunnels. */
  #serve(serving: Promise<void>): void {
    this.#inFlight++;
    const done = () => {
      if (--this.#inFlight > 0) return;
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    };
    serving.then(done, done);
  }
}
