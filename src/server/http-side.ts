import type { Timeouts } from '../config/options.ts';
import { normalizePath } from '../handshake/path.ts';
import type { Logger } from '../log/logger.ts';
import { type HttpRoute, HttpRouteTable } from '../routing/http-routes.ts';
import type { FetchHandler } from './fetch-adapter.ts';
import { HttpProxy, type ProxyPeer } from './http-proxy.ts';
import { StaticFiles } from './static-files.ts';

/**
 * The gateway's plain-HTTP routes (docs/http-proxy.md): each request that is not a WebSocket
 * handshake and that an HTTP route covers is answered from the route's static directory when
 * it has the file, else by its HTTP upstream.
 */
export class HttpSide {
  readonly #table: HttpRouteTable;
  readonly #files: ReadonlyMap<string, StaticFiles>;
  readonly #proxy: HttpProxy;

  private constructor(table: HttpRouteTable, files: ReadonlyMap<string, StaticFiles>, proxy: HttpProxy) {
    this.#table = table;
    this.#files = files;
    this.#proxy = proxy;
  }

  /** Opens every static directory first, so a missing one fails the start (H2WS_ERR_CONFIG). */
  static async start(routes: readonly HttpRoute[], timeouts: Timeouts, logger: Logger): Promise<HttpSide> {
    return HttpSide.#open(routes, new HttpProxy({ connectMs: timeouts.backendConnectMs, responseMs: timeouts.upstreamResponseMs }, logger));
  }

  /**
   * The same upstream connections with reloaded routes and timeouts: requests in flight keep
   * their connections, and new ones use the new routes (docs/deploy.md, "Reload").
   */
  async reloaded(routes: readonly HttpRoute[], timeouts: Timeouts): Promise<HttpSide> {
    const side = await HttpSide.#open(routes, this.#proxy);
    this.#proxy.timeouts = { connectMs: timeouts.backendConnectMs, responseMs: timeouts.upstreamResponseMs };
    return side;
  }

  static async #open(routes: readonly HttpRoute[], proxy: HttpProxy): Promise<HttpSide> {
    const files = new Map<string, StaticFiles>();
    for (const route of routes) {
      if (route.static === undefined) continue;
      files.set(route.prefix, await StaticFiles.open(route.static, route.prefix === '/' ? 'static' : `routes.${route.prefix}.static`));
    }
    return new HttpSide(new HttpRouteTable(routes), files, proxy);
  }

  /**
   * The handler for a request target, or undefined when no HTTP route covers it. The path
   * policy of WebSocket handshakes applies (handshake/path.ts): routing and the upstream see
   * the normalized path, and a path that cannot be normalized safely is a 400.
   */
  handler(target: string, peer: ProxyPeer): FetchHandler | undefined {
    const normal = normalizePath(target);
    if (!normal.ok) return () => plain(400, `${normal.message}\n`);
    const match = this.#table.match(normal.path);
    if (match === undefined) return undefined;
    const { route } = match;
    const files = this.#files.get(route.prefix);
    return async (request) => {
      const file = await files?.serve(request, match.filePath);
      if (file !== undefined) return file;
      if (route.upstream !== undefined) {
        return this.#proxy.forward({ request, upstream: route.upstream, target: match.upstreamTarget, rewriteHost: route.rewriteHost === true, peer });
      }
      // Static files only: RFC 9110 §15.5.6 names the methods that are served.
      if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return plain(404, 'not found\n');
    };
  }

  /** Closes the upstream connections kept alive for reuse. */
  close(): void {
    this.#proxy.close();
  }
}

function plain(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } });
}
