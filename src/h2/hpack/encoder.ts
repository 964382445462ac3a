/**
 * The HPACK encoder (RFC 7541 §3, §6): flat field pairs in, one field block out.
 *
 * Indexing policy, kept simple on purpose:
 * - an exact match in the static or dynamic table is sent as an indexed field (§6.1);
 * - `authorization`, `proxy-authorization`, and `cookie`/`set-cookie` values shorter than
 *   20 octets are sent "never indexed" (§6.2.3): short secrets are the ones a compression
 *   oracle can guess (§7.1.3), and the flag tells intermediaries to keep them literal too;
 * - values that change with nearly every message (`:path`, lengths, dates, validators,
 *   `location`, long `set-cookie`, request ids …; see NOT_INDEXED) are sent without
 *   indexing (§6.2.2), so they do not evict entries that would be reused;
 * - an entry larger than the whole table is sent without indexing: inserting it would only
 *   empty the table (§4.4);
 * - everything else is a literal with incremental indexing (§6.2.1), with the name indexed
 *   when the static table, or else the dynamic table, has it.
 * A string is Huffman-coded only when that is strictly shorter (§5.2).
 *
 * Lookups are Maps from "name\0value" and from name to the insertion sequence number of the
 * newest dynamic entry, cleaned up on eviction: O(1) per field, no table scans.
 */
import { DynamicTable, entrySize } from './dynamic-table.ts';
import { huffmanEncodedLength, huffmanEncodeInto } from './huffman.ts';
import { encodeIntegerInto } from './integer.ts';
import { STATIC_EXACT, STATIC_NAME_INDEX, STATIC_TABLE_LENGTH } from './static-table.ts';

/** RFC 9113 §6.5.2: SETTINGS_HEADER_TABLE_SIZE starts at 4096 on both ends. */
const PROTOCOL_INITIAL_TABLE_SIZE = 4096;

/** §6.2.3 always. */
const NEVER_INDEXED = new Set(['authorization', 'proxy-authorization']);
/** §6.2.3 when the value is shorter than SHORT_SECRET octets (§7.1.3: short values are guessable). */
const SECRET_WHEN_SHORT = new Set(['cookie', 'set-cookie']);
const SHORT_SECRET = 20;
/** §6.2.2: values that churn, whose insertion would only evict useful entries. */
const NOT_INDEXED = new Set([
  ':path',
  'age',
  'content-length',
  'content-range',
  'date',
  'etag',
  'expires',
  'if-modified-since',
  'if-none-match',
  'if-unmodified-since',
  'last-modified',
  'location',
  'range',
  'set-cookie',
  'sec-websocket-accept',
  'sec-websocket-key',
  'traceparent',
  'x-request-id',
]);

export interface HpackEncoderOptions {
  /**
   * The most the encoder's dynamic table may use, whatever the peer allows; default 4096.
   * The size in use is the smaller of this and the peer's SETTINGS_HEADER_TABLE_SIZE
   * (4096 until setMaxTableSize says otherwise); a size other than 4096 is announced at
   * the start of the first block.
   */
  maxTableSize?: number;
}

const checkSize = (value: number): number => {
  if (!(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff)) {
    throw new RangeError(`a table size must be an integer from 0 to 2^32-1, got ${value}`);
  }
  return value;
};

export class HpackEncoder {
  /** The dynamic table (read it, do not change it): for tests and debugging. */
  readonly table: DynamicTable;
  readonly #cap: number;
  /** The smallest size in use since the last block, or -1 when it has not changed (§4.2). */
  #pendingMin = -1;
  /**
   * "name\0value" → sequence number of the newest dynamic entry with that field, or minus
   * the static index: one lookup per field finds either kind of exact match.
   */
  readonly #byField = new Map<string, number>(Array.from(STATIC_EXACT, ([key, index]) => [key, -index]));
  /** name → sequence number of the newest dynamic entry with that name. */
  readonly #byName = new Map<string, number>();
  #out = new Uint8Array(1024);

