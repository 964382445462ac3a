/**
 * RFC 9110 for the reverse proxy and static files, pure: hop-by-hop fields (§7.6.1), byte
 * ranges (§14), and conditional requests (§13).
 */
import { describe, expect, test } from 'vitest';
import { parseRange } from '../../src/handshake/byte-range.ts';
import { isFresh, isRangeCurrent, type Validators } from '../../src/handshake/conditional.ts';
import { endToEndFields, endToEndLines } from '../../src/handshake/hop-by-hop.ts';

describe('RFC 9110 §7.6.1: hop-by-hop fields stop at h2ws', () => {
  test('request fields: the fixed list, and whatever Connection names', () => {
    expect(endToEndFields({
      connection: 'keep-alive, X-Trace', 'keep-alive': 'timeout=5', 'x-trace': '1', te: 'trailers', 'transfer-encoding': 'chunked',
      upgrade: 'h2c', 'proxy-connection': 'keep-alive', trailer: 'x', 'x-kept': 'yes', cookie: ['a=1', 'b=2'], accept: ['text/html', 'text/plain'],
    })).toEqual({ 'x-kept': 'yes', cookie: 'a=1; b=2', accept: 'text/html, text/plain' });
  });

  test('a value with CR or LF is dropped, never forwarded', () => {
    expect(endToEndFields({ 'x-evil': 'a\r\nx-injected: 1', 'x-fine': 'b' })).toEqual({ 'x-fine': 'b' });
  });

  test('response lines: each Set-Cookie kept in order, Connection-named fields and Keep-Alive removed', () => {
    expect(endToEndLines([
      'Set-Cookie', 'a=1; Path=/', 'Connection', 'X-Internal', 'X-Internal', 'secret', 'Keep-Alive', 'timeout=5',
      'Location', '/next', 'Set-Cookie', 'b=2, c=3; HttpOnly', 'Transfer-Encoding', 'chunked',
    ])).toEqual([['set-cookie', 'a=1; Path=/'], ['location', '/next'], ['set-cookie', 'b=2, c=3; HttpOnly']]);
  });
});

describe('RFC 9110 §14: one byte range', () => {
  test.each([
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=900-', { start: 900, end: 999 }],
    ['bytes=-100', { start: 900, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    ['bytes=990-5000', { start: 990, end: 999 }],
    ['Bytes = 1 - 2', { start: 1, end: 2 }],
  ])('%s of 1000 bytes', (value, range) => {
    expect(parseRange(value, 1000)).toEqual(range);
  });

  test.each(['bytes=1000-', 'bytes=5000-6000', 'bytes=-0'])('%s of 1000 bytes is unsatisfiable (416)', (value) => {
    expect(parseRange(value, 1000)).toBe('unsatisfiable');
  });

  test.each(['bytes=0-1,5-6', 'items=0-1', 'bytes=5-1', 'bytes=-', 'bytes=abc'])('%s is ignored (200, the whole file)', (value) => {
    expect(parseRange(value, 1000)).toBeUndefined();
  });

  test('an empty file has no satisfiable range', () => {
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
  });
});

describe('RFC 9110 §13: conditional requests', () => {
  const v: Validators = { etag: '"3e8-18c"', lastModified: new Date('2026-01-02T03:04:05Z') };

  test('If-None-Match decides when present: weak comparison, lists, "*"', () => {
    expect(isFresh('"3e8-18c"', null, v)).toBe(true);
    expect(isFresh('W/"3e8-18c"', null, v)).toBe(true);
    expect(isFresh('"other", "3e8-18c"', null, v)).toBe(true);
    expect(isFresh('*', null, v)).toBe(true);
    // If-Modified-Since is ignored next to If-None-Match (§13.2.2).
    expect(isFresh('"other"', 'Fri, 02 Jan 2026 03:04:05 GMT', v)).toBe(false);
  });

  test('If-Modified-Since: fresh at or after Last-Modified; an invalid date counts for nothing', () => {
    expect(isFresh(null, 'Fri, 02 Jan 2026 03:04:05 GMT', v)).toBe(true);
    expect(isFresh(null, 'Fri, 02 Jan 2026 03:04:04 GMT', v)).toBe(false);
    expect(isFresh(null, 'yesterday', v)).toBe(false);
    expect(isFresh(null, null, v)).toBe(false);
  });

  test('If-Range: a strong ETag match or the exact date lets the range through', () => {
    expect(isRangeCurrent(null, v)).toBe(true);
    expect(isRangeCurrent('"3e8-18c"', v)).toBe(true);
    expect(isRangeCurrent('W/"3e8-18c"', v)).toBe(false);
    expect(isRangeCurrent('"changed"', v)).toBe(false);
    expect(isRangeCurrent('Fri, 02 Jan 2026 03:04:05 GMT', v)).toBe(true);
    expect(isRangeCurrent('Fri, 02 Jan 2026 03:04:06 GMT', v)).toBe(false);
  });
});
