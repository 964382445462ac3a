/**
 * The one request-path policy h2ws applies to WebSocket handshakes, before routing, access
 * rules and forwarding, so that what is checked is what is sent (see docs/operations.md,
 * "Request paths"). Pure: a request target in, a normalized one or a reason out.
 *
 * 1. The target must start with "/" and be valid percent-encoding (`%` and two hex digits).
 * 2. In the path (not the query), `%XX` of an unreserved character (RFC 3986 §2.3: ALPHA,
 *    DIGIT, "-", ".", "_", "~") is decoded, and the hex of every other `%XX` is upper-cased
 *    (RFC 3986 §6.2.2.1, §6.2.2.2).
 * 3. Repeated slashes collapse into one (as nginx's `merge_slashes on`).
 * 4. Dot-segments are removed (RFC 3986 §5.2.4).
 * 5. Rejected, because no normalization is safe for every backend: an encoded "/" (%2F) or
 *    "\" (%5C), a literal "\", an encoded NUL (%00), a "." or ".." segment spelt with %2E,
 *    and a ".." that would climb above the root.
 * The query (from the first "?") is kept byte for byte.
 */
export type PathResult = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly message: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;

export function normalizePath(raw: string): PathResult {
  if (!raw.startsWith('/')) return fail(`request path "${raw}" must start with "/"`);
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const query = q === -1 ? '' : raw.slice(q);
  if (path.includes('#')) return fail('request path must not contain a fragment ("#")');
  if (path.includes('\\')) return fail('request path must not contain "\\"');

  // Decode unreserved %XX segment by segment, remembering which segments had an encoded dot.
  const segments: Array<{ text: string; encodedDot: boolean }> = [];
  for (const rawSegment of path.slice(1).split('/')) {
    let text = '';
    let encodedDot = false;
    for (let i = 0; i < rawSegment.length; i++) {
      const c = rawSegment[i]!;
      if (c !== '%') {
        text += c;
        continue;
      }
      const hex = rawSegment.slice(i + 1, i + 3);
      if (!HEX2.test(hex)) return fail(`request path has invalid percent-encoding at "${rawSegment.slice(i, i + 3)}"`);
      i += 2;
      const code = parseInt(hex, 16);
      const ch = String.fromCharCode(code);
      if (code === 0x2f) return fail('request path must not contain an encoded "/" (%2F)');
      if (code === 0x5c) return fail('request path must not contain an encoded "\\" (%5C)');
      if (code === 0x00) return fail('request path must not contain an encoded NUL (%00)');
      if (UNRESERVED.test(ch)) {
        if (ch === '.') encodedDot = true;
        text += ch;
      } else {
        text += `%${hex.toUpperCase()}`;
      }
    }
    segments.push({ text, encodedDot });
  }

  // Collapse empty segments ("//"), then remove dot-segments (RFC 3986 §5.2.4). An empty last
  // segment is the trailing slash and is kept; so is the slash a trailing "." or ".." leaves.
  const out: string[] = [];
  let trailingSlash = false;
  for (let index = 0; index < segments.length; index++) {
    const { text, encodedDot } = segments[index]!;
    const last = index === segments.length - 1;
    trailingSlash = false;
    if (text === '.' || text === '..') {
      if (encodedDot) return fail('request path must not spell a "." or ".." segment with %2E');
      if (text === '..') {
        if (out.length === 0) return fail('request path must not climb above the root with ".."');
        out.pop();
      }
      trailingSlash = last;
    } else if (text === '') {
      trailingSlash = last;
    } else {
      out.push(text);
    }
  }
  return { ok: true, path: `/${out.join('/')}${trailingSlash && out.length > 0 ? '/' : ''}${query}` };
}

function fail(message: string): PathResult {
  return { ok: false, message };
}
