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

/** What the forwarding fields are built from: a request's end-to-end fields, and how it came. */
export interface ForwardingSource {
  /** The request's end-to-end fields (lower-case names). */
  readonly forwardHeaders: Readonly<Record<string, string>>;
  /** The peer is in `trustedProxies`: its X-Forwarded-For, Forwarded and X-Real-IP are kept. */
  readonly trustedProxy?: boolean;
  /** The protocol the request arrived with, for Via. */
  readonly transport: 'h2' | 'h1';
}

/**
 * A request's end-to-end fields with h2ws's hop recorded: X-Forwarded-For/-Proto, Forwarded
 * (RFC 7239) and Via (RFC 9110 §7.6.3). The WebSocket bridge and the HTTP reverse proxy send
 * the same ones.
 */
export function forwardingFields(source: ForwardingSource, forwarded: ForwardedFor): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  const trusted = source.trustedProxy === true;
  const previousFor = trusted ? source.forwardHeaders['x-forwarded-for'] : undefined;
  const previousForwarded = trusted ? source.forwardHeaders.forwarded : undefined;
  const previousVia = source.forwardHeaders.via;
  for (const [name, value] of Object.entries(source.forwardHeaders)) {
    if (name === 'via' || name === 'x-forwarded-for' || name === 'forwarded' || name === 'x-forwarded-proto') continue;
    if (!trusted && CLIENT_IDENTITY.has(name)) continue;
    fields.push([name, value]);
  }
  fields.push(['x-forwarded-for', previousFor === undefined ? forwarded.clientAddress : `${previousFor}, ${forwarded.clientAddress}`]);
  // X-Forwarded-Proto is always the scheme h2ws itself was reached with.
  fields.push(['x-forwarded-proto', forwarded.proto]);
  const hop = forwardedElement(forwarded);
  fields.push(['forwarded', previousForwarded === undefined ? hop : `${previousForwarded}, ${hop}`]);
  // RFC 9110 §7.6.3: Via records the protocol the request arrived with ("2" or "1.1").
  const via = `${source.transport === 'h2' ? '2' : '1.1'} h2ws`;
  fields.push(['via', previousVia === undefined ? via : `${previousVia}, ${via}`]);
  return fields;
}

/**
 * The request fields h2ws sends the backend besides the handshake's own (lower-case names):
 * the client's offer, then its end-to-end fields with the forwarding fields (forwardingFields).
 */
export function backendFields(request: WebSocketRequest, forwarded: ForwardedFor): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  if (request.protocols.length > 0) fields.push(['sec-websocket-protocol', request.protocols.join(', ')]);
  if (request.extensions !== undefined && isSafeFieldValue(request.extensions)) fields.push(['sec-websocket-extensions', request.extensions]);
  fields.push(...forwardingFields(request, forwarded));
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
