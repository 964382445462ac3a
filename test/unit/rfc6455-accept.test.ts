/** RFC 6455 §1.3 / §4.1 / §4.2.2: Sec-WebSocket-Key and Sec-WebSocket-Accept. */
import { describe, expect, test } from 'vitest';
import { computeAccept, generateKey, WEBSOCKET_GUID } from '../../src/handshake/accept.ts';
import { validateH1Upgrade } from '../../src/handshake/h1-upgrade.ts';

describe('computeAccept', () => {
  test('§1.3: the GUID', () => {
    expect(WEBSOCKET_GUID).toBe('258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
  });

  test('§1.3: the sample key "dGhlIHNhbXBsZSBub25jZQ==" -> "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="', () => {
    expect(computeAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('§4.2.2: base64(SHA-1(key + GUID)) for another key', () => {
    // Computed independently: printf '%s' "AQIDBAUGBwgJCgsMDQ4PEA==$GUID" | openssl sha1 -binary | base64
    expect(computeAccept('AQIDBAUGBwgJCgsMDQ4PEA==')).toBe('C/0nmHhBztSRGR1CwL6Tf4ZjwpY=');
  });
});

describe('generateKey (§4.1: "a nonce consisting of a randomly selected 16-byte value ... base64-encoded")', () => {
  test('24 base64 characters that decode to 16 bytes', () => {
    const key = generateKey();
    expect(key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(Buffer.from(key, 'base64').length).toBe(16);
  });

  test('fresh each time, across refills of the random pool (64 keys per refill)', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateKey()));
    expect(keys.size).toBe(1000);
  });

  test('a generated key passes a server\'s §4.2.1 check', () => {
    const r = validateH1Upgrade('GET', '1.1', { host: 'h', upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': generateKey(), 'sec-websocket-version': '13' }, '/');
    expect(r.ok).toBe(true);
  });
});
