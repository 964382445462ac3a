import { computeAccept } from './accept.ts';
import { HOP_BY_HOP, type HeaderMap, headerValue, isSafeFieldValue, splitList } from './headers.ts';
import type { Negotiated } from './backend-response.ts';

/** RFC 8441 §5: over HTTP/2 the server accepts with a 2xx; h2ws uses 200, plus what was negotiated. */
export function h2AcceptHeaders(negotiated: Negotiated): Record<string, string | number> {
  const headers: Record<string, string | number> = { ':status': 200 };
  if (negotiated.protocol !== undefined) headers['sec-websocket-protocol'] = negotiated.protocol;
  if (negotiated.extensions !== undefined) headers['sec-websocket-extensions'] = negotiated.extensions;
  return headers;
}

/** RFC 6455 §4.2.2: the 101 for an HTTP/1.1 client, with the Accept computed from its own key. */
export function h1AcceptHead(clientKey: string, negotiated: Negotiated): string {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${computeAccept(clientKey)}`,
  ];
  if (negotiated.protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${negotiated.protocol}`);
  if (negotiated.extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${negotiated.extensions}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Response fields, with Set-Cookie kept as a list (RFC 9110 §5.3). */
export type ResponseFields = Readonly<Record<string, string | readonly string[]>>;

/**
 * Response fields a backend's non-101 answer may pass on to the client: hop-by-hop fields,
 * fields the backend named in Connection (RFC 9110 §7.6.1) and framing fields are dropped
 * (RFC 9113 §8.2.2), since h2ws re-frames the body itself.
 */
export function passThroughHeaders(headers: HeaderMap): Record<string, string | readonly string[]> {
  const named = new Set(splitList(headerValue(headers, 'connection'), true));
  const out: Record<string, string | readonly string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name === 'content-length' || name === 'sec-websocket-accept') continue;
    const values = typeof value === 'string' ? [value] : value;
    if (!values.every(isSafeFieldValue)) continue;
    out[name] = value;
  }
  return out;
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 426: 'Upgrade Required', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A complete HTTP/1.1 error response, closing the connection (used on raw upgraded sockets). */
export function h1ErrorResponse(status: number, headers: ResponseFields, body: Uint8Array | string): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  const lines = [`HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}`, 'Connection: close', `Content-Length: ${payload.length}`];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of typeof value === 'string' ? [value] : value) lines.push(`${name}: ${v}`);
  }
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), payload]);
}
