/**
 * Headers a backend might trust (issue 15 item 4, docs/operations.md "Forwarding headers"): a client's
 * X-Forwarded-For, Forwarded and X-Real-IP never reach the backend as sent, unless the client
 * is one of `trustedProxies`, whose fields are kept and extended with h2ws's hop.
 */
import { describe, expect, test } from 'vitest';
import { backendFields, buildBackendH2Fields, forwardedElement, type ForwardedFor } from '../../src/handshake/backend-request.ts';
import { validateExtendedConnect } from '../../src/handshake/extended-connect.ts';
import { validateH1Upgrade } from '../../src/handshake/h1-upgrade.ts';
import { isTrustedProxy, parseProxyRange } from '../../src/handshake/proxy-trust.ts';
import type { HandshakeResult, WebSocketRequest } from '../../src/handshake/websocket-request.ts';
import { parseArgs } from '../../src/config/argv.ts';
import { parseConfigFile, resolveOptions } from '../../src/config/resolve.ts';
import { ErrorCode } from '../../src/errors.ts';

const SPOOFED = {
  'x-forwarded-for': '6.6.6.6',
  forwarded: 'for=6.6.6.6;proto=https',
  'x-real-ip': '6.6.6.6',
  'x-forwarded-proto': 'https',
  origin: 'https://app.example',
};
const V4: ForwardedFor = { clientAddress: '198.51.100.1', proto: 'http' };
const V6: ForwardedFor = { clientAddress: '2001:db8::1', proto: 'https' };

function request(result: HandshakeResult): WebSocketRequest {
  if (!result.ok) throw new Error(result.rejection.message);
  return result.request;
}
const h2 = (trustedProxy: boolean) =>
  request(validateExtendedConnect({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':authority': 'h', ':path': '/x', ...SPOOFED }, { trustedProxy }));
const h1 = (trustedProxy: boolean) =>
  request(validateH1Upgrade('GET', '1.1', {
    host: 'h', upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...SPOOFED,
  }, '/x', { trustedProxy }));
const fieldMap = (fields: Array<[string, string]>) => {
  const names = fields.map(([n]) => n);
  expect(new Set(names).size, `each field once: ${names.join(', ')}`).toBe(names.length);
  return Object.fromEntries(fields);
};

describe.each([['h2', h2], ['h1', h1]] as const)('over %s, from a client that is no trusted proxy', (transport, make) => {
  const f = fieldMap(backendFields(make(false), V4));

  test('X-Forwarded-For is replaced by the address h2ws saw', () => {
    expect(f['x-forwarded-for']).toBe('198.51.100.1');
  });
  test('Forwarded is replaced by h2ws\'s own element (RFC 7239)', () => {
    expect(f.forwarded).toBe('for=198.51.100.1;proto=http');
  });
  test('X-Real-IP is stripped', () => {
    expect(f['x-real-ip']).toBeUndefined();
  });
  test('X-Forwarded-Proto is the scheme h2ws was reached with', () => {
    expect(f['x-forwarded-proto']).toBe('http');
  });
  test('other end-to-end fields still pass', () => {
    expect(f.origin).toBe('https://app.example');
    expect(f.via).toBe(transport === 'h2' ? '2 h2ws' : '1.1 h2ws');
  });
});

describe.each([['h2', h2], ['h1', h1]] as const)('over %s, from a trusted proxy', (_transport, make) => {
  const f = fieldMap(backendFields(make(true), V4));

  test('X-Forwarded-For is kept and h2ws appends its hop', () => {
    expect(f['x-forwarded-for']).toBe('6.6.6.6, 198.51.100.1');
  });
  test('Forwarded is kept and h2ws appends its element', () => {
    expect(f.forwarded).toBe('for=6.6.6.6;proto=https, for=198.51.100.1;proto=http');
  });
  test('X-Real-IP is kept', () => {
    expect(f['x-real-ip']).toBe('6.6.6.6');
  });
  test('X-Forwarded-Proto is still h2ws\'s own', () => {
    expect(f['x-forwarded-proto']).toBe('http');
  });
});

test('a trusted proxy that sent no forwarding fields: h2ws\'s hop alone', () => {
  const r = request(validateExtendedConnect({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':authority': 'h', ':path': '/x' }, { trustedProxy: true }));
  const f = fieldMap(backendFields(r, V6));
  expect([f['x-forwarded-for'], f.forwarded, f['x-real-ip']]).toEqual(['2001:db8::1', 'for="[2001:db8::1]";proto=https', undefined]);
});

