/** What the client is answered with: 200 on h2 (RFC 8441 §5), 101 on HTTP/1.1 (RFC 6455 §4.2.2), or an error. */
import { describe, expect, test } from 'vitest';
import { h1AcceptHead, h1ErrorResponse, h2AcceptHeaders, passThroughHeaders } from '../../src/handshake/client-response.ts';
import { parseResponseHead, verifyUpgradeResponse } from '../../src/handshake/backend-response.ts';

const NOTHING = { protocol: undefined, extensions: undefined };
const BOTH = { protocol: 'chat', extensions: 'permessage-deflate; server_no_context_takeover' };

describe('h2AcceptHeaders (RFC 8441 §5)', () => {
  test('nothing negotiated: only :status 200', () => {
    expect(h2AcceptHeaders(NOTHING)).toEqual({ ':status': 200 });
  });

  test('the negotiated subprotocol and extensions', () => {
    expect(h2AcceptHeaders(BOTH)).toEqual({
      ':status': 200,
      'sec-websocket-protocol': 'chat',
      'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
    });
  });

  test('RFC 9113 §8.2.2: no connection-specific fields, and no Sec-WebSocket-Accept (RFC 8441 §5)', () => {
    const names = Object.keys(h2AcceptHeaders(BOTH));
    for (const forbidden of ['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'sec-websocket-accept']) {
      expect(names).not.toContain(forbidden);
    }
    expect(names.every((n) => n === n.toLowerCase())).toBe(true);
  });
});

describe('h1AcceptHead (RFC 6455 §4.2.2)', () => {
  test('the §1.3 sample key gets accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', () => {
    expect(h1AcceptHead('dGhlIHNhbXBsZSBub25jZQ==', NOTHING)).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n'
      + 'Upgrade: websocket\r\n'
      + 'Connection: Upgrade\r\n'
      + 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n'
      + '\r\n',
    );
  });

  test('the negotiated subprotocol and extensions follow the accept', () => {
    expect(h1AcceptHead('dGhlIHNhbXBsZSBub25jZQ==', BOTH)).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n'
      + 'Upgrade: websocket\r\n'
      + 'Connection: Upgrade\r\n'
      + 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n'
      + 'Sec-WebSocket-Protocol: chat\r\n'
      + 'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n'
      + '\r\n',
    );
  });

  test('an RFC 6455 client accepts it (round trip through the §4.1 checks)', () => {
    const key = 'AQIDBAUGBwgJCgsMDQ4PEA==';
    const head = parseResponseHead(Buffer.from(h1AcceptHead(key, BOTH), 'latin1'));
    if (head === undefined || head instanceof Error) throw new Error('unparsable 101');
    expect(head.status).toBe(101);
    expect(verifyUpgradeResponse(head, { key, protocols: ['chat'], extensions: 'permessage-deflate' }))
      .toEqual({ ok: true, negotiated: BOTH });
  });
});

describe('passThroughHeaders (a backend\'s non-101 answer)', () => {
  test('end-to-end fields pass; hop-by-hop, framing and accept fields are dropped', () => {
    expect(passThroughHeaders({
      'content-type': 'text/plain',
      'www-authenticate': 'Bearer realm="chat"',
      'retry-after': '5',
      connection: 'close',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'close',
      'transfer-encoding': 'chunked',
      te: 'trailers',
      trailer: 'x-sum',
      upgrade: 'websocket',
      'content-length': '12',
      'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    })).toEqual({ 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="chat"', 'retry-after': '5' });
  });

  test('RFC 9110 §5.5: a value carrying CR/LF is dropped', () => {
    expect(passThroughHeaders({ 'x-bad': 'a\r\nb', 'x-good': 'ok' })).toEqual({ 'x-good': 'ok' });
  });

  // RFC 9110 §7.6.1: "Intermediaries MUST parse a received Connection header field before a
  // message is forwarded and, for each connection-option in this field, remove any header or
  // trailer field(s) from the message with the same name as the connection-option".
  test('RFC 9110 §7.6.1: fields named in the backend\'s Connection are dropped', () => {
    expect(passThroughHeaders({ connection: 'close, X-Backend-Hop', 'x-backend-hop': '1', 'content-type': 'text/plain' }))
      .toEqual({ 'content-type': 'text/plain' });
  });
});

describe('h1ErrorResponse', () => {
  test('the exact bytes of a 404 with a text body', () => {
    expect(h1ErrorResponse(404, { 'content-type': 'text/plain; charset=utf-8' }, 'no route\n').toString('latin1')).toBe(
      'HTTP/1.1 404 Not Found\r\n'
      + 'Connection: close\r\n'
      + 'Content-Length: 9\r\n'
      + 'content-type: text/plain; charset=utf-8\r\n'
      + '\r\n'
      + 'no route\n',
    );
  });

  test('the version rejection carries Sec-WebSocket-Version: 13 and no body', () => {
    expect(h1ErrorResponse(400, { 'sec-websocket-version': '13' }, '').toString('latin1')).toBe(
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\nsec-websocket-version: 13\r\n\r\n',
    );
  });

  test.each([
    [400, 'Bad Request'], [401, 'Unauthorized'], [403, 'Forbidden'], [404, 'Not Found'], [426, 'Upgrade Required'],
    [500, 'Internal Server Error'], [501, 'Not Implemented'], [502, 'Bad Gateway'], [503, 'Service Unavailable'],
    [504, 'Gateway Timeout'], [418, 'Error'],
  ])('status %i has reason %s', (status, reason) => {
    expect(h1ErrorResponse(status, {}, '').toString('latin1').split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${reason}`);
  });

  test('Content-Length counts UTF-8 bytes, not characters', () => {
    const out = h1ErrorResponse(502, {}, 'é');
    expect(out.toString('latin1')).toContain('\r\nContent-Length: 2\r\n');
    expect(Array.from(out.subarray(out.length - 2))).toEqual([0xc3, 0xa9]);
  });

  test('a binary body is copied verbatim', () => {
    const out = h1ErrorResponse(502, {}, Uint8Array.from([0, 255, 10]));
    expect(out.toString('latin1')).toContain('\r\nContent-Length: 3\r\n');
    expect(Array.from(out.subarray(out.length - 3))).toEqual([0, 255, 10]);
  });

  test('the result parses back as the same status, with the body after the head', () => {
    const out = h1ErrorResponse(503, { 'retry-after': '1' }, 'busy');
    const head = parseResponseHead(out);
    if (head === undefined || head instanceof Error) throw new Error('unparsable');
    expect(head).toMatchObject({ status: 503, reason: 'Service Unavailable', headers: { connection: 'close', 'content-length': '4', 'retry-after': '1' } });
    expect(out.subarray(head.length).toString()).toBe('busy');
  });
});
