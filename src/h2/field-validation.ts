/**
 * HTTP/2 field validation (RFC 9113 §8.1.1, §8.2, §8.3, §8.5; RFC 8441 §4). Pure and sans-IO:
 * a decoded field list in, a head or a one-line reason out. The connection turns a reason
 * into a stream error of type PROTOCOL_ERROR (RFC 9113 §8.1.1).
 *
 * The input is the flat list HPACK produced, `[name0, value0, name1, value1, …]`, latin1
 * strings, not lower-cased. One pass over it checks every field and builds `headers` in the
 * shape Node's HTTP modules hand out (IncomingHttpHeaders), because the handshake code reads that.
 *
 * @example
 * ```ts
 * const r = checkRequestFields([':method', 'GET', ':scheme', 'https', ':path', '/'], { connectProtocol: false });
 * if (r.ok) console.log(r.head.path); // "/"
 * ```
 */

/** Node-style fields: lower-case names, pseudo-headers included, `set-cookie` always an array. */
export type HeaderRecord = Record<string, string | string[]>;

/** A request head as an HTTP/2 stream received it, validated (RFC 9113 §8.3.1). */
export interface RequestHead {
  /** `:method`. */
  readonly method: string;
  /** `:scheme`. */
  readonly scheme: string | undefined;
  /** `:authority`. */
  readonly authority: string | undefined;
  /** `:path`. */
  readonly path: string | undefined;
  /** `:protocol` (RFC 8441 §4), on an extended CONNECT. */
  readonly protocol: string | undefined;
  /** The declared `content-length`, if any. */
  readonly contentLength: number | undefined;
  /** The regular fields. */
  readonly headers: HeaderRecord;
}

/** A response head as an HTTP/2 stream received it, validated (RFC 9113 §8.3.2). */
export interface ResponseHead {
  /** `:status`. */
  readonly status: number;
  /** The declared `content-length`, if any. */
  readonly contentLength: number | undefined;
  /** The regular fields. */
  readonly headers: HeaderRecord;
}

export type Checked<T> = { readonly ok: true; readonly head: T } | { readonly ok: false; readonly reason: string };

/** Which field section is checked: each allows different pseudo-headers (RFC 9113 §8.3). */
const REQUEST = 0;
const RESPONSE = 1;
const TRAILERS = 2;
type Kind = typeof REQUEST | typeof RESPONSE | typeof TRAILERS;

/**
 * Field-name characters, RFC 9113 §8.2.1: nothing in 0x00-0x20, 0x41-0x5a or 0x7f-0xff, and a
 * colon only to start a pseudo-header. Uppercase gets its own class so the reason can cite
 * §8.2 ("field names MUST be converted to lowercase"). One table lookup per character.
 */
const NAME_BAD = 0;
const NAME_OK = 1;
const NAME_UPPER = 2;
const NAME_COLON = 3;
const NAME_CHAR = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) NAME_CHAR[c] = NAME_OK;
for (let c = 0x41; c <= 0x5a; c++) NAME_CHAR[c] = NAME_UPPER;
NAME_CHAR[0x3a] = NAME_COLON;

/** Bits for NUL (0x00), LF (0x0a) and CR (0x0d): never allowed in a field value (RFC 9113 §8.2.1). */
const VALUE_BAD_MASK = (1 << 0x00) | (1 << 0x0a) | (1 << 0x0d);

/** Request pseudo-headers as bits, so "seen" and "repeated" cost one integer (RFC 9113 §8.3.1, RFC 8441 §4). */
const P_METHOD = 1;
const P_SCHEME = 2;
const P_AUTHORITY = 4;
const P_PATH = 8;
const P_PROTOCOL = 16;
const P_STATUS = 32;

/** Largest content-length taken: beyond it a JS number stops counting bytes exactly. */
const MAX_LENGTH = Number.MAX_SAFE_INTEGER;

