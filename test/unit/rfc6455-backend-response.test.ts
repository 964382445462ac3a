/**
 * RFC 6455 §4.1 (the client's validation of the server's handshake), as h2ws applies it to
 * the backend's answer, and the HTTP/1.1 response-head parser it reads that answer with.
 * (Interim 1xx responses are skipped by the server code, not here.)
 */
import { describe, expect, test } from 'vitest';
import { parseResponseHead, type ResponseHead, verifyUpgradeResponse } from '../../src/handshake/backend-response.ts';
import { BACKEND_FAILURE_STATUS } from '../../src/tunnel/outcomes.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

function head(text: string): ResponseHead {
  const parsed = parseResponseHead(bytes(text));
  if (parsed === undefined || parsed instanceof Error) throw new Error(`not a head: ${String(parsed)}`);
  return parsed;
}

/** A 101 with the given extra lines. */
function switching(...extra: string[]): ResponseHead {
  return head(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`, ...extra].join('\r\n') + '\r\n\r\n');
}

const OFFER = { key: KEY, protocols: ['chat', 'superchat'], extensions: 'permessage-deflate; client_max_window_bits' };

describe('parseResponseHead (RFC 9112 §4)', () => {
  test('an incomplete head -> undefined', () => {
    expect(parseResponseHead(bytes('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'))).toBeUndefined();
    expect(parseResponseHead(new Uint8Array(0))).toBeUndefined();
  });

  test('a 101 followed by frame bytes: length stops at the blank line', () => {
    const text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
    const input = new Uint8Array([...bytes(text), 0x81, 0x02, 0x68, 0x69]);
    expect(parseResponseHead(input)).toEqual({
      status: 101,
      reason: 'Switching Protocols',
      headers: { upgrade: 'websocket', connection: 'Upgrade' },
      length: text.length,
    });
  });

  test('field names are lower-cased, values trimmed, repeated fields joined with ", "', () => {
    const h = head('HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Extensions:  a  \r\nsec-websocket-extensions: b\r\n\r\n');
    expect(h.headers).toEqual({ 'sec-websocket-extensions': 'a, b' });
  });

  test('a status line without a reason phrase', () => {
    const h = head('HTTP/1.1 404\r\n\r\n');
    expect(h.status).toBe(404);
    expect(h.reason).toBe('');
    expect(h.length).toBe('HTTP/1.1 404\r\n\r\n'.length);
  });

  test('HTTP/1.0 is accepted', () => {
    expect(head('HTTP/1.0 403 Forbidden\r\n\r\n').status).toBe(403);
  });

  test('a view into a larger buffer reads only its own bytes', () => {
    const whole = bytes('garbageHTTP/1.1 503 Busy\r\nRetry-After: 5\r\n\r\n');
    const view = whole.subarray(7);
    expect(parseResponseHead(view)).toEqual({ status: 503, reason: 'Busy', headers: { 'retry-after': '5' }, length: view.length });
  });

  test.each([
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n\r\n'],
    ['HTTP/2 status line', 'HTTP/2 101\r\n\r\n'],
    ['two-digit status', 'HTTP/1.1 99 Odd\r\n\r\n'],
    ['header line without a colon', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n'],
    ['header line starting with a colon', 'HTTP/1.1 101 Switching Protocols\r\n: websocket\r\n\r\n'],
  ])('%s -> an Error', (_label, text) => {
    expect(parseResponseHead(bytes(text))).toBeInstanceOf(Error);
  });

  // RFC 9110 §5.3: Set-Cookie "often appears in a response message across multiple field
  // lines and does not use the list syntax, violating the above requirements on multiple
  // field lines with the same field name". Joining with ", " merges two cookies into one
  // (an Expires date contains a comma, so the join cannot be undone downstream).
  test('RFC 9110 §5.3: repeated Set-Cookie lines stay separate values', () => {
    const h = head('HTTP/1.1 401 Unauthorized\r\nSet-Cookie: a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT\r\nSet-Cookie: b=2\r\n\r\n');
    expect([h.headers['set-cookie']].flat()).toEqual(['a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT', 'b=2']);
  });
});

describe('RFC 6455 §4.1: verifying the backend 101', () => {
  test('a correct 101 with nothing negotiated', () => {
    expect(verifyUpgradeResponse(switching(), OFFER)).toEqual({ ok: true, negotiated: { protocol: undefined, extensions: undefined } });
  });

  test('an offered subprotocol and extension are negotiated', () => {
    const verdict = verifyUpgradeResponse(
      switching('Sec-WebSocket-Protocol: superchat', 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15'),
      OFFER,
    );
    expect(verdict).toEqual({ ok: true, negotiated: { protocol: 'superchat', extensions: 'permessage-deflate; client_max_window_bits=15' } });
  });

  test('Upgrade and Connection values match case-insensitively', () => {
    const h = head(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`);
    expect(verifyUpgradeResponse(h, OFFER).ok).toBe(true);
  });

  test('step 2: no Upgrade -> bad_response', () => {
    const h = head(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`);
    expect(verifyUpgradeResponse(h, OFFER)).toMatchObject({ ok: false, outcome: 'bad_response' });
  });

  test('step 2: Upgrade is not websocket -> bad_response', () => {
    const h = head(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`);
    expect(verifyUpgradeResponse(h, OFFER)).toMatchObject({ ok: false, outcome: 'bad_response' });
  });

  test('step 3: no Connection -> bad_response', () => {
    const h = head(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`);
    expect(verifyUpgradeResponse(h, OFFER)).toMatchObject({ ok: false, outcome: 'bad_response' });
  });

  test('step 3: Connection without the Upgrade token -> bad_response', () => {
    const h = head(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`);
    expect(verifyUpgradeResponse(h, OFFER)).toMatchObject({ ok: false, outcome: 'bad_response' });
  });

  test('step 4: a wrong Sec-WebSocket-Accept -> bad_accept (502)', () => {
    const h = head('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n');
    expect(verifyUpgradeResponse(h, OFFER)).toMatchObject({ ok: false, outcome: 'bad_accept' });
    expect(BACKEND_FAILURE_STATUS.bad_accept).toBe(502);
  });

  test('step 4: the accept computed for another key -> bad_accept', () => {
    expect(verifyUpgradeResponse(switching(), { ...OFFER, key: 'AAAAAAAAAAAAAAAAAAAAAA==' })).toMatchObject({ ok: false, outcome: 'bad_accept' });
  });

  test('step 4: no Sec-WebSocket-Accept -> bad_accept', () => {
    const h = head('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    expect(verifyUpgradeResponse(h, OFFER)).toMatchObject({ ok: false, outcome: 'bad_accept' });
  });

  test('step 5: an extension the client did not offer -> refused (502), naming it', () => {
    const verdict = verifyUpgradeResponse(switching('Sec-WebSocket-Extensions: x-webkit-deflate-frame'), OFFER);
    expect(verdict).toMatchObject({ ok: false, outcome: 'bad_subprotocol' });
    expect(!verdict.ok && verdict.message).toContain('x-webkit-deflate-frame');
    expect(BACKEND_FAILURE_STATUS.bad_subprotocol).toBe(502);
  });

  test('step 5: any extension when none was offered -> refused', () => {
    const verdict = verifyUpgradeResponse(switching('Sec-WebSocket-Extensions: permessage-deflate'), { ...OFFER, extensions: undefined });
    expect(verdict).toMatchObject({ ok: false, outcome: 'bad_subprotocol' });
  });

  test('step 6: a subprotocol the client did not offer -> bad_subprotocol (502)', () => {
    const verdict = verifyUpgradeResponse(switching('Sec-WebSocket-Protocol: mqtt'), OFFER);
    expect(verdict).toMatchObject({ ok: false, outcome: 'bad_subprotocol' });
    expect(!verdict.ok && verdict.message).toContain('mqtt');
  });

  test('step 6: a subprotocol when none was offered -> bad_subprotocol', () => {
    expect(verifyUpgradeResponse(switching('Sec-WebSocket-Protocol: chat'), { ...OFFER, protocols: [] })).toMatchObject({ ok: false, outcome: 'bad_subprotocol' });
  });

  test('step 6: two subprotocols at once -> bad_subprotocol', () => {
    expect(verifyUpgradeResponse(switching('Sec-WebSocket-Protocol: chat, superchat'), OFFER)).toMatchObject({ ok: false, outcome: 'bad_subprotocol' });
  });
});
