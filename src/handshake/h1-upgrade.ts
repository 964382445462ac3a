import { forwardableHeaders } from './forward-headers.ts';
import { WEBSOCKET_VERSION } from './extended-connect.ts';
import { type HeaderMap, headerValue, isToken, splitList } from './headers.ts';
import { normalizePath } from './path.ts';
import { type HandshakeContext, type HandshakeResult, reject } from './websocket-request.ts';

/** The HTTP/1.1 side also needs the raw field lines, to see a repeated Host. */
export interface H1HandshakeContext extends HandshakeContext {
  /** node:http's `req.rawHeaders`: names and values, alternating, as received. */
  readonly rawHeaders?: readonly string[];
}

/**
 * Validates an HTTP/1.1 opening handshake (RFC 6455 §4.2.1), step by step. Pure.
 *
 * @example
 * ```ts
 * const r = validateH1Upgrade('GET', '1.1', {
 *   host: 'example.com', upgrade: 'websocket', connection: 'Upgrade',
 *   'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13',
 * }, '/chat');
 * ```
 */
export function validateH1Upgrade(method: string, httpVersion: string, headers: HeaderMap, path: string, context: H1HandshakeContext = {}): HandshakeResult {
  // 1. "An HTTP/1.1 or higher GET request, including a Request-URI".
  if (method !== 'GET') return reject(400, `a WebSocket upgrade must use GET, not ${method} (RFC 6455 §4.2.1)`);
  if (httpVersion !== '1.1') return reject(400, `a WebSocket upgrade needs HTTP/1.1, not HTTP/${httpVersion}`);
  if (!path.startsWith('/')) return reject(400, `request target "${path}" must start with "/"`);
  // The path policy (handshake/path.ts): routing, access rules and the backend all see the
  // normalized path; what cannot be normalized safely is a 400.
  const normalized = normalizePath(path);
  if (!normalized.ok) return reject(400, normalized.message);
  // 2. "A |Host| header field containing the server's authority." RFC 9112 §3.2: a request
  //    with more than one Host field is answered 400 (node:http keeps only the first in
  //    `headers`, so the raw lines are counted).
  if (context.rawHeaders !== undefined && countFields(context.rawHeaders, 'host') > 1) {
    return reject(400, 'more than one Host header field (RFC 9112 §3.2)');
  }
  const hostField = headers.host;
  if (Array.isArray(hostField) && hostField.length > 1) return reject(400, 'more than one Host header field (RFC 9112 §3.2)');
  const host = headerValue(headers, 'host');
  if (host === undefined || host === '') return reject(400, 'a WebSocket upgrade needs a Host header (RFC 6455 §4.2.1)');
  // 3. "An |Upgrade| header field containing the value "websocket"".
  if (!splitList(headerValue(headers, 'upgrade'), true).includes('websocket')) {
    return reject(400, 'Upgrade must be "websocket" (RFC 6455 §4.2.1)');
  }
  // 4. "A |Connection| header field that includes the token "Upgrade"".
  if (!splitList(headerValue(headers, 'connection'), true).includes('upgrade')) {
    return reject(400, 'Connection must include "Upgrade" (RFC 6455 §4.2.1)');
  }
  // 5. "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded,
  //    is 16 bytes in length."
  const key = headerValue(headers, 'sec-websocket-key')?.trim();
  if (key === undefined || !isValidKey(key)) {
    return reject(400, 'Sec-WebSocket-Key must be 16 random bytes in base64 (RFC 6455 §4.2.1)');
  }
  // 6. "A |Sec-WebSocket-Version| header field, with a value of 13." Otherwise the server
  //    answers with the version it speaks (§4.2.2).
  const version = headerValue(headers, 'sec-websocket-version')?.trim();
  if (version !== WEBSOCKET_VERSION) {
    return reject(400, `Sec-WebSocket-Version must be 13, not "${version ?? ''}"`, {
      headers: { 'sec-websocket-version': WEBSOCKET_VERSION },
    });
  }
  // 7. Offered subprotocols must be tokens (RFC 6455 §4.1).
  const protocols = splitList(headerValue(headers, 'sec-websocket-protocol'));
  const badProtocol = protocols.find((p) => !isToken(p));
  if (badProtocol !== undefined) return reject(400, `Sec-WebSocket-Protocol "${badProtocol}" is not a token (RFC 6455 §4.1)`);
  return {
    ok: true,
    request: {
      transport: 'h1',
      authority: host,
      path: normalized.path,
      protocols,
      extensions: headerValue(headers, 'sec-websocket-extensions'),
      clientKey: key,
      forwardHeaders: forwardableHeaders(headers),
      ...(context.trustedProxy === true && { trustedProxy: true }),
    },
  };
}

const BASE64_16 = /^[A-Za-z0-9+/]{22}==$/;
function isValidKey(key: string): boolean {
  return BASE64_16.test(key);
}

function countFields(rawHeaders: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) n++;
  return n;
}