/** Checks a request field block (RFC 9113 §8.3.1, §8.5; RFC 8441 §4 when `connectProtocol`, i.e. we sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1). */
export function checkRequestFields(fields: readonly string[], options: { readonly connectProtocol: boolean }): Checked<RequestHead> {
  const headers = scan(fields, REQUEST, options.connectProtocol);
  if (typeof headers === 'string') return fail(headers);
  // Pseudo-headers are never repeated (checked in scan), so each is one string or absent.
  const method = headers[':method'] as string | undefined;
  const scheme = headers[':scheme'] as string | undefined;
  const authority = headers[':authority'] as string | undefined;
  const path = headers[':path'] as string | undefined;
  const protocol = headers[':protocol'] as string | undefined;
  // RFC 9113 §8.3.1: every request carries exactly one :method, and a method is a token (never empty).
  if (method === undefined) return fail('request without :method (RFC 9113 §8.3.1)');
  if (method === '') return fail('empty :method (RFC 9113 §8.3.1)');
  if (method === 'CONNECT') {
    if (protocol !== undefined) {
      // RFC 8441 §4: an extended CONNECT names its target URI like any request, so :scheme and
      // :path MUST be present; h2ws also needs :authority to route it. Missing → malformed.
      if (scheme === undefined || scheme === '') return fail('extended CONNECT without :scheme (RFC 8441 §4)');
      if (path === undefined || path === '') return fail('extended CONNECT without :path (RFC 8441 §4)');
      if (authority === undefined || authority === '') return fail('extended CONNECT without :authority (RFC 8441 §4)');
    } else {
      // RFC 9113 §8.5: a plain CONNECT names only host:port in :authority; :scheme and :path MUST be omitted.
      if (authority === undefined || authority === '') return fail('CONNECT without :authority (RFC 9113 §8.5)');
      if (scheme !== undefined) return fail('CONNECT with :scheme but no :protocol (RFC 9113 §8.5)');
      if (path !== undefined) return fail('CONNECT with :path but no :protocol (RFC 9113 §8.5)');
    }
  } else {
    // RFC 8441 §4: :protocol only changes the meaning of CONNECT.
    if (protocol !== undefined) return fail(`:protocol on a ${show(method)} request, only CONNECT may carry it (RFC 8441 §4)`);
    // RFC 9113 §8.3.1: all other requests MUST include exactly one :scheme and one :path.
    if (scheme === undefined) return fail('request without :scheme (RFC 9113 §8.3.1)');
    if (path === undefined) return fail('request without :path (RFC 9113 §8.3.1)');
  }
  // RFC 9113 §8.3.1: ":path MUST NOT be empty" (use "/" or "*").
  if (path === '') return fail('empty :path (RFC 9113 §8.3.1)');
  const length = headers['content-length'] as string | undefined;
  return {
    ok: true,
    head: {
      method,
      scheme,
      authority,
      path,
      protocol,
      // scan validated it as 1*DIGIT within MAX_LENGTH, so Number() is exact.
      contentLength: length === undefined ? undefined : Number(length),
      headers,
    },
  };
}

/** Checks a response field block (RFC 9113 §8.3.2). 1xx and 101 handling is the connection's. */
export function checkResponseFields(fields: readonly string[]): Checked<ResponseHead> {
  const headers = scan(fields, RESPONSE, false);
  if (typeof headers === 'string') return fail(headers);
  const status = headers[':status'] as string | undefined;
  // RFC 9113 §8.3.2: exactly one :status (repeats are caught in scan), a three-digit code;
  // RFC 9110 §15: valid codes are 100..599.
  if (status === undefined) return fail('response without :status (RFC 9113 §8.3.2)');
  if (status.length !== 3) return fail(`:status ${show(status)} is not three digits (RFC 9113 §8.3.2)`);
  const d0 = status.charCodeAt(0) - 0x30;
  const d1 = status.charCodeAt(1) - 0x30;
  const d2 = status.charCodeAt(2) - 0x30;
  if (d0 >>> 0 > 9 || d1 >>> 0 > 9 || d2 >>> 0 > 9) return fail(`:status ${show(status)} is not three digits (RFC 9113 §8.3.2)`);
  if (d0 < 1 || d0 > 5) return fail(`:status ${status} is outside 100..599 (RFC 9110 §15)`);
  const length = headers['content-length'] as string | undefined;
  return {
    ok: true,
    head: { status: d0 * 100 + d1 * 10 + d2, contentLength: length === undefined ? undefined : Number(length), headers },
  };
}

