import { describe, expect, test } from 'vitest';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import { DynamicTable } from '../../src/h2/hpack/dynamic-table.ts';
import { HpackDecoder } from '../../src/h2/hpack/decoder.ts';
import { HpackEncoder } from '../../src/h2/hpack/encoder.ts';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS, huffmanDecode, huffmanEncode } from '../../src/h2/hpack/huffman.ts';
import { decodeInteger, encodeInteger } from '../../src/h2/hpack/integer.ts';
import { STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from '../../src/h2/hpack/static-table.ts';
import { H2ConnectionError } from '../../src/h2/protocol-error.ts';
import { mulberry32 } from '../helpers/prng.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
const flat = (pairs: [string, string][]): string[] => pairs.flat();

/** Decodes `block` and checks the fields, then the dynamic table (newest first) and its size. */
function step(decoder: HpackDecoder, block: string, fields: [string, string][], table: [string, string][], size: number): void {
  const decoded = decoder.decode(hex(block));
  expect(decoded.tooLarge).toBe(false);
  expect(decoded.fields).toEqual(flat(fields));
  expect(decoder.table.entries()).toEqual(table);
  expect(decoder.table.size).toBe(size);
}

/** Runs `fn`, expecting a COMPRESSION_ERROR connection error whose message cites RFC 7541. */
function expectCompressionError(fn: () => unknown): H2ConnectionError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(H2ConnectionError);
  const error = caught as H2ConnectionError;
  expect(error.h2Code).toBe(H2ErrorCode.COMPRESSION_ERROR);
  expect(error.message).toMatch(/RFC 7541 §\d/);
  return error;
}


describe('static table (RFC 7541 Appendix A)', () => {
  test('61 entries, spot-checked at both ends and in the middle', () => {
    expect(STATIC_TABLE_LENGTH).toBe(61);
    expect(STATIC_NAMES.length).toBe(62);
    expect([STATIC_NAMES[1], STATIC_VALUES[1]]).toEqual([':authority', '']);
    expect([STATIC_NAMES[2], STATIC_VALUES[2]]).toEqual([':method', 'GET']);
    expect([STATIC_NAMES[16], STATIC_VALUES[16]]).toEqual(['accept-encoding', 'gzip, deflate']);
    expect([STATIC_NAMES[32], STATIC_VALUES[32]]).toEqual(['cookie', '']);
    expect([STATIC_NAMES[55], STATIC_VALUES[55]]).toEqual(['set-cookie', '']);
    expect([STATIC_NAMES[61], STATIC_VALUES[61]]).toEqual(['www-authenticate', '']);
  });
});

describe('C.1 integer representation (RFC 7541 §5.1)', () => {
  const cases: [string, number, number, string][] = [
    ['C.1.1: 10 with a 5-bit prefix', 10, 5, '0a'],
    ['C.1.2: 1337 with a 5-bit prefix', 1337, 5, '1f9a0a'],
    ['C.1.3: 42 at an octet boundary (8-bit prefix)', 42, 8, '2a'],
  ];
  for (const [name, value, prefix, encoded] of cases) {
    test(name, () => {
      expect(toHex(encodeInteger(value, prefix))).toBe(encoded);
      const cursor = { pos: 0 };
      expect(decodeInteger(hex(encoded), cursor, prefix)).toBe(value);
      expect(cursor.pos).toBe(encoded.length / 2);
    });
  }

  test('the pattern bits above the prefix are kept out of the value', () => {
    expect(decodeInteger(hex('ea'), { pos: 0 }, 5)).toBe(10); // 111 01010
    expect(toHex(encodeInteger(1337, 5, 0xe0))).toBe('ff9a0a');
  });

  test('2^31 - 1 is the largest integer; one more is an error', () => {
    expect(decodeInteger(encodeInteger(0x7fffffff, 5), { pos: 0 }, 5)).toBe(0x7fffffff);
    expect(decodeInteger(encodeInteger(0x7fffffff, 1), { pos: 0 }, 1)).toBe(0x7fffffff);
    expectCompressionError(() => decodeInteger(encodeInteger(0x80000000, 5), { pos: 0 }, 5));
  });
});

