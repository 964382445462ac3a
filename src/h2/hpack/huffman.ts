/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B).
 *
 * Appendix B is a canonical Huffman code: within one code length the codes are consecutive
 * in symbol order, and each length continues from the last code of the shorter one. So the
 * lengths alone define the table; the codes are rebuilt from them below (the tests pin known
 * codes from the appendix, including EOS = 0x3fffffff).
 *
 * Decoding walks a 4-bit state machine built once from the tree (the nghttp2 approach):
 * a state is an internal node, each input nibble moves to another node and emits at most
 * one symbol, because no code is shorter than 5 bits.
 */
import { Buffer } from 'node:buffer';
import { H2ErrorCode } from '../error-codes.ts';
import { H2ConnectionError } from '../protocol-error.ts';

/** Code length in bits of symbols 0–255 and EOS (256), from Appendix B. */
// prettier-ignore
const LENGTHS = new Uint8Array([
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
]);

const EOS = 256;

/** Codes of symbols 0–256, right-aligned in `HUFFMAN_LENGTHS[sym]` bits. */
export const HUFFMAN_CODES: Uint32Array = (() => {
  const codes = new Uint32Array(257);
  const order = Array.from({ length: 257 }, (_, sym) => sym).sort((a, b) => LENGTHS[a]! - LENGTHS[b]! || a - b);
  let code = 0;
  let length = LENGTHS[order[0]!]!;
  for (const sym of order) {
    code = code * 2 ** (LENGTHS[sym]! - length);
    length = LENGTHS[sym]!;
    codes[sym] = code++;
  }
  return codes;
})();
export const HUFFMAN_LENGTHS: Uint8Array = LENGTHS;

// --- The decoding state machine ---------------------------------------------------------

/** NEXT[state * 16 + nibble]: the node reached. */
const NEXT = new Uint8Array(256 * 16);
/** EMIT[state * 16 + nibble]: the symbol completed on the way, NONE, or FAIL (EOS reached). */
const EMIT = new Int16Array(256 * 16);
/** ACCEPT[state]: the input may end here — at the root, or within at most 7 bits of the all-ones EOS prefix (§5.2). */
const ACCEPT = new Uint8Array(256);
const NONE = -1;
const FAIL = -2;

(() => {
  // The tree: internal nodes 0..255 (0 is the root); a child < 0 is the leaf -(sym + 1).
  const zero = new Int16Array(256);
  const one = new Int16Array(256);
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const length = LENGTHS[sym]!;
    const code = HUFFMAN_CODES[sym]!;
    let node = 0;
    for (let bit = length - 1; bit > 0; bit--) {
      const side = (code >>> bit) & 1 ? one : zero;
      if (side[node] === 0) side[node] = nodes++;
      node = side[node]!;
    }
    (code & 1 ? one : zero)[node] = -(sym + 1);
  }
  // Padding is the most significant bits of EOS, i.e. ones, and at most 7 of them.
  ACCEPT[0] = 1;
  for (let node = 0, depth = 1; depth <= 7; depth++) {
    node = one[node]!;
    ACCEPT[node] = 1;
  }
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let emit = NONE;
      for (let bit = 3; bit >= 0; bit--) {
        const child = ((nibble >>> bit) & 1 ? one : zero)[node]!;
        if (child >= 0) {
          node = child;
          continue;
        }
        const sym = -child - 1;
        if (sym === EOS) {
          emit = FAIL;
          break;
        }
        emit = sym;
        node = 0;
      }
      NEXT[state * 16 + nibble] = node;
      EMIT[state * 16 + nibble] = emit;
    }
  }
})();

let scratch = Buffer.allocUnsafe(256);

const fail = (message: string): H2ConnectionError => new H2ConnectionError(H2ErrorCode.COMPRESSION_ERROR, message);

/**
 * Decodes `src[start, end)` to a latin1 string (one char per octet). Throws COMPRESSION_ERROR
 * for an EOS symbol in the string, padding longer than 7 bits, or padding that is not the
 * most significant bits of EOS (all ones) — RFC 7541 §5.2.
 */
export function huffmanDecode(src: Uint8Array, start = 0, end = src.length): string {
  // Codes are at least 5 bits long, so n octets hold at most 8n/5 symbols.
  const bound = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < bound) scratch = Buffer.allocUnsafe(Math.max(bound, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let t = (state << 4) | (byte >>> 4);
    let sym = EMIT[t]!;
    if (sym >= 0) out[n++] = sym;
    else if (sym === FAIL) throw fail('RFC 7541 §5.2: a Huffman-encoded string contains the EOS symbol');
    state = NEXT[t]!;
    t = (state << 4) | (byte & 0x0f);
    sym = EMIT[t]!;
    if (sym >= 0) out[n++] = sym;
    else if (sym === FAIL) throw fail('RFC 7541 §5.2: a Huffman-encoded string contains the EOS symbol');
    state = NEXT[t]!;
  }
  if (ACCEPT[state] === 0) {
    throw fail('RFC 7541 §5.2: Huffman padding is longer than 7 bits or is not the most significant bits of EOS');
  }
  return out.toString('latin1', 0, n);
}

/** The Huffman-encoded length in octets of `s` taken as latin1 (each char's low 8 bits). */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += LENGTHS[s.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/**
 * Writes the Huffman encoding of `s` (latin1) at `out[pos]` and returns the position after
 * it; the caller reserves huffmanEncodedLength(s) octets. The last octet is padded with the
 * most significant bits of EOS, i.e. ones (§5.2).
 */
export function huffmanEncodeInto(s: string, out: Uint8Array, pos: number): number {
  // `acc` holds `nbits` (< 8 between symbols) pending bits; codes of up to 24 bits are
  // appended whole (at most 31 bits, still a positive int32), longer ones in two parts.
  let acc = 0;
  let nbits = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    const code = HUFFMAN_CODES[sym]!;
    const length = LENGTHS[sym]!;
    if (length > 24) {
      acc = (acc << (length - 16)) | (code >>> 16);
      nbits += length - 16;
      while (nbits >= 8) {
        nbits -= 8;
        out[pos++] = acc >>> nbits;
      }
      acc = ((acc & ((1 << nbits) - 1)) << 16) | (code & 0xffff);
      nbits += 16;
    } else {
      acc = (acc << length) | code;
      nbits += length;
    }
    while (nbits >= 8) {
      nbits -= 8;
      out[pos++] = acc >>> nbits;
    }
    acc &= (1 << nbits) - 1;
  }
  if (nbits > 0) out[pos++] = (acc << (8 - nbits)) | (0xff >>> nbits);
  return pos;
}

/** Huffman-encodes `s` (latin1) into a new array. */
export function huffmanEncode(s: string): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(s));
  huffmanEncodeInto(s, out, 0);
  return out;
}
