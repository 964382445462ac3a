import { computeAccept } from './accept.ts';
import { extensionNames, type HeaderMap, headerValue, splitList } from './headers.ts';

/**
 * An HTTP/1.1 response head, parsed. Field names are lower-case; repeated fields are joined
 * with ", " except Set-Cookie, which stays a list (RFC 9110 §5.3).
 */
export interface ResponseHead {
  /** The status code. */
  readonly status: number;
  /** The reason phrase. */
  readonly reason: string;
  /** The fields, by lower-case name. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** Bytes the head took, including the blank line; what follows belongs to the body or the tunnel. */
  readonly length: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Parses a response head from the bytes received so far. Returns `undefined` while the head
 * is incomplete, or an Error when the bytes are not an HTTP/1.1 response.
 */
export function parseResponseHead(bytes: Uint8Array): ResponseHead | Error | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = buf.indexOf(HEAD_END);
  if (end === -1) return undefined;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (statusLine === null) return new Error(`backend sent "${lines[0]!.slice(0, 60)}", not an HTTP/1.1 status line`);
  const headers: Record<string, string | string[]> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return new Error(`backend sent a malformed header line "${line.slice(0, 60)}"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const previous = headers[name];
    if (name === 'set-cookie') headers[name] = previous === undefined ? [value] : [...(previous as string[]), value];
    else headers[name] = previous === undefined ? value : `${previous as string}, ${value}`;
  }
  return { status: Number(statusLine[1]), reason: statusLine[2] ?? '', headers, length: end + HEAD_END.length };
}

/** What the backend agreed to, once its 101 is verified. */
export interface Negotiated {
  /** The subprotocol the backend chose (`Sec-WebSocket-Protocol`), if any. */
  readonly protocol: string | undefined;
  /** The extensions the backend agreed to (`Sec-WebSocket-Extensions`), if any. */
  readonly extensions: string | undefined;
}

/** The verdict on a backend's 101: what was negotiated, or why the tunnel fails (502). */
export type UpgradeVerdict =
  | { readonly ok: true; readonly negotiated: Negotiated }
  | { readonly ok: false; readonly outcome: 'bad_accept' | 'bad_subprotocol' | 'bad_response'; readonly message: string };

/**
 * Checks a backend's 101 as a client must (RFC 6455 §4.1, "the client MUST validate the
 * server's response as follows"). Any failure means "_Fail the WebSocket Connection_": the
 * client of h2ws gets 502 and never sees the bogus upgrade.
 */
export function verifyUpgradeResponse(
  head: ResponseHead,
  offer: { key: string; protocols: readonly string[]; extensions: string | undefined },
): UpgradeVerdict {
  // 1. "If the status code received from the server is not 101, the client handles the
  //    response per HTTP procedures." The caller forwards such responses; this sees only 101.
  // 2. "If the response lacks an |Upgrade| header field or the |Upgrade| header field contains
  //    a value that is not an ASCII case-insensitive match for the value "websocket"".
  const h: HeaderMap = head.headers;
  if (!splitList(headerValue(h, 'upgrade'), true).includes('websocket')) {
    return { ok: false, outcome: 'bad_response', message: 'backend 101 lacks "Upgrade: websocket"' };
  }
  // 3. "If the response lacks a |Connection| header field or the |Connection| header field
  //    doesn't contain a token that is an ASCII case-insensitive match for the value "Upgrade"".
  if (!splitList(headerValue(h, 'connection'), true).includes('upgrade')) {
    return { ok: false, outcome: 'bad_response', message: 'backend 101 lacks "Connection: Upgrade"' };
  }
  // 4. "If the response lacks a |Sec-WebSocket-Accept| header field or the
  //    |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of ...".
  if (headerValue(h, 'sec-websocket-accept')?.trim() !== computeAccept(offer.key)) {
    return { ok: false, outcome: 'bad_accept', message: 'backend 101 has a wrong Sec-WebSocket-Accept' };
  }
  return verifyNegotiation(h, offer);
}

/**
 * Steps 5 and 6 of RFC 6455 §4.1's checks, the ones RFC 8441 §5 keeps over HTTP/2 (where
 * there is no Upgrade, Connection or Sec-WebSocket-Accept): the server may only pick from
 * what was offered.
 */
export function verifyNegotiation(h: HeaderMap, offer: { protocols: readonly string[]; extensions: string | undefined }): UpgradeVerdict {
  // 5. "If the response includes a |Sec-WebSocket-Extensions| header field and this header
  //    field indicates the use of an extension that was not present in the client's handshake".
  const offered = new Set(extensionNames(offer.extensions));
  const accepted = headerValue(h, 'sec-websocket-extensions');
  for (const name of extensionNames(accepted)) {
    if (!offered.has(name)) {
      return { ok: false, outcome: 'bad_subprotocol', message: `backend accepted extension "${name}" that the client did not offer` };
    }
  }
  // 6. "If the response includes a |Sec-WebSocket-Protocol| header field and this header field
  //    indicates the use of a subprotocol that was not present in the client's handshake".
  const protocol = headerValue(h, 'sec-websocket-protocol')?.trim();
  if (protocol !== undefined && protocol !== '' && !offer.protocols.includes(protocol)) {
    return { ok: false, outcome: 'bad_subprotocol', message: `backend chose subprotocol "${protocol}" that the client did not offer` };
  }
  return {
    ok: true,
    negotiated: {
      protocol: protocol === '' ? undefined : protocol,
      extensions: accepted === undefined || accepted.trim() === '' ? undefined : accepted.trim(),
    },
  };
}
