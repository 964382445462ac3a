/**
 * RFC 8441 §4-§5 (extended CONNECT) and the design's event table, with plain header maps in
 * the shape node:http2 hands out.
 */
import { describe, expect, test } from 'vitest';
import { validateExtendedConnect, WEBSOCKET_VERSION } from '../../src/handshake/extended-connect.ts';
import { buildBackendRequest } from '../../src/handshake/backend-request.ts';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import type { HeaderMap } from '../../src/handshake/headers.ts';
import type { HandshakeResult, Rejection, WebSocketRequest } from '../../src/handshake/websocket-request.ts';

/** What headless Chromium sends for `new WebSocket('wss://example.com/chat?room=1', ['chat', 'superchat'])`. */
const CHROMIUM: HeaderMap = {
  ':method': 'CONNECT',
  ':protocol': 'websocket',
  ':scheme': 'https',
  ':authority': 'example.com',
  ':path': '/chat?room=1',
  origin: 'https://example.com',
  'sec-websocket-version': '13',
  'sec-websocket-protocol': 'chat, superchat',
  'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
};

function accepted(result: HandshakeResult): WebSocketRequest {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.rejection.status}: ${result.rejection.message}`);
  return result.request;
}

function rejected(result: HandshakeResult): Rejection {
  if (result.ok) throw new Error(`expected a rejection, got a request for ${result.request.path}`);
  return result.rejection;
}

function without(headers: HeaderMap, name: string): HeaderMap {
  const copy: Record<string, string | readonly string[] | undefined> = { ...headers };
  delete copy[name];
  return copy;
}

describe('RFC 8441 §4: a valid extended CONNECT', () => {
  test('becomes one h2 WebSocketRequest carrying the offer', () => {
    expect(validateExtendedConnect(CHROMIUM)).toEqual({
      ok: true,
      request: {
        transport: 'h2',
        authority: 'example.com',
        path: '/chat?room=1',
        protocols: ['chat', 'superchat'],
        extensions: 'permessage-deflate; client_max_window_bits',
        clientKey: undefined,
        forwardHeaders: { origin: 'https://example.com' },
      },
    });
  });

  test('with no subprotocol or extension offer has empty protocols and undefined extensions', () => {
    const request = accepted(validateExtendedConnect(without(without(CHROMIUM, 'sec-websocket-protocol'), 'sec-websocket-extensions')));
    expect(request.protocols).toEqual([]);
    expect(request.extensions).toBeUndefined();
  });

  test('subprotocols sent as several fields are kept in order', () => {
    const request = accepted(validateExtendedConnect({ ...CHROMIUM, 'sec-websocket-protocol': ['chat', 'superchat, v2'] }));
    expect(request.protocols).toEqual(['chat', 'superchat', 'v2']);
  });

  test('RFC 9113 §8.2.3: cookies split over several fields reach forwardHeaders joined with "; "', () => {
    const request = accepted(validateExtendedConnect({ ...CHROMIUM, cookie: ['a=1', 'b=2'] }));
    expect(request.forwardHeaders.cookie).toBe('a=1; b=2');
  });

  test('WEBSOCKET_VERSION is "13" (RFC 6455 §11.6)', () => {
    expect(WEBSOCKET_VERSION).toBe('13');
  });
});

describe('RFC 8441 §5 / RFC 6455 §4.2.2: sec-websocket-version', () => {
  test('present and not 13 -> 400 carrying sec-websocket-version: 13', () => {
    const r = rejected(validateExtendedConnect({ ...CHROMIUM, 'sec-websocket-version': '8' }));
    expect(r.status).toBe(400);
    expect(r.headers).toEqual({ 'sec-websocket-version': '13' });
    expect(r.h2Code).toBeUndefined();
    expect(r.outcome).toBe('rejected');
  });

  test('an empty value is "present and not 13" -> 400', () => {
    const r = rejected(validateExtendedConnect({ ...CHROMIUM, 'sec-websocket-version': '' }));
    expect(r.status).toBe(400);
    expect(r.headers).toEqual({ 'sec-websocket-version': '13' });
  });

  test('missing (a Firefox quirk) -> accepted as 13', () => {
    const request = accepted(validateExtendedConnect(without(CHROMIUM, 'sec-websocket-version')));
    expect(request.transport).toBe('h2');
    expect(request.path).toBe('/chat?room=1');
  });

  test('13 with surrounding whitespace -> accepted', () => {
    expect(validateExtendedConnect({ ...CHROMIUM, 'sec-websocket-version': ' 13 ' }).ok).toBe(true);
  });
});

describe('RFC 8441 §5: Sec-WebSocket-Key is not used over HTTP/2', () => {
  test('a client key is ignored: no clientKey, not forwarded', () => {
    const request = accepted(validateExtendedConnect({ ...CHROMIUM, 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }));
    expect(request.clientKey).toBeUndefined();
    expect(request.forwardHeaders).toEqual({ origin: 'https://example.com' });
  });

  test('the backend request carries the fresh key, never the client one', () => {
    const request = accepted(validateExtendedConnect({ ...CHROMIUM, 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }));
    const built = buildBackendRequest(request, '/chat?room=1', 'AAAAAAAAAAAAAAAAAAAAAA==', { clientAddress: '192.0.2.1', proto: 'https' });
    expect(built).toContain('\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n');
    expect(built).not.toContain('dGhlIHNhbXBsZSBub25jZQ==');
  });
});

describe('RFC 9113 §8.5: h2ws is not a forward proxy', () => {
  test('plain CONNECT (no :protocol) -> 501', () => {
    const r = rejected(validateExtendedConnect({ ':method': 'CONNECT', ':authority': 'example.com:443' }));
    expect(r.status).toBe(501);
    expect(r.h2Code).toBeUndefined();
  });

  test.each(['connect-udp', 'connect-ip', 'h2c', 'websockets'])(':protocol %s -> 501', (protocol) => {
    const r = rejected(validateExtendedConnect({ ...CHROMIUM, ':protocol': protocol }));
    expect(r.status).toBe(501);
    expect(r.h2Code).toBeUndefined();
  });

  test('a method other than CONNECT -> 501', () => {
    expect(rejected(validateExtendedConnect({ ...CHROMIUM, ':method': 'GET' })).status).toBe(501);
  });
});

describe('RFC 8441 §4 / RFC 9113 §8.1.1: malformed extended CONNECT -> stream error PROTOCOL_ERROR (0x1)', () => {
  test.each([':scheme', ':path', ':authority'])('missing %s', (name) => {
    const r = rejected(validateExtendedConnect(without(CHROMIUM, name)));
    expect(r.h2Code).toBe(0x1);
    expect(r.h2Code).toBe(H2ErrorCode.PROTOCOL_ERROR);
    expect(r.message).toContain(name);
  });

  test.each([':scheme', ':path', ':authority'])('empty %s', (name) => {
    const r = rejected(validateExtendedConnect({ ...CHROMIUM, [name]: '' }));
    expect(r.h2Code).toBe(0x1);
  });

  test('RFC 9113 §8.3.1: a :path that is not origin-form', () => {
    const r = rejected(validateExtendedConnect({ ...CHROMIUM, ':path': 'chat' }));
    expect(r.h2Code).toBe(0x1);
  });

  // RFC 9113 §8.2.1: "A field value MUST NOT contain ... LF ... or CR ... at any position";
  // a request containing such a field "MUST be treated as malformed". :authority and :path
  // are written verbatim into the backend's request line and Host field, so accepting them
  // would let a client inject header lines into the backend request.
  test.each([
    [':path', '/chat\r\nX-Injected: 1'],
    [':authority', 'example.com\r\nX-Injected: 1'],
    [':path', '/chat\0'],
  ])('RFC 9113 §8.2.1: CR, LF or NUL in %s (%j)', (name, value) => {
    const r = rejected(validateExtendedConnect({ ...CHROMIUM, [name]: value }));
    expect(r.h2Code).toBe(0x1);
  });

  test('RFC 9113 §8.2.1: CR/LF in sec-websocket-protocol never reaches the backend request', () => {
    const result = validateExtendedConnect({ ...CHROMIUM, 'sec-websocket-protocol': 'chat\r\nX-Injected: 1' });
    const built = result.ok
      ? buildBackendRequest(result.request, '/chat', 'AAAAAAAAAAAAAAAAAAAAAA==', { clientAddress: '192.0.2.1', proto: 'https' })
      : '';
    expect(built).not.toMatch(/\r\nX-Injected: 1\r\n/);
  });
});
