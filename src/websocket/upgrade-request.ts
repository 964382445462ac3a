import { WEBSOCKET_VERSION } from '../handshake/extended-connect.ts';
import type { WebSocketRequest } from '../handshake/websocket-request.ts';

/** Who is on the other end, as an HTTP/1.1 server's `req.socket` would say. */
export interface PeerInfo {
  readonly remoteAddress: string | undefined;
  readonly remotePort?: number | undefined;
  /** The client reached h2ws over TLS. */
  readonly encrypted: boolean;
}

/**
 * The parts of node's `http.IncomingMessage` that WebSocket handler code reads: method, url,
 * headers and socket. Over HTTP/2 the handshake is rebuilt as the HTTP/1.1 upgrade it stands for.
 */
export interface UpgradeMessage {
  readonly method: 'GET';
  readonly url: string;
  readonly httpVersion: string;
  readonly headers: Record<string, string>;
  readonly socket: PeerInfo & { readonly authorized?: boolean };
}

/**
 * RFC 8441 §5 in reverse: the HTTP/1.1 `Upgrade: websocket` request an extended CONNECT
 * stands for. `:authority` becomes Host, and `key` fills Sec-WebSocket-Key, which HTTP/2
 * does not carry, so that code written for RFC 6455 §4.2.1 accepts it unchanged.
 */
export function upgradeFields(request: WebSocketRequest, key: string): Record<string, string> {
  const fields: Record<string, string> = {
    host: request.authority,
    ...request.forwardHeaders,
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-key': key,
    'sec-websocket-version': WEBSOCKET_VERSION,
  };
  if (request.protocols.length > 0) fields['sec-websocket-protocol'] = request.protocols.join(', ');
  if (request.extensions !== undefined) fields['sec-websocket-extensions'] = request.extensions;
  return fields;
}

/** The handshake as node's IncomingMessage would present it, for ws's `handleUpgrade`. */
export function upgradeMessage(request: WebSocketRequest, key: string, peer: PeerInfo): UpgradeMessage {
  return { method: 'GET', url: request.path, httpVersion: request.transport === 'h2' ? '2.0' : '1.1', headers: upgradeFields(request, key), socket: peer };
}

/**
 * The handshake as a WHATWG Request (GET with `Upgrade: websocket`), the shape Hono routes
 * and `fetch` handlers expect: `app.get('/ws', upgradeWebSocket(...))` matches it on either
 * transport.
 */
export function upgradeFetchRequest(request: WebSocketRequest, key: string, scheme: 'http' | 'https', signal?: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(upgradeFields(request, key))) {
    if (name !== 'host') headers.set(name, value);
  }
  return new Request(`${scheme}://${request.authority}${request.path}`, { method: 'GET', headers, ...(signal && { signal }) });
}
