/**
 * The HPACK decoder (RFC 7541 §3, §6): one complete field block in, the fields out, the
 * dynamic table kept in step with the peer's encoder.
 *
 * Every decoding error is a connection error of type COMPRESSION_ERROR (RFC 9113 §4.3): the
 * table can no longer be trusted, so the connection must end.
 */
import { Buffer } from 'node:buffer';
import { H2ErrorCode } from '../error-codes.ts';
import { H2ConnectionError } from '../protocol-error.ts';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.ts';
import { huffmanDecode } from './huffman.ts';
import { type Cursor, decodeInteger } from './integer.ts';
import { STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from './static-table.ts';

export interface DecodedBlock {
  /** Flat pairs: name0, value0, name1, value1, … (latin1 strings, one char per octet). */
  readonly fields: string[];
  /**
   * The block's header list passed maxHeaderListSize (RFC 9113 §6.5.2). `fields` then holds
   * only the fields before the one that crossed the limit; the whole block was still decoded,
   * so the dynamic table is in step.
   */
  readonly tooLarge: boolean;
}

export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE in effect (RFC 9113 §6.5.2); default 4096. Also the table's starting size. */
  maxTableSize?: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2); default Infinity. */
  maxHeaderListSize?: number;
}

const fail = (message: string): H2ConnectionError => new H2ConnectionError(H2ErrorCode.COMPRESSION_ERROR, message);

const checkTableSize = (value: number): number => {
  // RFC 9113 §6.5.2: a SETTINGS value, so an integer from 0 to 2^32 - 1.
  if (!(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff)) {
    throw new RangeError(`maxTableSize must be an integer from 0 to 2^32-1, got ${value}`);
  }
  return value;
};

const checkListSize = (value: number): number => {
  if (!((Number.isInteger(value) && value >= 0) || value === Number.POSITIVE_INFINITY)) {
    throw new RangeError(`maxHeaderListSize must be a non-negative integer or Infinity, got ${value}`);
  }
  return value;
};

export class HpackDecoder {
  /** The dynamic table (read it, do not change it): for tests and debugging. */
  readonly table: DynamicTable;
  /** RFC 9113 §6.5.2: a field list larger than this (name + value + 32 per field) is reported as tooLarge. */
  maxHeaderListSize: number;
  #maxTableSize: number;
  /** We lowered maxTableSize below the table's size: the next block must start with a size update (§4.2). */
  #updateRequired = false;
  readonly #cursor: Cursor = { pos: 0 };

  constructor(options: HpackDecoderOptions = {}) {
    this.#maxTableSize = checkTableSize(options.maxTableSize ?? 4096);
    this.maxHeaderListSize = checkListSize(options.maxHeaderListSize ?? Number.POSITIVE_INFINITY);
    this.table = new DynamicTable(this.#maxTableSize);
  }

  /**
   * The limit a dynamic table size update may not exceed (RFC 7541 §4.2, §6.3): our
   * SETTINGS_HEADER_TABLE_SIZE once the peer has acknowledged it. Lowering it below the
   * table's current maximum obliges the peer to begin its next block with a size update.
   */
  get maxTableSize(): number {
    return this.#maxTableSize;
  }

  set maxTableSize(value: number) {
    this.#maxTableSize = checkTableSize(value);
    if (value < this.table.maxSize) this.#updateRequired = true;
  }

  /** Decodes one complete field block (the fragments of HEADERS/PUSH_PROMISE + CONTINUATION, joined). */
  decode(block: Uint8Array): DecodedBlock {
    // A Buffer view (no copy) for latin1 slicing: byte-preserving, unlike TextDecoder('latin1').
    const src = Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    const end = src.length;
    const cursor = this.#cursor;
    const table = this.table;
    const limit = this.maxHeaderListSize;
    const fields: string[] = [];
    let listSize = 0;
    let tooLarge = false;
    let fieldSeen = false;
    cursor.pos = 0;

    while (cursor.pos < end) {
      const first = src[cursor.pos]!;
      if ((first & 0xe0) === 0x20) {
        // §6.3 dynamic table size update: only at the start of a block (§4.2), within our limit.
        if (fieldSeen) throw fail('RFC 7541 §4.2: a dynamic table size update after the first field representation of a block');
        const size = decodeInteger(src, cursor, 5, end);
        if (size > this.#maxTableSize) {
          throw fail(`RFC 7541 §6.3: a dynamic table size update to ${size} exceeds the limit of ${this.#maxTableSize}`);
        }
        table.setMaxSize(size);
        this.#updateRequired = false;
        continue;
      }
      if (!fieldSeen) {
        if (this.#updateRequired) throw fail('RFC 7541 §4.2: the block does not begin with the dynamic table size update our smaller SETTINGS_HEADER_TABLE_SIZE requires');
        fieldSeen = true;
      }

      let name: string;
      let value: string;
      if (first & 0x80) {
        // §6.1 indexed field.
        const index = decodeInteger(src, cursor, 7, end);
        if (index === 0) throw fail('RFC 7541 §6.1: indexed field with index 0');
        if (index <= STATIC_TABLE_LENGTH) {
          name = STATIC_NAMES[index]!;
          value = STATIC_VALUES[index]!;
        } else {
          const at = index - STATIC_TABLE_LENGTH;
          if (at > table.length) throw fail(`RFC 7541 §2.3.3: index ${index} is beyond the static and dynamic tables`);
          name = table.name(at);
          value = table.value(at);
        }
      } else {
        // §6.2.1 with incremental indexing (01, 6-bit index); §6.2.2 without (0000) and
        // §6.2.3 never indexed (0001), both 4-bit. Never-indexed only binds re-encoders;
        // the fields come out the same.
        const incremental = (first & 0x40) !== 0;
        const index = decodeInteger(src, cursor, incremental ? 6 : 4, end);
        name = index === 0 ? this.#string(src, end) : this.#nameAt(index);
        value = this.#string(src, end);
        if (incremental) table.add(name, value);
      }

      // RFC 9113 §6.5.2 counts uncompressed octets plus 32 per field. Past the limit keep
      // decoding — the table must follow the peer's — but stop collecting.
      if (!tooLarge) {
        listSize += name.length + value.length + ENTRY_OVERHEAD;
        if (listSize > limit) tooLarge = true;
        else fields.push(name, value);
      }
    }

    if (this.#updateRequired) throw fail('RFC 7541 §4.2: the block does not begin with the dynamic table size update our smaller SETTINGS_HEADER_TABLE_SIZE requires');
    return { fields, tooLarge };
  }

  #nameAt(index: number): string {
    if (index <= STATIC_TABLE_LENGTH) return STATIC_NAMES[index]!;
    const at = index - STATIC_TABLE_LENGTH;
    if (at > this.table.length) throw fail(`RFC 7541 §2.3.3: name index ${index} is beyond the static and dynamic tables`);
    return this.table.name(at);
  }

  /** §5.2 string literal: H bit, 7-bit prefix length, then that many octets. */
  #string(src: Buffer, end: number): string {
    const cursor = this.#cursor;
    if (cursor.pos >= end) throw fail('RFC 7541 §5.2: the field block ends before a string literal');
    const huffman = (src[cursor.pos]! & 0x80) !== 0;
    const length = decodeInteger(src, cursor, 7, end);
    const start = cursor.pos;
    if (length > end - start) throw fail(`RFC 7541 §5.2: a string literal of ${length} octets overruns the field block`);
    cursor.pos = start + length;
    return huffman ? huffmanDecode(src, start, start + length) : src.toString('latin1', start, start + length);
  }
}
