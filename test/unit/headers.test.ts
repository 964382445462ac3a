/** Field helpers shared by both handshakes (RFC 9110 §5). */
import { describe, expect, test } from 'vitest';
import { extensionNames, headerValue, HOP_BY_HOP, isSafeFieldValue, isToken, splitList } from '../../src/handshake/headers.ts';

describe('headerValue', () => {
  test('a single value, a list joined with ", ", or undefined', () => {
    expect(headerValue({ a: 'x' }, 'a')).toBe('x');
    expect(headerValue({ a: ['x', 'y'] }, 'a')).toBe('x, y');
    expect(headerValue({ a: 'x' }, 'b')).toBeUndefined();
    expect(headerValue({ a: undefined }, 'a')).toBeUndefined();
  });
});

describe('splitList (RFC 9110 §5.6.1)', () => {
  test('trims, drops empty elements, keeps order', () => {
    expect(splitList(' chat ,, superchat,')).toEqual(['chat', 'superchat']);
  });

  test('lower-cases when asked', () => {
    expect(splitList('Keep-Alive, Upgrade', true)).toEqual(['keep-alive', 'upgrade']);
    expect(splitList('Keep-Alive, Upgrade')).toEqual(['Keep-Alive', 'Upgrade']);
  });

  test('undefined and empty give []', () => {
    expect(splitList(undefined)).toEqual([]);
    expect(splitList('')).toEqual([]);
    expect(splitList(' , ')).toEqual([]);
  });
});

describe('extensionNames (RFC 6455 §9.1)', () => {
  test('names only, lower-cased, in order', () => {
    expect(extensionNames('permessage-deflate; client_max_window_bits, X-Foo;a=1 ;b')).toEqual(['permessage-deflate', 'x-foo']);
  });

  test('undefined and empty give []', () => {
    expect(extensionNames(undefined)).toEqual([]);
    expect(extensionNames(' ; a=1')).toEqual([]);
  });
});

describe('isToken (RFC 9110 §5.6.2)', () => {
  test.each(['chat', 'v1.chat+json', "!#$%&'*+-.^_`|~09AZaz"])('%j is a token', (s) => {
    expect(isToken(s)).toBe(true);
  });

  test.each(['', 'a b', 'a,b', 'a;b', '"a"', 'a/b', 'é'])('%j is not a token', (s) => {
    expect(isToken(s)).toBe(false);
  });
});

describe('isSafeFieldValue (RFC 9110 §5.5)', () => {
  test.each(['', 'plain', 'tab\tinside', 'é'])('%j is safe', (s) => {
    expect(isSafeFieldValue(s)).toBe(true);
  });

  test.each(['a\rb', 'a\nb', 'a\0b', 'a\r\nX: y'])('%j is not', (s) => {
    expect(isSafeFieldValue(s)).toBe(false);
  });
});

test('HOP_BY_HOP: the connection-specific fields of RFC 9110 §7.6.1 and RFC 9113 §8.2.2', () => {
  expect([...HOP_BY_HOP].sort()).toEqual(['connection', 'http2-settings', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
});
