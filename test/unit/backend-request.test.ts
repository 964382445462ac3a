/**
 * buildBackendRequest: the HTTP/1.1 opening handshake h2ws writes to the backend
 * (RFC 6455 §4.1), with forwarding fields per RFC 9110 §7.6.
 */
import { describe, expect, test } from 'vitest';
import { buildBackendRequest, type ForwardedFor } from '../../src/handshake/backend-request.ts';
import { validateExtendedConnect } from '../../src/handshake/extended-connect.ts';
import { validateH1Upgrade } from '../../src/handshake/h1-upgrade.ts';
import type { HandshakeResult, WebSocketRequest } from '../../src/handshake/websocket-request.ts';

const FRESH_KEY = 'x3JJHMbDL1EzLkh9GBhXDw==';
const CLIENT_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const H2_CLIENT: ForwardedFor = { clientAddress: '198.51.100.1', proto: 'https' };
const H1_CLIENT: ForwardedFor = { clientAddress: '2001:db8::1', proto: 'http' };

function request(result: HandshakeResult): WebSocketRequest {
  if (!result.ok) throw new Error(result.rejection.message);
  return result.request;
}

const h2Request = request(validateExtendedConnect({
  ':method': 'CONNECT',
  ':protocol': 'websocket',
  ':scheme': 'https',
  ':authority': 'chat.example.com',
  ':path': '/chat?room=1',
  origin: 'https://chat.example.com',
  cookie: ['session=abc', 'theme=dark'],
  'sec-websocket-version': '13',
  'sec-websocket-key': CLIENT_KEY,
  'sec-websocket-protocol': 'chat, superchat',
  'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
  'x-forwarded-for': '203.0.113.7',
  'x-forwarded-proto': 'http',
  via: '1.1 evil',
  'user-agent': 'test/1',
}));

const h1Request = request(validateH1Upgrade('GET', '1.1', {
  host: 'chat.example.com:8080',
  upgrade: 'websocket',
  connection: 'keep-alive, Upgrade, X-Secret',
  'keep-alive': 'timeout=5',
  'proxy-connection': 'keep-alive',
  te: 'trailers',
  trailer: 'x-checksum',
  'transfer-encoding': 'chunked',
  'x-secret': 'hop',
  'sec-websocket-key': CLIENT_KEY,
  'sec-websocket-version': '13',
  origin: 'http://chat.example.com',
  cookie: 'session=abc',
}, '/chat'));

/** The request split into its request line and [name, value] pairs, checking the framing. */
function parse(raw: string): { line: string; fields: Array<[string, string]> } {
  if (raw.indexOf('\r\n\r\n') !== raw.length - 4) throw new Error(`not one head ending in a blank line: ${JSON.stringify(raw)}`);
  const [line, ...rest] = raw.slice(0, -4).split('\r\n');
  const fields = rest.map((l): [string, string] => {
    const colon = l.indexOf(':');
    if (colon <= 0) throw new Error(`malformed field line ${JSON.stringify(l)}`);
    return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).trim()];
  });
  return { line: line!, fields };
}

function all(fields: Array<[string, string]>, name: string): string[] {
  return fields.filter(([n]) => n === name).map(([, v]) => v);
}

