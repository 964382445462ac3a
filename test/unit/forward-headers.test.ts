/** forwardableHeaders: which request fields reach the backend (RFC 9110 §7.6.1, RFC 9113 §8.2). */
import { describe, expect, test } from 'vitest';
import { forwardableHeaders } from '../../src/handshake/forward-headers.ts';

describe('forwardableHeaders', () => {
  test('pseudo-header fields are never forwarded', () => {
    expect(forwardableHeaders({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/', ':authority': 'a', ':scheme': 'https', origin: 'https://a' }))
      .toEqual({ origin: 'https://a' });
  });

  test.each(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'trailer', 'http2-settings'])(
    'RFC 9110 §7.6.1 / RFC 9113 §8.2.2: hop-by-hop %s is stripped',
    (name) => {
      expect(forwardableHeaders({ [name]: 'x', 'user-agent': 'ua' })).toEqual({ 'user-agent': 'ua' });
    },
  );

  test('RFC 9110 §7.6.1: fields named in Connection are stripped, matching case-insensitively', () => {
    expect(forwardableHeaders({ connection: 'Upgrade, X-Secret ,  X-Other', 'x-secret': '1', 'x-other': '2', 'x-kept': '3' }))
      .toEqual({ 'x-kept': '3' });
  });

  test.each([
    'host', 'content-length', 'sec-websocket-key', 'sec-websocket-accept', 'sec-websocket-version',
    'sec-websocket-protocol', 'sec-websocket-extensions', 'x-forwarded-proto',
  ])('%s is rebuilt by h2ws, so the client copy is not forwarded', (name) => {
    expect(forwardableHeaders({ [name]: 'x', origin: 'o' })).toEqual({ origin: 'o' });
  });

  test('x-forwarded-for is kept, so h2ws can append to it', () => {
    expect(forwardableHeaders({ 'x-forwarded-for': '203.0.113.7' })).toEqual({ 'x-forwarded-for': '203.0.113.7' });
  });

  test('RFC 9113 §8.2.3: several cookie fields are joined with "; "', () => {
    expect(forwardableHeaders({ cookie: ['a=1', 'b=2', 'c=3'] })).toEqual({ cookie: 'a=1; b=2; c=3' });
  });

  test('RFC 9110 §5.3: other repeated fields are joined with ", "', () => {
    expect(forwardableHeaders({ 'accept-language': ['en', 'de;q=0.5'] })).toEqual({ 'accept-language': 'en, de;q=0.5' });
  });

  test('names come out lower-case', () => {
    expect(forwardableHeaders({ 'X-Request-Id': 'r1', Origin: 'o' })).toEqual({ 'x-request-id': 'r1', origin: 'o' });
  });

  test('undefined values are skipped', () => {
    expect(forwardableHeaders({ origin: undefined, 'x-a': 'a' })).toEqual({ 'x-a': 'a' });
  });

  test.each(['a\r\nX-Injected: 1', 'a\nb', 'a\0b'])('RFC 9110 §5.5: a value with CR, LF or NUL (%j) is dropped', (value) => {
    expect(forwardableHeaders({ 'x-bad': value, 'x-good': 'ok' })).toEqual({ 'x-good': 'ok' });
  });

  test('an empty input gives an empty result', () => {
    expect(forwardableHeaders({})).toEqual({});
  });
});

describe('RFC 9110 §7.6.3: Via is appended to, not replaced', () => {
  test('the client\'s Via is kept for the backend request to extend', () => {
    expect(forwardableHeaders({ via: '1.1 edge' }).via).toBe('1.1 edge');
  });
});
