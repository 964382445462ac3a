import { type ServerOptions, WebSocketServer as WsWebSocketServer } from 'ws';
import { DEFAULT_MAX_PAYLOAD } from './options.ts';

/** ws's server options, minus the ones about listening: h2ws owns the listener. */
export type WebSocketServerOptions = Omit<ServerOptions, 'host' | 'port' | 'backlog' | 'server' | 'noServer' | 'path'>;

/**
 * A `ws` WebSocketServer that h2ws feeds: put it on a route and it emits `'connection'`
 * with a `ws` WebSocket and a request, for clients arriving over HTTP/2 extended CONNECT
 * (RFC 8441) and over HTTP/1.1 alike, so existing `ws` handler code runs unchanged.
 * A server from the `ws` package created with `{ noServer: true }` works on a route too.
 *
 * @example
 * ```ts
 * import { serve, WebSocketServer } from './mod.ts';
 *
 * const wss = new WebSocketServer();
 * wss.on('connection', (ws, req) => {
 *   ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
 * });
 * await serve({ listen: '127.0.0.1:8080', routes: { '/legacy': wss } });
 * ```
 */
export class WebSocketServer extends WsWebSocketServer {
  /** Takes ws's options, minus the listener ones: h2ws does the listening. */
  constructor(options: WebSocketServerOptions = {}) {
    super({ maxPayload: DEFAULT_MAX_PAYLOAD, ...options, noServer: true });
  }
}
