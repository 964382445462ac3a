import { HOP_BY_HOP, type HeaderMap, headerValue, isSafeFieldValue, splitList } from './headers.ts';

/**
 * The field names a `Connection` header lists (RFC 9110 §7.6.1): "a proxy or gateway MUST
 * parse a received Connection header field before a message is forwarded and, for each
 * connection-option in this field, remove any header or trailer field(s) from the message
 * with the same name as the connection-option".
 */
export function connectionOptions(connection: string | undefined): ReadonlySet<string> {
  return new Set(splitList(connection, true));
}

/** Whether a field stops at this hop: hop-by-hop by definition, or named in `Connection`. */
export function isHopByHop(name: string, listed: ReadonlySet<string>): boolean {
  const lower = name.toLowerCase();
  return HOP_BY_HOP.has(lower) || listed.has(lower);
}

/**
 * A message's end-to-end fields, ready to forward (lower-case names): no pseudo-headers, no
 * hop-by-hop fields, none named in `Connection`, and none whose value carries CR, LF or NUL
 * (RFC 9110 §5.5). HTTP/2 may split `cookie` into several fields; they are joined with "; "
 * (RFC 9113 §8.2.3), every other repeated field with ", " (RFC 9110 §5.3).
 */
export function endToEndFields(headers: HeaderMap): Record<string, string> {
  const listed = connectionOptions(headerValue(headers, 'connection'));
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined || name.startsWith(':') || isHopByHop(name, listed)) continue;
    const lower = name.toLowerCase();
    const value = typeof raw === 'string' ? raw : raw.join(lower === 'cookie' ? '; ' : ', ');
    if (!isSafeFieldValue(value)) continue;
    out[lower] = value;
  }
  return out;
}

/**
 * The end-to-end fields of a response, from its raw field lines (names and values
 * alternating, as received), every line kept in order so repeated fields such as
 * `Set-Cookie` (RFC 6265 §3: never combined) arrive as they were sent.
 */
export function endToEndLines(rawHeaders: readonly string[]): Array<[string, string]> {
  let connection: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') connection = connection === undefined ? rawHeaders[i + 1]! : `${connection}, ${rawHeaders[i + 1]!}`;
  }
  const listed = connectionOptions(connection);
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (isHopByHop(name, listed) || !isSafeFieldValue(value)) continue;
    out.push([name, value]);
  }
  return out;
}