/** Checks a trailer field block: regular fields only (RFC 9113 §8.1). */
export function checkTrailerFields(fields: readonly string[]): Checked<{ readonly headers: HeaderRecord }> {
  const headers = scan(fields, TRAILERS, false);
  if (typeof headers === 'string') return fail(headers);
  return { ok: true, head: { headers } };
}

function fail(reason: string): { readonly ok: false; readonly reason: string } {
  return { ok: false, reason };
}

/**
 * The single pass: validates each name and value, the pseudo-header rules that need order
 * (§8.3), connection-specific fields (§8.2.2) and content-length (§8.1.1), and builds the
 * node-style record. Returns the record or a reason.
 */
function scan(fields: readonly string[], kind: Kind, connectProtocol: boolean): HeaderRecord | string {
  const count = fields.length;
  if ((count & 1) !== 0) return 'field list with a name and no value';
  // Null prototype: a field named "__proto__" or "constructor" is an ordinary key here.
  const headers: HeaderRecord = Object.create(null) as HeaderRecord;
  let seenPseudo = 0;
  let seenRegular = false;
  let contentLength = -1;
  for (let f = 0; f < count; f += 2) {
    const name = fields[f]!;
    const value = fields[f + 1]!;

    // --- name: RFC 9113 §8.2, §8.2.1 ---
    const nameLength = name.length;
    if (nameLength === 0) return 'empty field name (RFC 9113 §8.2.1)';
    const pseudo = name.charCodeAt(0) === 0x3a;
    if (pseudo && nameLength === 1) return 'field name ":" is a colon alone (RFC 9113 §8.2.1)';
    for (let i = pseudo ? 1 : 0; i < nameLength; i++) {
      const c = name.charCodeAt(i);
      const cls = c < 256 ? NAME_CHAR[c]! : NAME_BAD;
      if (cls === NAME_OK) continue;
      if (cls === NAME_UPPER) return `field name ${show(name)} has uppercase characters (RFC 9113 §8.2)`;
      if (cls === NAME_COLON) return `field name ${show(name)} has a colon that does not start a pseudo-header (RFC 9113 §8.2.1)`;
      return `field name ${show(name)} has a character not allowed in a name (RFC 9113 §8.2.1)`;
    }

    // --- value: RFC 9113 §8.2.1 (the value itself is never echoed: it may be a credential) ---
    const valueLength = value.length;
    if (valueLength !== 0) {
      let c = value.charCodeAt(0);
      if (c === 0x20 || c === 0x09) return `field ${show(name)} value starts with whitespace (RFC 9113 §8.2.1)`;
      c = value.charCodeAt(valueLength - 1);
      if (c === 0x20 || c === 0x09) return `field ${show(name)} value ends with whitespace (RFC 9113 §8.2.1)`;
      for (let i = 0; i < valueLength; i++) {
        c = value.charCodeAt(i);
        if (c < 0x0e && ((VALUE_BAD_MASK >>> c) & 1) !== 0) return `field ${show(name)} value contains NUL, CR or LF (RFC 9113 §8.2.1)`;
      }
    }

    if (pseudo) {
      // --- pseudo-headers: RFC 9113 §8.3 ---
      // §8.1: trailers MUST NOT include pseudo-header fields.
      if (kind === TRAILERS) return `pseudo-header ${show(name)} in trailers (RFC 9113 §8.1)`;
      // §8.3: all pseudo-headers MUST come before the regular fields.
      if (seenRegular) return `pseudo-header ${show(name)} after a regular field (RFC 9113 §8.3)`;
      let bit = 0;
      if (kind === REQUEST) {
        switch (name) {
          case ':method': bit = P_METHOD; break;
          case ':scheme': bit = P_SCHEME; break;
          case ':authority': bit = P_AUTHORITY; break;
          case ':path': bit = P_PATH; break;
          // RFC 8441 §3: :protocol exists only once we sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1;
          // otherwise it is an undefined pseudo-header like any other.
          case ':protocol': bit = connectProtocol ? P_PROTOCOL : 0; break;
        }
      } else if (name === ':status') {
        bit = P_STATUS;
      }
      // §8.3: pseudo-headers defined for responses MUST NOT appear in requests and vice versa,
      // and undefined ones MUST NOT be generated; either makes the message malformed.
      if (bit === 0) return `pseudo-header ${show(name)} is not defined for a ${kind === REQUEST ? 'request' : 'response'} (RFC 9113 §8.3)`;
      if ((seenPseudo & bit) !== 0) return `pseudo-header ${name} repeated (RFC 9113 §8.3)`;
      seenPseudo |= bit;
      headers[name] = value;
      continue;
    }

    seenRegular = true;
    switch (name) {
      // RFC 9113 §8.2.2: HTTP/2 has no connection-specific fields; their presence is malformed.
      case 'connection':
      case 'proxy-connection':
      case 'keep-alive':
      case 'transfer-encoding':
      case 'upgrade':
        return `connection-specific field ${show(name)} (RFC 9113 §8.2.2)`;
      case 'te':
        // §8.2.2: TE is allowed, but only with the value "trailers" (a case-insensitive token, RFC 9110 §10.1.4).
        if (value !== 'trailers' && value.toLowerCase() !== 'trailers') return 'te with a value other than "trailers" (RFC 9113 §8.2.2)';
        break;
      case 'content-length': {
        // Trailers cannot change framing (RFC 9110 §6.5.1): there it is an ordinary field.
        if (kind === TRAILERS) break;
        // RFC 9110 §8.6: Content-Length = 1*DIGIT. RFC 9113 §8.1.1 checks DATA against it.
        if (valueLength === 0) return 'empty content-length (RFC 9113 §8.1.1)';
        let n = 0;
        for (let i = 0; i < valueLength; i++) {
          const d = value.charCodeAt(i) - 0x30;
          if (d >>> 0 > 9) return 'content-length is not a non-negative decimal integer (RFC 9113 §8.1.1)';
          n = n * 10 + d;
          if (n > MAX_LENGTH) return 'content-length too large (RFC 9113 §8.1.1)';
        }
        if (contentLength >= 0) {
          // RFC 9110 §8.6: repeats are tolerable only if identical; keep one so the record
          // holds a parsable number rather than "42, 42".
          if (n !== contentLength) return 'content-length repeated with different values (RFC 9113 §8.1.1)';
          continue;
        }
        contentLength = n;
        break;
      }
    }

    // Node's joining rules (IncomingHttpHeaders): set-cookie is a list, cookie crumbs are
    // rejoined with "; " (RFC 9113 §8.2.3), other repeats are a list joined with ", " (RFC 9110 §5.3).
    const previous = headers[name];
    if (previous === undefined) {
      headers[name] = name === 'set-cookie' ? [value] : value;
    } else if (typeof previous !== 'string') {
      previous.push(value);
    } else {
      headers[name] = previous + (name === 'cookie' ? '; ' : ', ') + value;
    }
  }
  return headers;
}

/** A name or value for a reason string: quoted, at most 64 characters, controls and non-ASCII escaped so it stays one line. */
function show(s: string): string {
  const cut = s.length > 64 ? `${s.slice(0, 64)}…` : s;
  return `"${cut.replace(/[^\x20-\x7e…]|"|\\/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))}"`;
}
