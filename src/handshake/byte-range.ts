/**
 * The `Range` request field for bytes (RFC 9110 §14.1.2), pure. One range is served; a
 * field h2ws does not serve (several ranges, another unit, bad syntax) is ignored, which
 * RFC 9110 §14.2 allows: the whole representation is sent with 200.
 */
export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, inclusive. */
  readonly end: number;
}

const SINGLE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/**
 * The range a `Range` value asks for in a representation of `size` bytes: a ByteRange,
 * "unsatisfiable" (answered 416), or undefined (ignored: send it all).
 *
 * @example
 * ```ts
 * parseRange('bytes=0-99', 1000);   // { start: 0, end: 99 }
 * parseRange('bytes=-100', 1000);   // { start: 900, end: 999 }
 * parseRange('bytes=2000-', 1000);  // 'unsatisfiable'
 * ```
 */
export function parseRange(value: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const m = SINGLE.exec(value);
  if (m === null) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // suffix-range: the last N bytes (§14.1.2); N = 0 selects nothing.
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  // §14.1.1: a last-pos below first-pos makes the range-spec invalid, so the field is ignored.
  if (last !== '' && end < start) return undefined;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined;
  // §14.1.2: satisfiable only if first-pos is below the length.
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}
