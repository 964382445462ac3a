/**
 * Header helpers shared by both handshakes. Inputs are plain objects in the shape
 * `node:http` and h2ws's HTTP/2 engine hand out (lower-case names, string or string[] values).
 */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Hop-by-hop and connection-specific fields. RFC 9113 §8.2.2: an intermediary MUST NOT
 * forward these into HTTP/2, and RFC 9110 §7.6.1 says a proxy removes them before forwarding.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'upgrade',
  'trailer',
  'http2-settings',
]);

/** One value for a field: list-valued fields are joined with ", " (RFC 9110 §5.3). */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(', ');
}

/** Splits a comma-separated list into trimmed, non-empty, lower-cased-if-asked elements (RFC 9110 §5.6.1). */
export function splitList(value: string | undefined, lowerCase = false): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(lowerCase ? t.toLowerCase() : t);
  }
  return out;
}

/** RFC 9110 §5.6.2 token characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/** Field values must not carry CR, LF or NUL (RFC 9110 §5.5); such a field is dropped, never forwarded. */
export function isSafeFieldValue(s: string): boolean {
  return !/[\r\n\0]/.test(s);
}

/** The extension names in a Sec-WebSocket-Extensions value (RFC 6455 §9.1), in order. */
export function extensionNames(value: string | undefined): string[] {
  return splitList(value).map((ext) => ext.split(';')[0]!.trim().toLowerCase()).filter((n) => n !== '');
}
