import { describe, expect, test } from 'vitest';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import { type DecodedBlock, HpackDecoder } from '../../src/h2/hpack/decoder.ts';
import { HpackEncoder } from '../../src/h2/hpack/encoder.ts';
import { H2ConnectionError } from '../../src/h2/protocol-error.ts';
import { mulberry32 } from '../helpers/prng.ts';


const TABLE_SIZES = [0, 64, 256, 4096];
const LIST_SIZES = [Number.POSITIVE_INFINITY, 100, 1000];

interface Tally {
  ok: number;
  errors: number;
  tooLarge: number;
}

/**
 * Decodes one block and checks the invariants: only COMPRESSION_ERROR connection errors
 * escape; the table stays within its limits; the collected fields stay within the list size.
 * Returns whether the decoder is still usable (after an error the connection would end).
 */
function decodeChecked(decoder: HpackDecoder, block: Uint8Array, tally: Tally): boolean {
  let decoded: DecodedBlock;
  try {
    decoded = decoder.decode(block);
  } catch (error) {
    if (!(error instanceof H2ConnectionError) || error.h2Code !== H2ErrorCode.COMPRESSION_ERROR) {
      throw new Error(`unexpected ${String(error)} for block ${Buffer.from(block).toString('hex')}`, { cause: error });
    }
    tally.errors++;
    expect(decoder.table.size).toBeLessThanOrEqual(decoder.maxTableSize);
    return false;
  }
  tally.ok++;
  if (decoded.tooLarge) tally.tooLarge++;
  expect(decoder.table.size).toBeLessThanOrEqual(decoder.table.maxSize);
  expect(decoder.table.maxSize).toBeLessThanOrEqual(decoder.maxTableSize);
  expect(decoded.fields.length % 2).toBe(0);
  let listSize = 0;
  for (let i = 0; i < decoded.fields.length; i += 2) listSize += decoded.fields[i]!.length + decoded.fields[i + 1]!.length + 32;
  expect(listSize).toBeLessThanOrEqual(decoder.maxHeaderListSize);
  // Without the flag the list is complete; with it, collection stopped at the limit.
  if (!decoded.tooLarge) expect(decoded.fields.length).toBeLessThanOrEqual(2 * block.length);
  return true;
}

describe('HPACK decoder fuzz (seeded, deterministic)', () => {
  test('3,000 random blocks: nothing but COMPRESSION_ERROR escapes, limits hold', () => {
    const random = mulberry32(0x68327773);
    const int = (n: number): number => Math.floor(random() * n);
    const tally: Tally = { ok: 0, errors: 0, tooLarge: 0 };
    let decoder = new HpackDecoder();
    for (let i = 0; i < 3000; i++) {
      if (i % 50 === 0) {
        decoder = new HpackDecoder({ maxTableSize: TABLE_SIZES[int(4)]!, maxHeaderListSize: LIST_SIZES[int(3)]! });
      }
      const block = new Uint8Array(int(48));
      for (let j = 0; j < block.length; j++) {
        // Lean toward octets that start valid representations, so more of each block is read.
        const r = random();
        block[j] = r < 0.2 ? 0x80 | int(70) : r < 0.3 ? 0x40 | int(4) : r < 0.35 ? 0x20 | int(32) : r < 0.45 ? int(16) : int(256);
      }
      if (!decodeChecked(decoder, block, tally)) {
        decoder = new HpackDecoder({ maxTableSize: TABLE_SIZES[int(4)]!, maxHeaderListSize: LIST_SIZES[int(3)]! });
      }
    }
    expect(tally.ok + tally.errors).toBe(3000);
    expect(tally.ok).toBeGreaterThan(0);
    expect(tally.errors).toBeGreaterThan(0);
  });

  test('3,000 mutations of valid encoder output: nothing but COMPRESSION_ERROR escapes, limits hold', () => {
    const random = mulberry32(7541);
    const int = (n: number): number => Math.floor(random() * n);
    const names = [':status', ':method', ':path', ':authority', 'content-type', 'cookie', 'authorization', 'date', 'x-a', 'x-b', 'x-long-custom-name'];
    const randomValue = (): string => {
      let s = '';
      const n = random() < 0.1 ? int(400) : int(24);
      for (let i = 0; i < n; i++) s += String.fromCharCode(random() < 0.9 ? 0x20 + int(95) : int(256));
      return s;
    };
    const randomFields = (): string[] => {
      const fields: string[] = [];
      for (let i = int(12); i > 0; i--) fields.push(names[int(names.length)]!, random() < 0.3 ? 'same' : randomValue());
      return fields;
    };
    const mutate = (input: Uint8Array): Uint8Array => {
      let bytes = Array.from(input);
      for (let n = 1 + int(3); n > 0; n--) {
        const at = int(bytes.length + 1);
        switch (int(7)) {
          case 0: // flip a bit
            if (bytes.length > 0) bytes[at % bytes.length]! ^= 1 << int(8);
            break;
          case 1: // replace an octet
            if (bytes.length > 0) bytes[at % bytes.length] = int(256);
            break;
          case 2: // truncate
            bytes = bytes.slice(0, at);
            break;
          case 3: // insert an octet, often one that opens a representation or a size update
            bytes.splice(at, 0, [0x20, 0x3f, 0x80, 0xff, 0x40, 0x10, int(256)][int(7)]!);
            break;
          case 4: // delete a run
            bytes.splice(at, 1 + int(4));
            break;
          case 5: // duplicate a run
            bytes.splice(at, 0, ...bytes.slice(int(bytes.length + 1), int(bytes.length + 1) + int(8)));
            break;
          default: // a length or index that lies: all ones, continuation follows
            bytes.splice(at, 0, 0x7f, 0xff, 0xff, 0xff, 0x07);
        }
      }
      return Uint8Array.from(bytes);
    };

    const tally: Tally = { ok: 0, errors: 0, tooLarge: 0 };
    for (let i = 0; i < 3000; i++) {
      const tableSize = TABLE_SIZES[int(4)]!;
      const encoder = new HpackEncoder();
      const decoder = new HpackDecoder({ maxTableSize: 4096, maxHeaderListSize: LIST_SIZES[int(3)]! });
      encoder.setMaxTableSize(tableSize);
      // Earlier blocks, decoded intact, fill the dynamic table the mutated block refers to.
      let intact = true;
      for (let k = int(3); k > 0 && intact; k--) intact = decodeChecked(decoder, encoder.encode(randomFields()), tally);
      expect(intact).toBe(true);
      decoder.maxTableSize = random() < 0.2 ? tableSize : 4096;
      decodeChecked(decoder, mutate(encoder.encode(randomFields())), tally);
    }
    expect(tally.errors).toBeGreaterThan(100);
    expect(tally.ok).toBeGreaterThan(100);
    expect(tally.tooLarge).toBeGreaterThan(0);
  });
});
