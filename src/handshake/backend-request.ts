import { WEBSOCKET_VERSION } from './extended-connect.ts';
import { isSafeFieldValue } from './headers.ts';
import type { WebSocketRequest } from './websocket-request.ts';

/** Who the client is, as h2ws saw it, for X-Forwarded-For/-Proto, Forwarded (RFC 7239) and Via (RFC 9110 §7.6.3). */
export interface ForwardedFor {
  readonly clientAddress: string;
  /** "https" when the client came over TLS, else "http". */
  readonly proto: 'https' | 'http';
}

/**
 * Fields that say who the client is. A backend may trust them, so a client's own copies never
 * reach it: unless the client is a trusted proxy (`trustedProxies`), X-Forwarded-For and
 * Forwarded are replaced with h2ws's view and X-Real-IP is dropped. A trusted proxy's
 * X-Forwarded-For and Forwarded are kept and h2ws appends its hop; its X-Real-IP is kept.
 */
const CLIENT_IDENTITY: ReadonlySet<string> = new Set(['x-forwarded-for', 'forwarded', 'x-real-ip']);

/**
 * The request fields h2ws sends the backend besides the handshake's own (lower-case names):
 * the client's offer, its end-to-end fields, and X-Forwarded-For/-Proto, Forwarded and Via.
 */
export function backendFields(request: WebSocketRequest, forwarded: ForwardedFor): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  if (request.protocols.length > 0) fields.push(['sec-websocket-protocol', request.protocols.join(', ')]);
  if (request.extensions !== undefined && isSafeFieldValue(request.extensions)) fields.push(['sec-websocket-extensions', request.extensions]);
  const trusted = request.trustedProxy === true;
  const previousFor = trusted ? request.forwardHeaders['x-forwarded-for'] : undefined;
  const previousForwarded = trusted ? request.forwardHeaders.forwarded : undefined;
  const previousVia = request.forwardHeaders.via;
  for (const [name, value] of Object.entries(request.forwardHeaders)) {
    if (name === 'via' || name === 'x-forwarded-for' || name === 'forwarded') continue;
    if (!trusted && CLIENT_IDENTITY.has(name)) continue;
    fields.push([name, value]);
  }
  fields.push(['x-forwarded-for', previousFor === undefined ? forwarded.clientAddress : `${previousFor}, ${forwarded.clientAddress}`]);
  // X-Forwarded-Proto is always the scheme h2ws itself was reached with.
  fields.push(['x-forwarded-proto', forwarded.proto]);
  const hop = forwardedElement(forwarded);
  fields.push(['forwarded', previousForwarded === undefined ? hop : `${previousForwarded}, ${hop}`]);
  // RFC 9110 §7.6.3: Via records the protocol the request arrived with ("2" or "1.1").
  const via = `${request.transport === 'h2' ? '2' : '1.1'} h2ws`;
  fields.push(['via', previousVia === undefined ? via : `${previousVia}, ${via}`]);
  return fields;
}

/**
 * One RFC 7239 forwarded-element for this hop: `for=192.0.2.1;proto=https`. An IPv6 address
 * is bracketed and quoted (§6); an unknown one is "unknown" (§6.2).
 */
export function forwardedElement(forwarded: ForwardedFor): string {
  const address = forwarded.clientAddress;
  const node = address.includes(':') ? `"[${address}]"` : /^[0-9.]+$/.test(address) ? address : 'unknown';
  return `for=${node};proto=${forwarded.proto}`;
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
  for (const [name, value] of backendFields(request, forwarded)) lines.push(`${HEADER_CASE[name] ?? name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * The extended CONNECT fields for a backend that speaks RFC 8441 (§4): no key, no Upgrade;
 * `:authority` carries what Host would.
 */
export function buildBackendH2Fields(request: WebSocketRequest, forwarded: ForwardedFor): Record<string, string> {
  const fields: Record<string, string> = { 'sec-websocket-version': WEBSOCKET_VERSION };
  for (const [name, value] of backendFields(request, forwarded)) fields[name] = value;
  return fields;
}

/** The spelling the HTTP/1.1 request has always used for the fields h2ws sets itself. */
const HEADER_CASE: Readonly<Record<string, string>> = {
  'sec-websocket-protocol': 'Sec-WebSocket-Protocol',
  'sec-websocket-extensions': 'Sec-WebSocket-Extensions',
  'x-forwarded-for': 'X-Forwarded-For',
  'x-forwarded-proto': 'X-Forwarded-Proto',
  forwarded: 'Forwarded',
  via: 'Via',
};