test('the RFC 8441 backend request follows the same policy', () => {
  const f = buildBackendH2Fields(h2(false), V4);
  expect([f['x-forwarded-for'], f.forwarded, f['x-real-ip']]).toEqual(['198.51.100.1', 'for=198.51.100.1;proto=http', undefined]);
});

describe('RFC 7239 forwarded-element', () => {
  test.each([
    ['192.0.2.60', 'http', 'for=192.0.2.60;proto=http'],
    ['2001:db8:cafe::17', 'https', 'for="[2001:db8:cafe::17]";proto=https'], // §6: IPv6 bracketed and quoted
    ['::ffff:127.0.0.1', 'http', 'for="[::ffff:127.0.0.1]";proto=http'],
    ['unknown', 'http', 'for=unknown;proto=http'], // §6.2
  ] as const)('%s, %s → %s', (clientAddress, proto, expected) => {
    expect(forwardedElement({ clientAddress, proto })).toBe(expected);
  });
});

describe('trusted proxy ranges', () => {
  test.each([
    ['127.0.0.1', ['127.0.0.1'], true],
    ['127.0.0.2', ['127.0.0.1'], false],
    ['10.1.2.3', ['10.0.0.0/8'], true],
    ['11.1.2.3', ['10.0.0.0/8'], false],
    ['192.168.1.77', ['192.168.1.64/26'], true],
    ['192.168.1.128', ['192.168.1.64/26'], false],
    ['::ffff:10.1.2.3', ['10.0.0.0/8'], true], // IPv4-mapped IPv6 counts as IPv4
    ['2001:db8::1', ['2001:db8::/32'], true],
    ['2001:db9::1', ['2001:db8::/32'], false],
    ['::1', ['::1'], true],
    ['::1', ['127.0.0.1'], false],
    ['1.2.3.4', ['0.0.0.0/0'], true],
    ['1.2.3.4', [], false],
    [undefined, ['0.0.0.0/0'], false],
    ['fe80::1%eth0', ['fe80::/10'], true],
  ] as const)('%s in %j → %s', (address, ranges, expected) => {
    expect(isTrustedProxy(address, ranges)).toBe(expected);
  });

  test.each(['', 'localhost', '10.0.0.256', '10.0.0', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/x', '2001:db8::/129', '1::2::3', ':::', '01.2.3.4', '1:2:3:4:5:6:7:8:9'])('%j is not a range', (text) => {
    expect(parseProxyRange(text)).toBeInstanceOf(Error);
  });

  test.each(['10.0.0.1', '10.0.0.0/8', '::', '::/0', '2001:db8::1', 'fe80::/10', '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8'])('%j is a range', (text) => {
    expect(parseProxyRange(text)).not.toBeInstanceOf(Error);
  });
});

describe('the trustedProxies option', () => {
  const resolve = (file: unknown, argv: string[]) => resolveOptions(parseConfigFile(file), parseArgs(argv), (t) => t).options;

  test('absent by default: nobody is trusted', () => {
    expect(resolve({}, []).trustedProxies).toBeUndefined();
  });
  test('config field trustedProxies', () => {
    expect(resolve({ trustedProxies: ['10.0.0.0/8', '::1'] }, []).trustedProxies).toEqual(['10.0.0.0/8', '::1']);
  });
  test('--trusted-proxy is repeatable and replaces the file\'s list', () => {
    expect(parseArgs(['--trusted-proxy', '10.0.0.1', '--trusted-proxy=::1']).trustedProxies).toEqual(['10.0.0.1', '::1']);
    expect(resolve({ trustedProxies: ['10.0.0.0/8'] }, ['--trusted-proxy', '127.0.0.1']).trustedProxies).toEqual(['127.0.0.1']);
  });
  test('a bad config value names the field', () => {
    expect(() => parseConfigFile({ trustedProxies: ['10.0.0.0/8', 'proxy.example'] }))
      .toThrow(expect.objectContaining({ code: ErrorCode.CONFIG, field: 'trustedProxies.1', message: expect.stringMatching(/trustedProxies\.1.*not an IP address/) }));
    expect(() => parseConfigFile({ trustedProxies: '10.0.0.1' })).toThrow(expect.objectContaining({ field: 'trustedProxies' }));
  });
  test('a bad flag value names the flag', () => {
    expect(() => resolve({}, ['--trusted-proxy', '10.0.0.0/40'])).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG, field: '--trusted-proxy' }));
    expect(() => parseArgs(['--trusted-proxy'])).toThrow(expect.objectContaining({ field: '--trusted-proxy' }));
  });
});