describe('an h2 client bridged to the backend', () => {
  const raw = buildBackendRequest(h2Request, '/ws/chat?room=1', FRESH_KEY, H2_CLIENT);
  const { line, fields } = parse(raw);

  test('one head: every line a field, ending in exactly one blank line', () => {
    expect(raw.endsWith('\r\n\r\n')).toBe(true);
    expect(raw.indexOf('\r\n\r\n')).toBe(raw.length - 4);
    expect(fields.length).toBe(raw.split('\r\n').length - 3);
  });

  test('RFC 6455 §4.1: GET with the backend path, HTTP/1.1', () => {
    expect(line).toBe('GET /ws/chat?room=1 HTTP/1.1');
  });

  test('RFC 6455 §4.1 step 4: Host from :authority', () => {
    expect(all(fields, 'host')).toEqual(['chat.example.com']);
  });

  test('Upgrade: websocket and Connection: Upgrade, once each', () => {
    expect(all(fields, 'upgrade')).toEqual(['websocket']);
    expect(all(fields, 'connection')).toEqual(['Upgrade']);
  });

  test('the fresh key is used and the client key is never forwarded', () => {
    expect(all(fields, 'sec-websocket-key')).toEqual([FRESH_KEY]);
    expect(raw).not.toContain(CLIENT_KEY);
  });

  test('Sec-WebSocket-Version: 13', () => {
    expect(all(fields, 'sec-websocket-version')).toEqual(['13']);
  });

  test('the offered subprotocols and extensions are forwarded once', () => {
    expect(all(fields, 'sec-websocket-protocol')).toEqual(['chat, superchat']);
    expect(all(fields, 'sec-websocket-extensions')).toEqual(['permessage-deflate; client_max_window_bits']);
  });

  test('Origin and other end-to-end fields are forwarded', () => {
    expect(all(fields, 'origin')).toEqual(['https://chat.example.com']);
    expect(all(fields, 'user-agent')).toEqual(['test/1']);
  });

  test('RFC 9113 §8.2.3: h2 cookie fields are joined with "; "', () => {
    expect(all(fields, 'cookie')).toEqual(['session=abc; theme=dark']);
  });

  test('X-Forwarded-For is replaced by the client address: the client is no trusted proxy, so its own X-Forwarded-For is not believed (issue 15 item 4)', () => {
    expect(all(fields, 'x-forwarded-for')).toEqual(['198.51.100.1']);
  });

  test('X-Forwarded-For appends the client address to the one received from a trusted proxy', () => {
    const trusted = parse(buildBackendRequest({ ...h2Request, trustedProxy: true }, '/ws/chat?room=1', FRESH_KEY, H2_CLIENT)).fields;
    expect(all(trusted, 'x-forwarded-for')).toEqual(['203.0.113.7, 198.51.100.1']);
  });

  test('X-Forwarded-Proto is what h2ws saw, not what the client claimed', () => {
    expect(all(fields, 'x-forwarded-proto')).toEqual(['https']);
  });

  test('RFC 9110 §7.6.3: Via "2 h2ws" appended for a request that arrived over HTTP/2', () => {
    expect(all(fields, 'via')).toEqual(['1.1 evil, 2 h2ws']);
  });
});

describe('an HTTP/1.1 client bridged to the backend', () => {
  const raw = buildBackendRequest(h1Request, '/chat', FRESH_KEY, H1_CLIENT);
  const { line, fields } = parse(raw);

  test('request line and Host (with port) from the client', () => {
    expect(line).toBe('GET /chat HTTP/1.1');
    expect(all(fields, 'host')).toEqual(['chat.example.com:8080']);
  });

  test('the fresh key replaces the client key', () => {
    expect(all(fields, 'sec-websocket-key')).toEqual([FRESH_KEY]);
    expect(raw).not.toContain(CLIENT_KEY);
  });

  test('RFC 9110 §7.6.1: hop-by-hop fields, including those named in Connection, are stripped', () => {
    for (const name of ['keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'x-secret']) {
      expect(all(fields, name)).toEqual([]);
    }
    expect(all(fields, 'connection')).toEqual(['Upgrade']);
    expect(all(fields, 'upgrade')).toEqual(['websocket']);
  });

  test('X-Forwarded-For is the client address alone when none was received', () => {
    expect(all(fields, 'x-forwarded-for')).toEqual(['2001:db8::1']);
  });

  test('X-Forwarded-Proto http and Via "1.1 h2ws"', () => {
    expect(all(fields, 'x-forwarded-proto')).toEqual(['http']);
    expect(all(fields, 'via')).toEqual(['1.1 h2ws']);
  });

  test('no offer -> no Sec-WebSocket-Protocol or -Extensions line', () => {
    expect(all(fields, 'sec-websocket-protocol')).toEqual([]);
    expect(all(fields, 'sec-websocket-extensions')).toEqual([]);
  });

  test('the exact bytes (with the RFC 7239 Forwarded field h2ws now sends, issue 15 item 4)', () => {
    expect(raw).toBe([
      'GET /chat HTTP/1.1',
      'Host: chat.example.com:8080',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${FRESH_KEY}`,
      'Sec-WebSocket-Version: 13',
      'origin: http://chat.example.com',
      'cookie: session=abc',
      'X-Forwarded-For: 2001:db8::1',
      'X-Forwarded-Proto: http',
      'Forwarded: for="[2001:db8::1]";proto=http',
      'Via: 1.1 h2ws',
    ].join('\r\n') + '\r\n\r\n');
  });
});

test('RFC 9110 §5.5: an extension offer carrying CR/LF is dropped, not written', () => {
  const raw = buildBackendRequest({ ...h2Request, extensions: 'permessage-deflate\r\nX-Injected: 1' }, '/', FRESH_KEY, H2_CLIENT);
  expect(raw).not.toContain('X-Injected');
  expect(all(parse(raw).fields, 'sec-websocket-extensions')).toEqual([]);
});
