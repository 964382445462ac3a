/** extractBody: the small body of a backend's non-101 answer, framed per RFC 9112 §6.3. */
import { describe, expect, test } from 'vitest';
import { extractBody } from '../../src/handshake/response-body.ts';

const MAX = 64;

function text(result: Buffer | null | undefined): string | null | undefined {
  return result === null || result === undefined ? result : result.toString('latin1');
}

function body(headers: Record<string, string>, raw: string, ended: boolean, max = MAX): string | null | undefined {
  return text(extractBody(headers, Buffer.from(raw, 'latin1'), max, ended));
}

describe('Content-Length (RFC 9112 §6.3 rule 6)', () => {
  test('exactly the declared length, ignoring bytes after it', () => {
    expect(body({ 'content-length': '5' }, 'hello world', false)).toBe('hello');
  });

  test('complete body', () => {
    expect(body({ 'content-length': '5' }, 'hello', false)).toBe('hello');
  });

  test('zero length is complete at once', () => {
    expect(body({ 'content-length': '0' }, '', false)).toBe('');
  });

  test('incomplete -> undefined until the connection ends', () => {
    expect(body({ 'content-length': '5' }, 'hel', false)).toBeUndefined();
    expect(body({ 'content-length': '5' }, '', false)).toBeUndefined();
  });

  test('the connection ended early: what arrived', () => {
    expect(body({ 'content-length': '5' }, 'hel', true)).toBe('hel');
  });

  test('too large -> null, before any byte arrives', () => {
    expect(body({ 'content-length': String(MAX + 1) }, '', false)).toBeNull();
    expect(body({ 'content-length': String(MAX) }, 'x'.repeat(MAX), false)).toBe('x'.repeat(MAX));
  });

  test.each(['abc', '-1', '1.5', '5, 5'])('an unusable length %j -> null', (value) => {
    expect(body({ 'content-length': value }, 'hello', true)).toBeNull();
  });
});

describe('chunked (RFC 9112 §7.1)', () => {
  const TE = { 'transfer-encoding': 'chunked' };
  const WIRE = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';

  test('decoded', () => {
    expect(body(TE, WIRE, false)).toBe('hello world');
  });

  test('chunk extensions and upper-case hex sizes', () => {
    expect(body(TE, '5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n', false)).toBe('hello0123456789');
  });

  test('chunked as the last of several codings, any case', () => {
    expect(body({ 'transfer-encoding': 'gzip, Chunked' }, WIRE, false)).toBe('hello world');
  });

  test('incomplete at every cut before the last chunk -> undefined', () => {
    const lastChunk = WIRE.indexOf('0\r\n\r\n') + 3;
    const wrong: number[] = [];
    for (let k = 0; k < lastChunk; k++) if (body(TE, WIRE.slice(0, k), false) !== undefined) wrong.push(k);
    expect(wrong).toEqual([]);
  });

  test('the last-chunk line completes the body (trailers are not waited for)', () => {
    expect(body(TE, '5\r\nhello\r\n0\r\n', false)).toBe('hello');
  });

  test('the connection ended mid-chunk: what was decoded so far', () => {
    expect(body(TE, '5\r\nhello\r\n6\r\n wo', true)).toBe('hello wo');
  });

  test('too large -> null', () => {
    expect(body(TE, `41\r\n${'x'.repeat(65)}\r\n0\r\n\r\n`, false)).toBeNull();
    expect(body(TE, '20\r\n', false, 16)).toBeNull();
  });

  test('an unparsable chunk size -> null', () => {
    expect(body(TE, 'zz\r\nhello\r\n0\r\n\r\n', false)).toBeNull();
  });

  // RFC 9112 §6.3 rule 3: "If a message is received with both a Transfer-Encoding and a
  // Content-Length header field, the Transfer-Encoding overrides the Content-Length. Such a
  // message ... ought to be handled as an error." Either decode the chunks or give up (null);
  // never return chunk framing as the body.
  test('RFC 9112 §6.3: Transfer-Encoding overrides Content-Length', () => {
    const result = body({ 'content-length': '10', 'transfer-encoding': 'chunked' }, WIRE, false);
    expect([null, 'hello world']).toContain(result);
  });
});

describe('no length: the body runs to the end of the connection (RFC 9112 §6.3 rule 8)', () => {
  test('not ended -> undefined', () => {
    expect(body({}, 'partial', false)).toBeUndefined();
  });

  test('ended -> everything', () => {
    expect(body({}, 'all of it', true)).toBe('all of it');
    expect(body({}, '', true)).toBe('');
  });

  test('too large -> null, even before the end', () => {
    expect(body({}, 'x'.repeat(MAX + 1), false)).toBeNull();
  });
});
