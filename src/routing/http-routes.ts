import { prefixMatches, rewriteTarget } from './route-table.ts';

/*
 * Where plain HTTP requests go (everything that is not a WebSocket handshake): an HTTP
 * upstream, a directory of static files, or both (the file when there is one, the upstream
 * otherwise). Matched by the longest path prefix, by whole segments, as WebSocket routes are,
 * but in a table of its own: a path may have a WebSocket backend and an HTTP upstream.
 */

/** An HTTP upstream (`http://` or `https://`), parsed once from its URL. */
export interface UpstreamTarget {
  /** The upstream's URL, as configured. */
  readonly url: string;
  /** True for `https://`: h2ws connects with TLS and verifies the certificate. */
  readonly secure: boolean;
  /** The host name or IP address to connect to (an IPv6 address without brackets). */
  readonly host: string;
  /** The port to connect to (80 or 443 when the URL gives none). */
  readonly port: number;
  /** host[:port] as the URL spells it: the Host sent when `rewriteHost` is on. */
  readonly authority: string;
  /** The URL's path without a trailing slash ("" for the root). */
  readonly basePath: string;
}

/** One HTTP route: a path prefix and what serves it (docs/http-proxy.md). */
export interface HttpRoute {
  /** The path prefix, matched by whole segments; the longest match wins. */
  readonly prefix: string;
  /** The HTTP upstream for requests no static file answers. */
  readonly upstream?: UpstreamTarget;
  /** A directory whose files are served under the prefix. */
  readonly static?: string;
  /** Send the upstream's own host[:port] as Host, rather than the client's (the default). */
  readonly rewriteHost?: boolean;
}

export interface HttpMatch {
  readonly route: HttpRoute;
  /** The request target for the upstream (the prefix replaced by the upstream URL's path). */
  readonly upstreamTarget: string;
  /** The path below the prefix, for the static directory ("/" at the prefix itself). */
  readonly filePath: string;
}

/** Parses an http:// or https:// URL into an upstream; throws a plain Error naming what is wrong. */
export function parseUpstreamUrl(url: string): UpstreamTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`"${url}" is not a URL; expected http://host:port[/path]`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`"${url}" must start with http:// or https://`);
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') throw new Error(`"${url}" must not have a query, fragment or credentials`);
  const secure = u.protocol === 'https:';
  return {
    url,
    secure,
    host: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
    port: u.port === '' ? (secure ? 443 : 80) : Number(u.port),
    authority: u.host,
    basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, ''),
  };
}

export class HttpRouteTable {
  readonly routes: readonly HttpRoute[];

  constructor(routes: readonly HttpRoute[]) {
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The route for a normalized request target, or undefined. */
  match(target: string): HttpMatch | undefined {
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    for (const route of this.routes) {
      if (!prefixMatches(route.prefix, path)) continue;
      const below = route.prefix === '/' ? path : path.slice(route.prefix.replace(/\/$/, '').length);
      return {
        route,
        upstreamTarget: rewriteTarget(route.prefix, route.upstream?.basePath ?? '', target),
        filePath: below === '' ? '/' : below,
      };
    }
    return undefined;
  }
}
