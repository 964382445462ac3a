/**
 * The HPACK static table (RFC 7541 §2.3.1, Appendix A): 61 fixed entries, addressed by
 * indices 1–61. Dynamic table entries follow at 62 and up (§2.3.3).
 */

/** Appendix A, in order; position i holds index i + 1. */
const ENTRIES: readonly (readonly [name: string, value: string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** The number of static entries: dynamic indices start at STATIC_TABLE_LENGTH + 1 (§2.3.3). */
export const STATIC_TABLE_LENGTH = 61;

/** Names by index; slot 0 is unused because index 0 is not a valid index (§6.1). */
export const STATIC_NAMES: readonly string[] = ['', ...ENTRIES.map(([name]) => name)];
/** Values by index; slot 0 is unused. */
export const STATIC_VALUES: readonly string[] = ['', ...ENTRIES.map(([, value]) => value)];

/** "name\0value" → index, for the encoder's exact matches (a NUL never appears in a valid field). */
export const STATIC_EXACT: ReadonlyMap<string, number> = new Map(ENTRIES.map(([name, value], i) => [`${name}\0${value}`, i + 1]));

/** name → lowest index with that name, for the encoder's indexed names (§6.2). */
export const STATIC_NAME_INDEX: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  ENTRIES.forEach(([name], i) => {
    if (!map.has(name)) map.set(name, i + 1);
  });
  return map;
})();
