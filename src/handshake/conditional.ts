/**
 * Conditional requests for a file h2ws serves (RFC 9110 §13), pure: whether the client's
 * copy is current (304), and whether `If-Range` lets a range through.
 */
export interface Validators {
  /** A strong entity tag, quoted: `"1f-18c2a3b4c5d"`. */
  readonly etag: string;
  /** Last-Modified, to the second (HTTP dates have no finer resolution). */
  readonly lastModified: Date;
}

/**
 * RFC 9110 §13.2.2 steps 3 and 4 for GET and HEAD: If-None-Match decides when present (weak
 * comparison, §8.8.3.2, or "*"); only without it does If-Modified-Since count.
 */
export function isFresh(ifNoneMatch: string | null, ifModifiedSince: string | null, validators: Validators): boolean {
  if (ifNoneMatch !== null) {
    if (ifNoneMatch.trim() === '*') return true;
    const mine = opaque(validators.etag);
    return ifNoneMatch.split(',').some((tag) => opaque(tag.trim()) === mine);
  }
  if (ifModifiedSince !== null) {
    const since = Date.parse(ifModifiedSince);
    return !Number.isNaN(since) && validators.lastModified.getTime() <= since;
  }
  return false;
}

/**
 * RFC 9110 §13.1.5: a Range is honoured only when If-Range is absent or still matches, by
 * strong comparison for an entity tag, or an exact Last-Modified date.
 */
export function isRangeCurrent(ifRange: string | null, validators: Validators): boolean {
  if (ifRange === null) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === validators.etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === validators.lastModified.getTime();
}

/** An entity tag without its weakness marker, for weak comparison. */
function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