describe('C.2 header field representations', () => {
  test('C.2.1 literal with indexing', () => {
    step(
      new HpackDecoder(),
      '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572',
      [['custom-key', 'custom-header']],
      [['custom-key', 'custom-header']],
      55,
    );
  });

  test('C.2.2 literal without indexing', () => {
    step(new HpackDecoder(), '040c 2f73 616d 706c 652f 7061 7468', [[':path', '/sample/path']], [], 0);
  });

  test('C.2.3 literal never indexed', () => {
    step(new HpackDecoder(), '1008 7061 7373 776f 7264 0673 6563 7265 74', [['password', 'secret']], [], 0);
  });

  test('C.2.4 indexed field', () => {
    step(new HpackDecoder(), '82', [[':method', 'GET']], [], 0);
  });
});

const C3_C4_FIELDS: [string, string][][] = [
  [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
  ],
  [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
    ['cache-control', 'no-cache'],
  ],
  [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':path', '/index.html'],
    [':authority', 'www.example.com'],
    ['custom-key', 'custom-value'],
  ],
];
const C3_C4_TABLES: [[string, string][], number][] = [
  [[[':authority', 'www.example.com']], 57],
  [
    [
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    110,
  ],
  [
    [
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    164,
  ],
];
const C3_BLOCKS = [
  '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  '8286 84be 5808 6e6f 2d63 6163 6865',
  '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
];
const C4_BLOCKS = [
  '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  '8286 84be 5886 a8eb 1064 9cbf',
  '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
];

describe('C.3 requests without Huffman coding (one decoder)', () => {
  const decoder = new HpackDecoder();
  C3_BLOCKS.forEach((block, i) => {
    test(`C.3.${i + 1}`, () => step(decoder, block, C3_C4_FIELDS[i]!, ...C3_C4_TABLES[i]!));
  });
});

describe('C.4 requests with Huffman coding (one decoder)', () => {
  const decoder = new HpackDecoder();
  C4_BLOCKS.forEach((block, i) => {
    test(`C.4.${i + 1}`, () => step(decoder, block, C3_C4_FIELDS[i]!, ...C3_C4_TABLES[i]!));
  });

  test('our encoder produces exactly the C.4 blocks (its policy and Huffman choice agree with the example)', () => {
    const encoder = new HpackEncoder();
    C4_BLOCKS.forEach((block, i) => {
      expect(toHex(encoder.encode(flat(C3_C4_FIELDS[i]!)))).toBe(block.replace(/\s+/g, ''));
      expect(encoder.table.entries()).toEqual(C3_C4_TABLES[i]![0]);
      expect(encoder.table.size).toBe(C3_C4_TABLES[i]![1]);
    });
  });
});

const SET_COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const C5_C6_FIELDS: [string, string][][] = [
  [
    [':status', '302'],
    ['cache-control', 'private'],
    ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['location', 'https://www.example.com'],
  ],
  [
    [':status', '307'],
    ['cache-control', 'private'],
    ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['location', 'https://www.example.com'],
  ],
  [
    [':status', '200'],
    ['cache-control', 'private'],
    ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
    ['location', 'https://www.example.com'],
    ['content-encoding', 'gzip'],
    ['set-cookie', SET_COOKIE],
  ],
];
const C5_C6_TABLES: [[string, string][], number][] = [
  [
    [
      ['location', 'https://www.example.com'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['cache-control', 'private'],
      [':status', '302'],
    ],
    222,
  ],
  [
    [
      [':status', '307'],
      ['location', 'https://www.example.com'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['cache-control', 'private'],
    ],
    222,
  ],
  [
    [
      ['set-cookie', SET_COOKIE],
      ['content-encoding', 'gzip'],
      ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
    ],
    215,
  ],
];
const C5_BLOCKS = [
  '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  '4803 3330 37c1 c0bf',
  '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
];
const C6_BLOCKS = [
  '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
  '4883 640e ffc1 c0bf',
  '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
];

describe('C.5 responses without Huffman coding (table size 256, evictions)', () => {
  const decoder = new HpackDecoder({ maxTableSize: 256 });
  C5_BLOCKS.forEach((block, i) => {
    test(`C.5.${i + 1}`, () => step(decoder, block, C5_C6_FIELDS[i]!, ...C5_C6_TABLES[i]!));
  });
});

describe('C.6 responses with Huffman coding (table size 256, evictions)', () => {
  const decoder = new HpackDecoder({ maxTableSize: 256 });
  C6_BLOCKS.forEach((block, i) => {
    test(`C.6.${i + 1}`, () => step(decoder, block, C5_C6_FIELDS[i]!, ...C5_C6_TABLES[i]!));
  });
});

describe('Huffman code (RFC 7541 §5.2, Appendix B)', () => {
  test('codes rebuilt from the lengths match Appendix B', () => {
    const known: [number, number, number][] = [
      [0, 0x1ff8, 13],
      [10, 0x3ffffffc, 30],
      [32, 0x14, 6],
      [48, 0x0, 5],
      [97, 0x3, 5],
      [92, 0x7fff0, 19],
      [127, 0xffffffc, 28],
      [128, 0xfffe6, 20],
      [200, 0x3ffffe2, 26],
      [254, 0x7fffff0, 27],
      [255, 0x3ffffee, 26],
      [256, 0x3fffffff, 30],
    ];
    for (const [sym, code, length] of known) expect([sym, HUFFMAN_CODES[sym], HUFFMAN_LENGTHS[sym]]).toEqual([sym, code, length]);
    // Kraft: a complete prefix code sums to exactly one.
    let sum = 0;
    for (let sym = 0; sym <= 256; sym++) sum += 2 ** (30 - HUFFMAN_LENGTHS[sym]!);
    expect(sum).toBe(2 ** 30);
  });

  test('the Appendix C strings encode and decode as in the RFC', () => {
    const cases: [string, string][] = [
      ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
      ['no-cache', 'a8eb 1064 9cbf'],
      ['custom-key', '25a8 49e9 5ba9 7d7f'],
      ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
      ['302', '6402'],
      ['private', 'aec3 771a 4b'],
      ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'],
      ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
      ['gzip', '9bd9 ab'],
      [SET_COOKIE, '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07'],
    ];
    for (const [text, encoded] of cases) {
      expect(toHex(huffmanEncode(text))).toBe(encoded.replace(/\s+/g, ''));
      expect(huffmanDecode(hex(encoded))).toBe(text);
    }
  });

  test('all 256 octet values round trip, alone and together', () => {
    let all = '';
    for (let byte = 0; byte < 256; byte++) {
      const s = String.fromCharCode(byte);
      expect(huffmanDecode(huffmanEncode(s))).toBe(s);
      all += s;
    }
    expect(huffmanDecode(huffmanEncode(all))).toBe(all);
    const reversed = [...all].reverse().join('').repeat(3);
    expect(huffmanDecode(huffmanEncode(reversed))).toBe(reversed);
    expect(huffmanDecode(new Uint8Array(0))).toBe('');
  });

  test('EOS in a string, padding of 8+ bits, and padding with a zero bit are errors', () => {
    expectCompressionError(() => huffmanDecode(hex('ffffffff'))); // EOS (30 ones) + 2 bits
    expectCompressionError(() => huffmanDecode(hex('1fff ffff ff'))); // '0' (00000), then EOS
    expectCompressionError(() => huffmanDecode(hex('ff'))); // 8 bits of padding
    expectCompressionError(() => huffmanDecode(hex('1fff'))); // '0' then 11 bits of padding
    expectCompressionError(() => huffmanDecode(hex('18'))); // 'a' (00011), then padding 000
    expectCompressionError(() => huffmanDecode(hex('1e'))); // 'a', then padding 110
    expect(huffmanDecode(hex('1f'))).toBe('a'); // 'a', then padding 111
  });
});

describe('dynamic table (RFC 7541 §4)', () => {
  test('evicts oldest first, counts name + value + 32, and drops an entry larger than the table', () => {
    const table = new DynamicTable(100);
    table.add('a', 'b'); // 34
    table.add('c', 'd'); // 34
    table.add('e', 'f'); // 34: 102 > 100, so a/b goes
    expect(table.entries()).toEqual([
      ['e', 'f'],
      ['c', 'd'],
    ]);
    expect(table.size).toBe(68);
    expect(table.add('x', 'y'.repeat(100))).toBe(false);
    expect(table.length).toBe(0);
    expect(table.size).toBe(0);
  });

  test('grows past its initial ring capacity and keeps order', () => {
    const table = new DynamicTable(1_000_000);
    for (let i = 0; i < 100; i++) table.add(`n${i}`, `v${i}`);
    expect(table.length).toBe(100);
    expect(table.name(1)).toBe('n99');
    expect(table.value(100)).toBe('v0');
    table.setMaxSize(38 * 10); // n9x + v9x + 32 = 38 octets each
    expect(table.entries().map(([name]) => name)).toEqual(['n99', 'n98', 'n97', 'n96', 'n95', 'n94', 'n93', 'n92', 'n91', 'n90']);
    expect(table.inserted).toBe(100);
  });
});

describe('decoder errors are COMPRESSION_ERROR (RFC 9113 §4.3)', () => {
  const cases: [string, string, number?][] = [
    ['index 0 (§6.1)', '80'],
    ['index past the static table with an empty dynamic table (§2.3.3)', 'be'],
    ['a name index past the tables (§2.3.3)', '7e 01 61'],
    ['a never-indexed name index past the tables', '1f 30 00'],
    ['a truncated integer: prefix all ones, nothing after', 'ff'],
    ['a truncated integer: continuation bit set, nothing after', 'ff 80'],
    ['a string longer than the block', '40 05 61 62'],
    ['a literal with no name string', '40'],
    ['a literal with no value string', '40 01 61'],
    ['a literal with a truncated value length', '04 7f'],
    ['EOS inside a Huffman string', '00 84 ffff ffff 00'],
    ['Huffman padding of 8 bits', '00 81 ff 00'],
    ['Huffman padding that is not all ones', '00 81 18 00'],
    ['an integer over 2^31 - 1', 'ff ff ff ff ff 0f'],
    ['a size update over 2^31 - 1', '3f ff ff ff ff 0f'],
    ['an integer with 6 continuation octets', 'ff 80 80 80 80 80 00'],
    ['a dynamic table size update after a field (§4.2)', '82 20'],
    ['a dynamic table size update above the limit (§6.3)', toHex(encodeInteger(4097, 5, 0x20))],
    ['a dynamic table size update above a limit of 256 (§6.3)', toHex(encodeInteger(257, 5, 0x20)), 256],
  ];
  for (const [name, block, maxTableSize] of cases) {
    test(name, () => {
      const decoder = new HpackDecoder(maxTableSize === undefined ? {} : { maxTableSize });
      expectCompressionError(() => decoder.decode(hex(block)));
    });
  }

  test('a size update at the limit, and several at the start, are accepted', () => {
    const decoder = new HpackDecoder();
    expect(decoder.decode(cat(encodeInteger(4096, 5, 0x20), hex('20 3f 45 82'))).fields).toEqual([':method', 'GET']);
    expect(decoder.table.maxSize).toBe(100);
  });

  test('after we lower the limit, the next block must begin with a size update (§4.2)', () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex('41 03 61 62 63')); // :authority: abc
    decoder.maxTableSize = 0;
    expectCompressionError(() => decoder.decode(hex('82')));

    const follows = new HpackDecoder();
    follows.decode(hex('41 03 61 62 63'));
    follows.maxTableSize = 0;
    expect(follows.decode(hex('20 82')).fields).toEqual([':method', 'GET']);
    expect(follows.table.length).toBe(0);
    expect(follows.decode(hex('82')).fields).toEqual([':method', 'GET']);
    // Raising the limit asks nothing of the peer.
    follows.maxTableSize = 4096;
    expect(follows.decode(hex('82')).fields).toEqual([':method', 'GET']);
  });
});

describe('header list size (RFC 9113 §6.5.2)', () => {
  test('an oversize block stops collecting but keeps the table in step', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder({ maxHeaderListSize: 100 });
    // :method GET is 42; x-a is 135 and crosses the limit; x-b is still inserted.
    const first = decoder.decode(encoder.encode([':method', 'GET', 'x-a', 'a'.repeat(100), 'x-b', 'bbb']));
    expect(first.tooLarge).toBe(true);
    expect(first.fields).toEqual([':method', 'GET']);
    expect(decoder.table.entries()).toEqual(encoder.table.entries());

    const block = encoder.encode(['x-b', 'bbb']);
    expect(toHex(block)).toBe('be'); // 62: the newest dynamic entry, inserted by the oversize block
    const second = decoder.decode(block);
    expect(second).toEqual({ fields: ['x-b', 'bbb'], tooLarge: false });
  });

  test('exactly at the limit is not too large', () => {
    const decoder = new HpackDecoder({ maxHeaderListSize: 42 });
    expect(decoder.decode(hex('82'))).toEqual({ fields: [':method', 'GET'], tooLarge: false });
    expect(decoder.decode(hex('82 82')).tooLarge).toBe(true);
    decoder.maxHeaderListSize = 84;
    expect(decoder.decode(hex('82 82')).tooLarge).toBe(false);
  });
});

describe('encoder', () => {
  test('authorization is never indexed (§6.2.3: pattern 0001), with the static name index', () => {
    const encoder = new HpackEncoder();
    const block = encoder.encode(['authorization', 'Bearer abcdef', 'proxy-authorization', 'Basic xyz']);
    expect(block[0]! & 0xf0).toBe(0x10);
    expect(toHex(block.subarray(0, 2))).toBe('1f08'); // 23 = 15 + 8 in a 4-bit prefix
    expect(encoder.table.length).toBe(0);
    const decoder = new HpackDecoder();
    expect(decoder.decode(block).fields).toEqual(['authorization', 'Bearer abcdef', 'proxy-authorization', 'Basic xyz']);
    expect(decoder.table.length).toBe(0);
    // Sent again, it is still a never-indexed literal, not an index.
    expect(encoder.encode(['authorization', 'Bearer abcdef'])[0]! & 0xf0).toBe(0x10);
  });

  test('short cookies are never indexed; long cookies are indexed; :path is not indexed', () => {
    const encoder = new HpackEncoder();
    expect(toHex(encoder.encode(['cookie', 'a=1']).subarray(0, 2))).toBe('1f11'); // 32 = 15 + 17
    expect(encoder.encode(['cookie', 'session=0123456789abcdef'])[0]).toBe(0x60); // 01 + index 32
    expect(encoder.encode([':path', '/chat?room=1'])[0]).toBe(0x04); // 0000 + index 4
    expect(encoder.table.entries()).toEqual([['cookie', 'session=0123456789abcdef']]);
  });

  test('a repeated field becomes one index octet; a known name is reused from the dynamic table', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const fields = [':status', '200', 'x-powered-by', 'h2ws', 'x-powered-by', 'other'];
    decoder.decode(encoder.encode(fields));
    const again = encoder.encode(fields);
    expect(toHex(again)).toBe('88bfbe');
    expect(decoder.decode(again).fields).toEqual(fields);
  });

  test('setMaxTableSize(0) empties the table and announces it; the decoder follows', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(['x-a', '1', 'x-b', '2']));
    expect(decoder.table.length).toBe(2);

    encoder.setMaxTableSize(0);
    decoder.maxTableSize = 0;
    expect(encoder.table.length).toBe(0);
    const block = encoder.encode(['x-a', '1']);
    expect(block[0]).toBe(0x20); // §6.3: size update to 0
    expect(decoder.decode(block).fields).toEqual(['x-a', '1']);
    expect(decoder.table.maxSize).toBe(0);
    expect(decoder.table.length).toBe(0);
    expect(encoder.encode(['x-a', '1'])[0]).not.toBe(0x20); // announced once

    encoder.setMaxTableSize(4096);
    const back = encoder.encode(['x-a', '1']);
    expect(toHex(back.subarray(0, 3))).toBe('3fe11f'); // 4096
    decoder.maxTableSize = 4096;
    expect(decoder.decode(back).fields).toEqual(['x-a', '1']);
    expect(decoder.table.entries()).toEqual(encoder.table.entries());
  });

  test('several changes between blocks announce the smallest, then the final size (§4.2)', () => {
    const encoder = new HpackEncoder();
    encoder.setMaxTableSize(100);
    encoder.setMaxTableSize(4096);
    expect(toHex(encoder.encode([':method', 'GET']))).toBe('3f45' + '3fe11f' + '82');
    encoder.setMaxTableSize(4096);
    expect(toHex(encoder.encode([':method', 'GET']))).toBe('82'); // no change, no update
  });

  test('the size in use is capped by the constructor option, and a cap below 4096 is announced', () => {
    const encoder = new HpackEncoder({ maxTableSize: 256 });
    expect(encoder.table.maxSize).toBe(256);
    const decoder = new HpackDecoder();
    const block = encoder.encode([':method', 'GET']);
    expect(toHex(block)).toBe(toHex(encodeInteger(256, 5, 0x20)) + '82');
    decoder.decode(block);
    expect(decoder.table.maxSize).toBe(256);
    encoder.setMaxTableSize(65536);
    expect(encoder.table.maxSize).toBe(256);
  });

  test('strings are Huffman-coded only when shorter, and bytes above 0x7f survive', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const binary = String.fromCharCode(0xff, 0xfe, 0x80, 0x00, 0x7f);
    const block = encoder.encode(['x-bin', binary]);
    // x-bin: Huffman (4 octets < 5); the value raw: Huffman would be far longer.
    expect(toHex(block.subarray(block.length - 6))).toBe('05' + 'fffe80007f');
    expect(decoder.decode(block).fields).toEqual(['x-bin', binary]);
  });

  test('random header lists round trip, tables in step, across table size changes', () => {
    const random = mulberry32(7541);
    const int = (n: number): number => Math.floor(random() * n);
    const names = [
      ':status', ':method', ':path', ':authority', ':scheme', ':protocol', 'content-type', 'content-length', 'date', 'etag',
      'cookie', 'set-cookie', 'authorization', 'proxy-authorization', 'cache-control', 'x-request-id', 'user-agent', 'accept',
      'sec-websocket-protocol', 'sec-websocket-extensions', 'x-custom-1', 'x-custom-2', 'vary', 'server',
    ];
    const values = ['', '200', 'GET', '/', 'text/html', 'gzip, deflate', 'websocket', 'chat, superchat', 'no-cache', 'h2ws/0.1'];
    const randomString = (max: number): string => {
      let s = '';
      const n = int(max);
      for (let i = 0; i < n; i++) s += String.fromCharCode(random() < 0.8 ? 0x20 + int(95) : int(256));
      return s;
    };
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    for (let round = 0; round < 500; round++) {
      if (random() < 0.05) {
        const size = [0, 50, 256, 1000, 4096][int(5)]!;
        encoder.setMaxTableSize(size);
      }
      const fields: string[] = [];
      const count = int(20);
      for (let i = 0; i < count; i++) {
        const name = random() < 0.8 ? names[int(names.length)]! : `x-${randomString(12).toLowerCase().replace(/[^a-z0-9-]/g, 'z')}`;
        const value = random() < 0.5 ? values[int(values.length)]! : randomString(random() < 0.05 ? 3000 : 40);
        fields.push(name, value);
      }
      const decoded = decoder.decode(encoder.encode(fields));
      expect(decoded.tooLarge).toBe(false);
      expect(decoded.fields).toEqual(fields);
      expect(decoder.table.entries()).toEqual(encoder.table.entries());
      expect(decoder.table.size).toBe(encoder.table.size);
      expect(encoder.table.size).toBeLessThanOrEqual(encoder.table.maxSize);
    }
  });
});
