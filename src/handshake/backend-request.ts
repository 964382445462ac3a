import { WEBSOCKET_VERSION } from './extended-connect.ts';
import { isSafeFieldValue } from './headers.ts';
import type { WebSocketRequest } from './websocket-request.ts';

/** Who the client is, as h2ws saw it, for X-Forwarded-For/-Proto and Via (RFC 9110 §7.6.3). */
export interface ForwardedFor {
  readonly clientAddress: string;
  /** "https" when the client came over TLS, else "http". */
  readonly proto: 'https' | 'http';
}

/**
 * The HTTP/1.1 opening handshake h2ws sends to the backend (RFC 6455 §4.1), as one string
 * to write in one go. The client's offer is forwarded; the key is h2ws's own.
 */
export function buildBackendRequest(
  request: WebSocketRequest,
  backendPath: string,
  key: string,
  forwarded: ForwardedFor,
): string {
  const lines = [
    `GET ${backendPath} HTTP/1.1`,
    // RFC 6455 §4.1 step 4 and RFC 9110 §7.2: Host names the authority the client asked for.
    `Host: ${request.authority}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    `Sec-WebSocket-Version: ${WEBSOCKET_VERSION}`,
  ];
  if (request.protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${request.protocols.join(', ')}`);
  if (request.extensions !== undefined && isSafeFieldValue(request.extensions)) {
    lines.push(`Sec-WebSocket-Extensions: ${request.extensions}`);
  }
  const previousFor = request.forwardHeaders['x-forwarded-for'];
  const previousVia = request.forwardHeaders.via;
  for (const [name, value] of Object.entries(request.forwardHeaders)) {
    if (name === 'x-forwarded-for' || name === 'via') continue;
    lines.push(`${name}: ${value}`);
  }
  lines.push(`X-Forwarded-For: ${previousFor === undefined ? forwarded.clientAddress : `${previousFor}, ${forwarded.clientAddress}`}`);
  lines.push(`X-Forwarded-Proto: ${forwarded.proto}`);
  // RFC 9110 §7.6.3: Via records the protocol the request arrived with ("2" or "1.1").
  const via = `${request.transport === 'h2' ? '2' : '1.1'} h2ws`;
  lines.push(`Via: ${previousVia === undefined ? via : `${previousVia}, ${via}`}`);
  return lines.join('\r\n') + '\r\n\r\n';
}
