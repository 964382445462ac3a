import type { Duplex } from 'node:stream';
import type { AccessRule } from '../handshake/access.ts';
import { type WebSocket, WebSocketServer as WsWebSocketServer } from 'ws';
import type { UpgradeWebSocketOptions, WebSocketClaim } from './hono.ts';
import { runWebSocketEvents } from './hono.ts';
import { DEFAULT_MAX_PAYLOAD, DEFAULT_WEBSOCKET_PING_INTERVAL_MS, type WebSocketOptions } from './options.ts';
import { WebSocketStream } from './stream.ts';
import type { UpgradeMessage } from './upgrade-request.ts';

/** A handler for one WebSocket as Web Streams, with the handshake as a WHATWG Request. */
export type WebSocketStreamHandler = (socket: WebSocketStream, request: Request) => void | Promise<void>;

/** The part of ws's WebSocketServer that h2ws drives: a server created with `{ noServer: true }`. */
export interface WebSocketServerLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- ws types the request as IncomingMessage; h2ws passes its rebuilt equivalent
  /** Completes the handshake on a socket, as ws's `handleUpgrade` does. */
  handleUpgrade(request: any, socket: Duplex, head: Buffer, callback: (ws: WebSocket, request: any) => void): void;
  /** Announces a new socket, as ws's `'connection'` event. */
  emit(event: 'connection', ws: WebSocket, request: unknown): boolean;
}

/**
 * What an in-process route holds: a Web Streams handler (alone or with options), or a
 * ws-compatible server.
 */
export type InProcessRoute =
  | WebSocketStreamHandler
  | ({ readonly handler: WebSocketStreamHandler; readonly access?: AccessRule } & WebSocketOptions)
  | WebSocketServerLike;

/** A handshake on its way to an in-process handler. */
export interface InProcessUpgrade {
  /** The handshake as node's IncomingMessage shows it (rebuilt for HTTP/2). */
  readonly message: UpgradeMessage | object;
  /** The handshake as a WHATWG Request. */
  readonly request: Request;
}

/** Where an in-process WebSocket goes: the ws server that negotiates and frames it, then its handler. */
export interface Endpoint {
  readonly server: WebSocketServerLike;
  /** WebSocket-level keepalive; 0 when the handler keeps its own heartbeat (ws-compatible servers). */
  readonly pingIntervalMs: number;
  open(ws: WebSocket, upgrade: InProcessUpgrade, onFailure: (error: unknown) => void): void;
}

const REQUEST: unique symbol = Symbol('h2ws.request') as never;

/** Attaches the WHATWG Request to the message ws sees, for `handleProtocols`. */
export function attachRequest(message: object, request: Request): void {
  (message as { [REQUEST]?: Request })[REQUEST] = request;
}

function requestOf(message: unknown): Request {
  return (message as { [REQUEST]: Request })[REQUEST];
}

function wsServer(options: WebSocketOptions, pick?: (offered: Set<string>) => string | false): WsWebSocketServer {
  const { handleProtocols } = options;
  return new WsWebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
    perMessageDeflate: options.perMessageDeflate ?? false,
    ...(pick !== undefined
      ? { handleProtocols: (offered: Set<string>) => pick(offered) }
      : handleProtocols !== undefined && { handleProtocols: (offered: Set<string>, message: unknown) => handleProtocols(offered, requestOf(message)) }),
  });
}

function isServer(route: InProcessRoute): route is WebSocketServerLike {
  return typeof (route as WebSocketServerLike).handleUpgrade === 'function';
}

/** The endpoint for a route's value. */
export function routeEndpoint(route: InProcessRoute): Endpoint {
  if (isServer(route)) {
    return { server: route, pingIntervalMs: 0, open: (ws, upgrade) => route.emit('connection', ws, upgrade.message) };
  }
  const { handler, access: _access, ...options } = typeof route === 'function' ? { handler: route, access: undefined } : route;
  return {
    server: wsServer(options),
    pingIntervalMs: options.pingIntervalMs ?? DEFAULT_WEBSOCKET_PING_INTERVAL_MS,
    open(ws, upgrade, onFailure) {
      try {
        const result = handler(new WebSocketStream(ws, upgrade.request.url), upgrade.request);
        if (result instanceof Promise) result.catch((error: unknown) => failed(ws, error, onFailure));
      } catch (error) {
        failed(ws, error, onFailure);
      }
    },
  };
}

/** An exception in app code closes its socket with 1011 (RFC 6455 §7.4.1) and is reported. */
function failed(ws: WebSocket, error: unknown, onFailure: (error: unknown) => void): void {
  onFailure(error);
  if (ws.readyState === ws.OPEN) ws.close(1011, 'internal error');
}

const claimServers = new WeakMap<object, WsWebSocketServer>();
const DEFAULT_CLAIM_OPTIONS: UpgradeWebSocketOptions = {};

/** The endpoint for a handshake claimed by Hono's `upgradeWebSocket`. */
export function claimEndpoint(claim: WebSocketClaim): Endpoint {
  const options = claim.options ?? DEFAULT_CLAIM_OPTIONS;
  let server = claimServers.get(options);
  if (server === undefined) {
    // Like hono/deno: the chosen protocol, when offered, else the first one offered.
    const { protocol } = options as UpgradeWebSocketOptions;
    server = wsServer(options, (offered) => (protocol !== undefined ? (offered.has(protocol) ? protocol : false) : (offered.values().next().value ?? false)));
    claimServers.set(options, server);
  }
  return {
    server,
    pingIntervalMs: options.pingIntervalMs ?? DEFAULT_WEBSOCKET_PING_INTERVAL_MS,
    open: (ws, upgrade, onFailure) => runWebSocketEvents(ws, upgrade.request.url, claim.events, onFailure),
  };
}
