/**
 * Prefix integers (RFC 7541 §5.1): a value below 2^N - 1 fits in the N-bit prefix of the
 * first octet; otherwise the prefix is all ones and the rest follows 7 bits per octet,
 * least significant group first, the top bit of each octet saying "more follows".
 */
import { H2ErrorCode } from '../error-codes.ts';
import { H2ConnectionError } from '../protocol-error.ts';

/**
 * The largest integer accepted. §5.1 leaves the limit to the implementation; nothing in
 * HTTP/2 needs more than 2^31 - 1 (indices, string lengths, table sizes), and it keeps the
 * arithmetic in safe, exact numbers.
 */
export const MAX_HPACK_INTEGER = 0x7fff_ffff;
/** 2^31 - 1 needs at most 5 continuation octets (5 × 7 = 35 bits); more is padding or an attack. */
export const MAX_CONTINUATION_OCTETS = 5;

/** A read position shared between the decoder and these helpers, so nothing is allocated per integer. */
export interface Cursor {
  pos: number;
}

/** The number of octets `value` takes with an N-bit prefix. */
export function integerLength(value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) return 1;
  let n = 2;
  for (value -= max; value >= 0x80; value = Math.floor(value / 128)) n++;
  return n;
}

/**
 * Writes `value` with an N-bit prefix at `out[pos]`, OR-ing `flags` (the representation's
 * pattern bits above the prefix) into the first octet. Returns the position after it.
 */
export function encodeIntegerInto(out: Uint8Array, pos: number, value: number, prefixBits: number, flags: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[pos++] = flags | value;
    return pos;
  }
  out[pos++] = flags | max;
  value -= max;
  while (value >= 0x80) {
    out[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}

/** `value` with an N-bit prefix as a new array (the pattern bits left zero unless `flags` is given). */
export function encodeInteger(value: number, prefixBits: number, flags = 0): Uint8Array {
  const out = new Uint8Array(integerLength(value, prefixBits));
  encodeIntegerInto(out, 0, value, prefixBits, flags);
  return out;
}

const fail = (message: string): H2ConnectionError => new H2ConnectionError(H2ErrorCode.COMPRESSION_ERROR, message);

/**
 * Reads an integer with an N-bit prefix starting at `src[cursor.pos]` (the octet holding the
 * prefix) and not reaching `end`; advances the cursor past it. Throws COMPRESSION_ERROR when
 * the integer is truncated, exceeds MAX_HPACK_INTEGER, or uses more than
 * MAX_CONTINUATION_OCTETS continuation octets.
 */
export function decodeInteger(src: Uint8Array, cursor: Cursor, prefixBits: number, end: number = src.length): number {
  let pos = cursor.pos;
  if (pos >= end) throw fail('RFC 7541 §5.1: the field block ends inside an integer');
  const max = (1 << prefixBits) - 1;
  let value = src[pos++]! & max;
  if (value < max) {
    cursor.pos = pos;
    return value;
  }
  for (let shift = 1, count = 0; ; shift *= 128) {
    if (pos >= end) throw fail('RFC 7541 §5.1: the field block ends inside an integer');
    if (++count > MAX_CONTINUATION_OCTETS) throw fail('RFC 7541 §5.1: an integer uses more than 5 continuation octets');
    const byte = src[pos++]!;
    value += (byte & 0x7f) * shift;
    if (value > MAX_HPACK_INTEGER) throw fail('RFC 7541 §5.1: an integer exceeds 2^31 - 1');
    if ((byte & 0x80) === 0) break;
  }
  cursor.pos = pos;
  return value;
}
