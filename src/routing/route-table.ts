import type { AccessRule } from '../handshake/access.ts';

/**
 * Path-prefix routing: the longest matching prefix wins, and prefixes match whole path
 * segments ("/chat" matches "/chat", "/chat/x" and "/chat?x", not "/chatroom").
 */
export interface BackendTarget {
  /** The backend's WebSocket URL, as configured. */
  readonly url: string;
  /** `wss://`: TLS to the backend. */
  readonly secure: boolean;
  /** The backend's host name or address. */
  readonly host: string;
  /** The backend's port (80 or 443 when the URL gives none). */
  readonly port: number;
  /** The backend URL's path without a trailing slash ("" for the root). */
  readonly basePath: string;
}

/** A bridged route: a path prefix and the backend it leads to. */
export interface Route {
  /** The path prefix it matches, on whole segments. */
  readonly prefix: string;
  /** Where its tunnels go. */
  readonly backend: BackendTarget;
  /** Who may use this route (already merged with the config's default). */
  readonly access?: AccessRule;
  /** Reach the backend over HTTP/2 (RFC 8441): "prefer" (HTTP/1.1 if not offered) or "require". */
  readonly h2?: 'prefer' | 'require';
}

/** A route handled in-process rather than bridged; what handles it is opaque to routing. */
export interface LocalRoute<T> {
  readonly prefix: string;
  readonly local: T;
  readonly access?: AccessRule;
}

export interface RouteMatch {
  readonly route: Route;
  /** The request target to send to the backend. */
  readonly backendPath: string;
}

export interface LocalMatch<T> {
  readonly route: LocalRoute<T>;
}

/** Parses a ws:// or wss:// URL into a target; throws a plain Error naming what is wrong. */
export function parseBackendUrl(url: string): BackendTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`"${url}" is not a URL; expected ws://host:port/path`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`"${url}" must start with ws:// or wss://`);
  if (u.search !== '' || u.hash !== '') throw new Error(`"${url}" must not have a query or fragment`);
  const secure = u.protocol === 'wss:';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return {
    url,
    secure,
    host,
    port: u.port === '' ? (secure ? 443 : 80) : Number(u.port),
    basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, ''),
  };
}

export class RouteTable<T = never> {
  readonly routes: readonly (Route | LocalRoute<T>)[];

  constructor(routes: readonly (Route | LocalRoute<T>)[]) {
    // Longest prefix first, so the first match is the most specific.
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /**
   * The route for a request target. A backend URL without a path gets the client's target
   * unchanged; one with a path gets that path in place of the matched prefix (like a proxy
   * with a rewrite).
   */
  match(target: string): RouteMatch | ([T] extends [never] ? never : LocalMatch<T>) | undefined {
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    for (const route of this.routes) {
      if (!prefixMatches(route.prefix, path)) continue;
      if ('local' in route) return { route } as LocalMatch<T> as never;
      return { route, backendPath: rewriteTarget(route.prefix, route.backend.basePath, target) };
    }
    return undefined;
  }
}

/**
 * The target to send upstream: unchanged when the upstream URL has no path, else with that
 * path in place of the matched prefix ("/chat/x?y" under "/chat" to ws://b/room: "/room/x?y").
 */
export function rewriteTarget(prefix: string, basePath: string, target: string): string {
  if (basePath === '') return target;
  const rest = target.slice(prefix === '/' ? 0 : prefix.replace(/\/$/, '').length);
  return basePath + (rest === '' || rest.startsWith('?') ? rest : rest.startsWith('/') ? rest : `/${rest}`);
}

/** Whether a route prefix covers a path, by whole segments. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/' ) return true;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === p || path.startsWith(`${p}/`);
}
