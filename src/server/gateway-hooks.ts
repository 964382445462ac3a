/**
 * What the gateway tells and asks the application: tunnel events, the authorize hook, and the
 * hooks `serve()` passes in.
 */
import type { InProcessRoute } from '../websocket/endpoint.ts';
import type { H2wsError } from '../errors.ts';
import type { Outcome } from '../tunnel/outcomes.ts';
import type { TunnelSummary } from '../tunnel/relay.ts';
import type { FetchHandler } from './fetch-adapter.ts';

/** The outcome of one WebSocket handshake, for logs and metrics. */
export interface TunnelEvent {
  /** `h2` (extended CONNECT, RFC 8441) or `h1` (Upgrade, RFC 6455). */
  readonly transport: 'h2' | 'h1';
  /** The path the client asked for. */
  readonly path: string;
  /** The matched route prefix (or Hono route pattern); undefined when nothing matched. */
  readonly route: string | undefined;
  /** What became of the handshake. */
  readonly outcome: Outcome;
  /** The HTTP status the client got, when it got one. */
  readonly status?: number;
  /** One line saying why, for failures. */
  readonly message?: string;
  /** For every outcome but "ok": the error, with its stable code and status or h2 code. */
  readonly error?: H2wsError;
}

/** An open tunnel that has ended: how, and how much it carried. */
export interface TunnelClosedEvent extends TunnelSummary {
  /** `h2` (extended CONNECT, RFC 8441) or `h1` (Upgrade, RFC 6455). */
  readonly transport: 'h2' | 'h1';
  /** The path the client asked for. */
  readonly path: string;
  /** The matched route prefix, or the Hono route pattern for a socket the app claimed. */
  readonly route: string;
  /** The client's address as h2ws saw it. */
  readonly client: string;
  /** The backend's URL, or "in-process" for a WebSocket the application handled. */
  readonly backend: string;
}

/** Where a handshake is going, for `authorize`. */
export interface AuthorizeInfo {
  /** The route prefix, or undefined when the handshake goes to the app's fetch handler. */
  readonly route: string | undefined;
  /** `h2` (extended CONNECT, RFC 8441) or `h1` (Upgrade, RFC 6455). */
  readonly transport: 'h2' | 'h1';
  /** The client's address. */
  readonly client: string;
}

/** Decides who may open a WebSocket; see {@link GatewayHooks.authorize}. */
export type AuthorizeHook = (request: Request, info: AuthorizeInfo) => boolean | void | Response | Promise<boolean | void | Response>;

/** What `serve()` takes besides the config: the application, in-process routes, logging and tunnel events. */
export interface GatewayHooks {
  /**
   * Plain HTTP requests, and WebSocket handshakes that no route takes (a Hono app claims
   * those with `upgradeWebSocket`). Default: 404 for everything.
   */
  readonly fetch?: FetchHandler;
  /** Routes handled in-process, by path prefix; they share the longest-prefix table with `options.routes`. */
  readonly inProcess?: Readonly<Record<string, InProcessRoute>>;
  /**
   * Receives each log record as one line (JSON unless `options.log.format` says "pretty"),
   * without a line feed. Default: stderr, readable when it is a terminal and JSON otherwise.
   */
  readonly log?: (line: string) => void;
  /**
   * Decides who may open a WebSocket, after the route's access rules have passed. It sees the
   * handshake as a WHATWG Request (a GET with `Upgrade: websocket` on either transport).
   * Return true (or nothing) to allow; false to deny with 403; or a Response to deny with
   * its status, headers and small body (a 401 with `www-authenticate` reaches browsers as is).
   * A 2xx Response counts as allow.
   */
  readonly authorize?: AuthorizeHook;
  /** Called once per handshake outcome. */
  readonly onTunnel?: (event: TunnelEvent) => void;
  /** Called when an open tunnel has closed on both sides. */
  readonly onTunnelClosed?: (event: TunnelClosedEvent) => void;
}