  constructor(options: HpackEncoderOptions = {}) {
    this.#cap = checkSize(options.maxTableSize ?? PROTOCOL_INITIAL_TABLE_SIZE);
    const inUse = Math.min(this.#cap, PROTOCOL_INITIAL_TABLE_SIZE);
    this.table = new DynamicTable(inUse, (name, value, seq) => {
      const key = `${name}\0${value}`;
      if (this.#byField.get(key) === seq) this.#byField.delete(key);
      if (this.#byName.get(name) === seq) this.#byName.delete(name);
    });
    if (inUse !== PROTOCOL_INITIAL_TABLE_SIZE) this.#pendingMin = inUse;
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2). The table shrinks at once if
   * it must (evicting); any change of the size in use is announced at the start of the next
   * block — the smallest size reached first, then the final one (§4.2, §6.3).
   */
  setMaxTableSize(size: number): void {
    const inUse = Math.min(this.#cap, checkSize(size));
    if (inUse === this.table.maxSize) return;
    this.table.setMaxSize(inUse);
    this.#pendingMin = this.#pendingMin < 0 ? inUse : Math.min(this.#pendingMin, inUse);
  }

  /** Encodes flat pairs (name0, value0, …; names already lowercase) as one field block. */
  encode(fields: readonly string[]): Uint8Array {
    if (fields.length % 2 !== 0) throw new TypeError('HpackEncoder.encode: fields must be name/value pairs');
    // Worst case: two size updates (6 octets each), and per string its octets plus a
    // 6-octet length, plus a 6-octet index per field.
    let need = 12;
    for (let i = 0; i < fields.length; i++) need += fields[i]!.length + 9;
    let out = this.#out;
    if (out.length < need) out = this.#out = new Uint8Array(Math.max(need, out.length * 2));
    let pos = 0;

    const table = this.table;
    if (this.#pendingMin >= 0) {
      if (this.#pendingMin < table.maxSize) pos = encodeIntegerInto(out, pos, this.#pendingMin, 5, 0x20);
      pos = encodeIntegerInto(out, pos, table.maxSize, 5, 0x20);
      this.#pendingMin = -1;
    }

    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      const key = `${name}\0${value}`;
      const found = this.#byField.get(key);
      if (found !== undefined) {
        // Negative: a static index; otherwise a dynamic entry's sequence number. Only fields
        // sent with incremental indexing are ever inserted, so a hit is always indexable.
        pos = encodeIntegerInto(out, pos, found < 0 ? -found : STATIC_TABLE_LENGTH + table.inserted - found, 7, 0x80);
        continue;
      }
      // 0x10: never indexed (§6.2.3), 0x00: without indexing (§6.2.2), 0x40: incremental (§6.2.1).
      const pattern =
        NEVER_INDEXED.has(name) || (SECRET_WHEN_SHORT.has(name) && value.length < SHORT_SECRET)
          ? 0x10
          : NOT_INDEXED.has(name) || entrySize(name, value) > table.maxSize
            ? 0x00
            : 0x40;

      let nameIndex = STATIC_NAME_INDEX.get(name);
      if (nameIndex === undefined) {
        const nameSeq = this.#byName.get(name);
        nameIndex = nameSeq === undefined ? 0 : STATIC_TABLE_LENGTH + table.inserted - nameSeq;
      }
      pos = encodeIntegerInto(out, pos, nameIndex, pattern === 0x40 ? 6 : 4, pattern);
      if (nameIndex === 0) pos = writeString(out, pos, name);
      pos = writeString(out, pos, value);
      if (pattern === 0x40) {
        // The name index above was resolved before this insertion, as the decoder does (§4.4).
        table.add(name, value);
        const newest = table.inserted - 1;
        this.#byField.set(key, newest);
        this.#byName.set(name, newest);
      }
    }
    return out.slice(0, pos);
  }
}

/** §5.2 string literal, Huffman-coded when that is strictly shorter; chars taken as latin1. */
function writeString(out: Uint8Array, pos: number, s: string): number {
  const huffmanLength = huffmanEncodedLength(s);
  if (huffmanLength < s.length) {
    pos = encodeIntegerInto(out, pos, huffmanLength, 7, 0x80);
    return huffmanEncodeInto(s, out, pos);
  }
  pos = encodeIntegerInto(out, pos, s.length, 7, 0);
  for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i);
  return pos;
}
