/** RFC 6455 §4.2.1: the server's reading of an HTTP/1.1 opening handshake, step by step. */
import { describe, expect, test } from 'vitest';
import { validateH1Upgrade } from '../../src/handshake/h1-upgrade.ts';
import type { HeaderMap } from '../../src/handshake/headers.ts';
import type { HandshakeResult, Rejection } from '../../src/handshake/websocket-request.ts';

/** The sample handshake of RFC 6455 §1.2, as node:http hands its headers out. */
const SAMPLE: HeaderMap = {
  host: 'server.example.com',
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  origin: 'http://example.com',
  'sec-websocket-protocol': 'chat, superchat',
  'sec-websocket-version': '13',
};

function rejected(result: HandshakeResult): Rejection {
  if (result.ok) throw new Error('expected a rejection');
  return result.rejection;
}

function without(name: string): HeaderMap {
  const copy: Record<string, string | readonly string[] | undefined> = { ...SAMPLE };
  delete copy[name];
  return copy;
}

describe('RFC 6455 §4.2.1: a valid opening handshake', () => {
  test('the §1.2 sample becomes one h1 WebSocketRequest', () => {
    expect(validateH1Upgrade('GET', '1.1', SAMPLE, '/chat')).toEqual({
      ok: true,
      request: {
        transport: 'h1',
        authority: 'server.example.com',
        path: '/chat',
        protocols: ['chat', 'superchat'],
        extensions: undefined,
        clientKey: 'dGhlIHNhbXBsZSBub25jZQ==',
        forwardHeaders: { origin: 'http://example.com' },
      },
    });
  });

  test('the query is kept in path', () => {
    const r = validateH1Upgrade('GET', '1.1', SAMPLE, '/chat?room=1');
    expect(r.ok && r.request.path).toBe('/chat?room=1');
  });

  test('Upgrade and Connection tokens match case-insensitively, Connection may be a list', () => {
    const r = validateH1Upgrade('GET', '1.1', { ...SAMPLE, upgrade: 'WebSocket', connection: 'keep-alive, upgrade' }, '/chat');
    expect(r.ok).toBe(true);
  });

  test('the extension offer is kept verbatim', () => {
    const r = validateH1Upgrade('GET', '1.1', { ...SAMPLE, 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }, '/');
    expect(r.ok && r.request.extensions).toBe('permessage-deflate; client_max_window_bits');
  });

  test('hop-by-hop fields and the key are not in forwardHeaders', () => {
    const r = validateH1Upgrade('GET', '1.1', { ...SAMPLE, 'keep-alive': 'timeout=5', cookie: 'a=1' }, '/chat');
    expect(r.ok && r.request.forwardHeaders).toEqual({ origin: 'http://example.com', cookie: 'a=1' });
  });
});

describe('RFC 6455 §4.2.1: rejections (400)', () => {
  test('step 1: not GET', () => {
    expect(rejected(validateH1Upgrade('POST', '1.1', SAMPLE, '/chat')).status).toBe(400);
  });

  test('step 1: HTTP/1.0', () => {
    expect(rejected(validateH1Upgrade('GET', '1.0', SAMPLE, '/chat')).status).toBe(400);
  });

  test('step 1: a request target that is not origin-form', () => {
    expect(rejected(validateH1Upgrade('GET', '1.1', SAMPLE, 'chat')).status).toBe(400);
  });

  test('step 2: no Host', () => {
    expect(rejected(validateH1Upgrade('GET', '1.1', without('host'), '/chat')).status).toBe(400);
  });

  test.each([['missing', undefined], ['h2c', 'h2c']])('step 3: Upgrade %s', (_label, value) => {
    expect(rejected(validateH1Upgrade('GET', '1.1', { ...SAMPLE, upgrade: value }, '/chat')).status).toBe(400);
  });

  test.each([['missing', undefined], ['keep-alive', 'keep-alive']])('step 4: Connection %s', (_label, value) => {
    expect(rejected(validateH1Upgrade('GET', '1.1', { ...SAMPLE, connection: value }, '/chat')).status).toBe(400);
  });

  test.each([
    ['missing', undefined],
    ['not base64 of 16 bytes', 'abc'],
    ['unpadded', 'dGhlIHNhbXBsZSBub25jZQ'],
    ['20 bytes', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
  ])('step 5: Sec-WebSocket-Key %s', (_label, value) => {
    const r = rejected(validateH1Upgrade('GET', '1.1', { ...SAMPLE, 'sec-websocket-key': value }, '/chat'));
    expect(r.status).toBe(400);
    expect(r.headers).toBeUndefined();
  });

  test.each([['missing', undefined], ['8', '8']])('step 6: Sec-WebSocket-Version %s -> 400 naming version 13 (§4.2.2)', (_label, value) => {
    const r = rejected(validateH1Upgrade('GET', '1.1', { ...SAMPLE, 'sec-websocket-version': value }, '/chat'));
    expect(r.status).toBe(400);
    expect(r.headers).toEqual({ 'sec-websocket-version': '13' });
    expect(r.h2Code).toBeUndefined();
  });
});
