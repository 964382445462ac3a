import { H2ErrorCode } from '../h2/error-codes.ts';
import { forwardableHeaders } from './forward-headers.ts';
import { type HeaderMap, headerValue, isSafeFieldValue, isToken, splitList } from './headers.ts';
import { normalizePath } from './path.ts';
import { type HandshakeContext, type HandshakeResult, reject } from './websocket-request.ts';

/** The only WebSocket version there is (RFC 6455 §4.1, §11.6). */
export const WEBSOCKET_VERSION = '13';

/**
 * Validates an HTTP/2 CONNECT request as an RFC 8441 WebSocket bootstrap.
 * Pure: header values in, a WebSocketRequest or a Rejection out.
 *
 * @example
 * ```ts
 * const r = validateExtendedConnect({
 *   ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https',
 *   ':authority': 'example.com', ':path': '/chat',
 * });
 * if (r.ok) console.log(r.request.path); // "/chat"
 * ```
 */
export function validateExtendedConnect(headers: HeaderMap, context: HandshakeContext = {}): HandshakeResult {
  // 1. RFC 9113 §8.5: a CONNECT without :protocol asks for a TCP tunnel. h2ws is not a
  //    forward proxy, so it answers 501 rather than opening arbitrary connections.
  const protocol = headerValue(headers, ':protocol');
  if (headers[':method'] !== 'CONNECT' || protocol === undefined) {
    return reject(501, 'plain CONNECT is not supported: h2ws only bridges WebSockets (RFC 8441 extended CONNECT)');
  }
  // 2. RFC 8441 §4: ":protocol" names the protocol to tunnel; h2ws only speaks "websocket".
  if (protocol.toLowerCase() !== 'websocket') {
    return reject(501, `:protocol "${protocol}" is not supported; use "websocket"`);
  }
  // 3. RFC 8441 §4: "On requests that contain the :protocol pseudo-header field, the :scheme
  //    and :path pseudo-header fields of the target URI MUST also be included." :authority
  //    names the target (RFC 9113 §8.5). Without them the request is malformed (§8.1.1),
  //    which is a stream error of type PROTOCOL_ERROR.
  const scheme = headerValue(headers, ':scheme');
  const path = headerValue(headers, ':path');
  const authority = headerValue(headers, ':authority');
  for (const [name, value] of [[':scheme', scheme], [':path', path], [':authority', authority]] as const) {
    if (value === undefined || value === '') {
      return reject(400, `extended CONNECT without ${name} is malformed (RFC 8441 §4)`, { h2Code: H2ErrorCode.PROTOCOL_ERROR });
    }
    // RFC 9113 §8.2.1: CR, LF or NUL in a field value makes the request malformed. h2ws
    // checks itself rather than trusting each runtime's HPACK layer to.
    if (!isSafeFieldValue(value) || /[\s]/.test(value)) {
      return reject(400, `${name} contains whitespace or control characters (RFC 9113 §8.2.1)`, { h2Code: H2ErrorCode.PROTOCOL_ERROR });
    }
  }
  if (!path!.startsWith('/')) {
    return reject(400, `:path "${path}" must start with "/"`, { h2Code: H2ErrorCode.PROTOCOL_ERROR });
  }
  // The path policy (handshake/path.ts): routing, access rules and the backend all see the
  // normalized path. What cannot be normalized safely is a 400, not a reset: the request is
  // well-formed HTTP/2, h2ws declines it.
  const normalized = normalizePath(path!);
  if (!normalized.ok) return reject(400, normalized.message);
  // 4. RFC 6455 §4.2.2 via RFC 8441 §5: a version other than 13 is refused with the version
  //    h2ws speaks. A missing version is taken as 13: Firefox has been seen to omit it.
  const version = headerValue(headers, 'sec-websocket-version');
  if (version !== undefined && version.trim() !== WEBSOCKET_VERSION) {
    return reject(400, `sec-websocket-version "${version}" is not supported; use 13`, {
      headers: { 'sec-websocket-version': WEBSOCKET_VERSION },
    });
  }
  // 5. RFC 6455 §4.1: each offered subprotocol is a token; anything else is refused, so
  //    nothing but tokens reaches the backend request.
  const protocols = splitList(headerValue(headers, 'sec-websocket-protocol'));
  const badProtocol = protocols.find((p) => !isToken(p));
  if (badProtocol !== undefined) return reject(400, `sec-websocket-protocol "${badProtocol}" is not a token (RFC 6455 §4.1)`);
  // 6. RFC 8441 §5: Sec-WebSocket-Key and -Accept are not used over HTTP/2. A key the client
  //    sends anyway is ignored; the backend gets a fresh one.
  return {
    ok: true,
    request: {
      transport: 'h2',
      authority: authority!,
      path: normalized.path,
      protocols,
      extensions: headerValue(headers, 'sec-websocket-extensions'),
      clientKey: undefined,
      forwardHeaders: forwardableHeaders(headers),
      ...(context.trustedProxy === true && { trustedProxy: true }),
    },
  };
}
