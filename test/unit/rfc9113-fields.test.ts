/**
 * HTTP/2 field validation: RFC 9113 §8.1.1, §8.2, §8.3, §8.5 and RFC 8441 §4. Each
 * violation must come back as a one-line reason (the connection's stream error PROTOCOL_ERROR).
 */
import { describe, expect, test } from 'vitest';
import {
  type Checked,
  checkRequestFields,
  checkResponseFields,
  checkTrailerFields,
  type RequestHead,
  type ResponseHead,
} from '../../src/h2/field-validation.ts';

type Options = { readonly connectProtocol: boolean };
const EXT: Options = { connectProtocol: true };
const NO_EXT: Options = { connectProtocol: false };
const GET = [':method', 'GET', ':scheme', 'https', ':authority', 'example.com', ':path', '/'];
const CHROMIUM_WS = [
  ':method', 'CONNECT',
  ':protocol', 'websocket',
  ':scheme', 'https',
  ':authority', 'chat.example.com',
  ':path', '/chat?room=1',
  'origin', 'https://chat.example.com',
  'sec-websocket-version', '13',
  'sec-websocket-protocol', 'chat, superchat',
  'sec-websocket-extensions', 'permessage-deflate; client_max_window_bits',
];

function request(fields: readonly string[], options: Options = EXT): RequestHead {
  return head(checkRequestFields(fields, options));
}
function response(fields: readonly string[]): ResponseHead {
  return head(checkResponseFields(fields));
}
function head<T>(checked: Checked<T>): T {
  if (!checked.ok) throw new Error(`unexpected rejection: ${checked.reason}`);
  return checked.head;
}
/** The reason, asserting it is one line and cites a section. */
function reason<T>(checked: Checked<T>): string {
  if (checked.ok) throw new Error('expected a rejection');
  expect(checked.reason).not.toMatch(/[\r\n]/);
  return checked.reason;
}
const rejectRequest = (fields: readonly string[], options: Options = EXT): string => reason(checkRequestFields(fields, options));
const rejectResponse = (fields: readonly string[]): string => reason(checkResponseFields(fields));

describe('valid requests (RFC 9113 §8.3.1)', () => {
  test('GET', () => {
    const h = request([...GET, 'accept', '*/*', 'user-agent', 'test']);
    expect(h).toEqual({
      method: 'GET', scheme: 'https', authority: 'example.com', path: '/', protocol: undefined, contentLength: undefined,
      headers: { ':method': 'GET', ':scheme': 'https', ':authority': 'example.com', ':path': '/', accept: '*/*', 'user-agent': 'test' },
    });
  });

  test('GET without :authority (optional outside CONNECT)', () => {
    expect(request([':method', 'GET', ':scheme', 'https', ':path', '/x']).authority).toBeUndefined();
  });

  test('OPTIONS with :path "*"', () => {
    expect(request([':method', 'OPTIONS', ':scheme', 'https', ':path', '*']).path).toBe('*');
  });

  test('POST with content-length (RFC 9113 §8.1.1)', () => {
    const h = request([':method', 'POST', ':scheme', 'https', ':path', '/upload', 'content-type', 'text/plain', 'content-length', '42']);
    expect(h.method).toBe('POST');
    expect(h.contentLength).toBe(42);
    expect(h.headers['content-length']).toBe('42');
  });

  test('content-length 0 and with leading zeros', () => {
    expect(request([...GET, 'content-length', '0']).contentLength).toBe(0);
    expect(request([...GET, 'content-length', '007']).contentLength).toBe(7);
  });

  test('plain CONNECT (RFC 9113 §8.5)', () => {
    const h = request([':method', 'CONNECT', ':authority', 'backend.example:443'], NO_EXT);
    expect(h).toMatchObject({ method: 'CONNECT', authority: 'backend.example:443', scheme: undefined, path: undefined, protocol: undefined });
  });

  test('the extended CONNECT Chromium sends (RFC 8441 §4)', () => {
    const h = request(CHROMIUM_WS);
    expect(h).toMatchObject({ method: 'CONNECT', protocol: 'websocket', scheme: 'https', authority: 'chat.example.com', path: '/chat?room=1', contentLength: undefined });
    expect(h.headers).toEqual({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'https',
      ':authority': 'chat.example.com',
      ':path': '/chat?room=1',
      origin: 'https://chat.example.com',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'chat, superchat',
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
    });
  });

  test('pseudo-headers in any order among themselves', () => {
    expect(request([':path', '/', ':authority', 'a', ':scheme', 'http', ':method', 'GET']).method).toBe('GET');
  });

  test('an empty value and inner whitespace are allowed (RFC 9113 §8.2.1)', () => {
    const h = request([...GET, 'x-empty', '', 'x-inner', 'a \tb']);
    expect(h.headers['x-empty']).toBe('');
    expect(h.headers['x-inner']).toBe('a \tb');
  });

  test('te: trailers is allowed (RFC 9113 §8.2.2)', () => {
    expect(request([...GET, 'te', 'trailers']).headers.te).toBe('trailers');
    expect(request([...GET, 'te', 'Trailers']).headers.te).toBe('Trailers');
  });
});

describe('RFC 9113 §8.2: field names are lower case', () => {
  test('uppercase in a regular field name', () => {
    expect(rejectRequest([...GET, 'Content-Type', 'text/plain'])).toMatch(/uppercase.*§8\.2\)/);
  });

  test('uppercase in a pseudo-header name', () => {
    expect(rejectRequest([':Method', 'GET', ':scheme', 'https', ':path', '/'])).toMatch(/uppercase.*§8\.2\)/);
  });
});

describe('RFC 9113 §8.2.1: field name characters', () => {
  test('empty name', () => {
    expect(rejectRequest([...GET, '', 'x'])).toMatch(/empty field name.*§8\.2\.1/);
  });

  test.each([
    ['space', 'x foo'],
    ['HTAB', 'x\tfoo'],
    ['NUL', 'x\0foo'],
    ['CR LF', 'x\r\nfoo'],
    ['0x01', 'x\x01'],
    ['DEL 0x7f', 'x\x7f'],
    ['0x80', 'x\x80'],
    ['0xff', '\xffx'],
    ['beyond latin1', 'x\u0100'],
  ])('%s in a name', (_label, name) => {
    const r = rejectRequest([...GET, name, 'v']);
    expect(r).toMatch(/not allowed in a name.*§8\.2\.1/);
  });

  test('colon inside a regular name', () => {
    expect(rejectRequest([...GET, 'x:y', 'v'])).toMatch(/colon.*§8\.2\.1/);
  });

  test('a second colon in a pseudo-header name', () => {
    expect(rejectRequest(['::method', 'GET', ':scheme', 'https', ':path', '/'])).toMatch(/colon.*§8\.2\.1/);
  });

  test('a colon alone', () => {
    expect(rejectRequest([...GET, ':', 'v'])).toMatch(/§8\.2\.1/);
  });

  test('every visible non-uppercase ASCII character except colon is allowed', () => {
    let name = '';
    for (let c = 0x21; c < 0x7f; c++) if ((c < 0x41 || c > 0x5a) && c !== 0x3a) name += String.fromCharCode(c);
    expect(request([...GET, name, 'v']).headers[name]).toBe('v');
  });

  test('the lookup table agrees with the RFC ranges for all 256 octets', () => {
    for (let c = 0; c < 256; c++) {
      const name = `x${String.fromCharCode(c)}`;
      const allowed = c > 0x20 && !(c >= 0x41 && c <= 0x5a) && c < 0x7f && c !== 0x3a;
      expect(checkRequestFields([...GET, name, 'v'], EXT).ok, `octet 0x${c.toString(16)}`).toBe(allowed);
    }
  });

  test('the reason escapes control characters so it stays one line', () => {
    expect(rejectRequest([...GET, 'x\r\ny', 'v'])).toContain('"x\\x0d\\x0ay"');
  });
});

describe('RFC 9113 §8.2.1: field values', () => {
  test.each([
    ['NUL', 'a\0b'],
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
    ['CR LF at the end', 'a\r\n'],
  ])('%s in a value', (_label, value) => {
    expect(rejectRequest([...GET, 'x-v', value])).toMatch(/NUL, CR or LF.*§8\.2\.1/);
  });

  test.each([
    ['leading SP', ' a', /starts with whitespace/],
    ['leading HTAB', '\ta', /starts with whitespace/],
    ['trailing SP', 'a ', /ends with whitespace/],
    ['trailing HTAB', 'a\t', /ends with whitespace/],
    ['a single SP', ' ', /starts with whitespace/],
  ])('%s', (_label, value, pattern) => {
    const r = rejectRequest([...GET, 'x-v', value]);
    expect(r).toMatch(pattern);
    expect(r).toMatch(/§8\.2\.1/);
  });

  test('pseudo-header values are checked too: CR LF in :path', () => {
    expect(rejectRequest([':method', 'GET', ':scheme', 'https', ':path', '/\r\nx-injected: 1'])).toMatch(/NUL, CR or LF/);
  });

  test('the reason never echoes the value (it may be a credential)', () => {
    expect(rejectRequest([...GET, 'authorization', 'Bearer secret\n'])).not.toContain('secret');
  });
});

describe('RFC 9113 §8.2.2: connection-specific fields', () => {
  test.each(['connection', 'proxy-connection', 'keep-alive', 'transfer-encoding', 'upgrade'])('%s in a request', (name) => {
    expect(rejectRequest([...GET, name, 'x'])).toMatch(new RegExp(`connection-specific field "${name}".*§8\\.2\\.2`));
  });

  test('connection-specific field in a response', () => {
    expect(rejectResponse([':status', '200', 'transfer-encoding', 'chunked'])).toMatch(/§8\.2\.2/);
  });

  test('connection-specific field in trailers', () => {
    expect(reason(checkTrailerFields(['connection', 'close']))).toMatch(/§8\.2\.2/);
  });

  test.each(['gzip', 'trailers, deflate', 'trailers;q=1', ''])('te: %j is malformed', (value) => {
    expect(rejectRequest([...GET, 'te', value])).toMatch(/te with a value other than "trailers".*§8\.2\.2/);
  });
});

describe('RFC 9113 §8.3: pseudo-header fields', () => {
  test('undefined request pseudo-header', () => {
    expect(rejectRequest([...GET, ':foo', 'x'])).toMatch(/":foo" is not defined for a request.*§8\.3\)/);
  });

  test(':status in a request', () => {
    expect(rejectRequest([':status', '200', ...GET])).toMatch(/":status" is not defined for a request/);
  });

  test(':method in a response', () => {
    expect(rejectResponse([':status', '200', ':method', 'GET'])).toMatch(/":method" is not defined for a response/);
  });

  test(':path in a response', () => {
    expect(rejectResponse([':path', '/', ':status', '200'])).toMatch(/":path" is not defined for a response/);
  });

  test('pseudo-header after a regular field (request)', () => {
    expect(rejectRequest([':method', 'GET', ':scheme', 'https', 'accept', '*/*', ':path', '/'])).toMatch(/after a regular field.*§8\.3\)/);
  });

  test('pseudo-header after a regular field (response)', () => {
    expect(rejectResponse(['server', 'x', ':status', '200'])).toMatch(/after a regular field/);
  });

  test.each([':method', ':scheme', ':authority', ':path'])('repeated %s', (name) => {
    const value = name === ':method' ? 'GET' : name === ':path' ? '/' : 'x';
    expect(rejectRequest([...GET, name, value])).toMatch(new RegExp(`${name} repeated.*§8\\.3\\)`));
  });

  test('repeated :protocol', () => {
    expect(rejectRequest([...CHROMIUM_WS.slice(0, 10), ':protocol', 'websocket'])).toMatch(/:protocol repeated/);
  });

  test('repeated :status', () => {
    expect(rejectResponse([':status', '200', ':status', '200'])).toMatch(/:status repeated.*§8\.3\)/);
  });

  test('pseudo-header in trailers (RFC 9113 §8.1)', () => {
    expect(reason(checkTrailerFields(['grpc-status', '0', ':status', '200']))).toMatch(/in trailers.*§8\.1\)/);
    expect(reason(checkTrailerFields([':path', '/']))).toMatch(/in trailers/);
  });

  test('empty :path (RFC 9113 §8.3.1)', () => {
    expect(rejectRequest([':method', 'GET', ':scheme', 'https', ':path', ''])).toMatch(/empty :path.*§8\.3\.1/);
  });
});

describe('RFC 9113 §8.3.1: request pseudo-headers', () => {
  test('missing :method', () => {
    expect(rejectRequest([':scheme', 'https', ':path', '/'])).toMatch(/without :method.*§8\.3\.1/);
  });

  test('empty :method', () => {
    expect(rejectRequest([':method', '', ':scheme', 'https', ':path', '/'])).toMatch(/empty :method/);
  });

  test('missing :scheme', () => {
    expect(rejectRequest([':method', 'GET', ':path', '/'])).toMatch(/without :scheme.*§8\.3\.1/);
  });

  test('missing :path', () => {
    expect(rejectRequest([':method', 'POST', ':scheme', 'https', ':authority', 'a'])).toMatch(/without :path.*§8\.3\.1/);
  });

  test('no fields at all', () => {
    expect(rejectRequest([])).toMatch(/without :method/);
  });
});

describe('RFC 9113 §8.5: plain CONNECT', () => {
  test('without :authority', () => {
    expect(rejectRequest([':method', 'CONNECT'])).toMatch(/CONNECT without :authority.*§8\.5/);
    expect(rejectRequest([':method', 'CONNECT', ':authority', ''])).toMatch(/CONNECT without :authority/);
  });

  test('with :scheme', () => {
    expect(rejectRequest([':method', 'CONNECT', ':authority', 'a:443', ':scheme', 'https'])).toMatch(/:scheme but no :protocol.*§8\.5/);
  });

  test('with :path', () => {
    expect(rejectRequest([':method', 'CONNECT', ':authority', 'a:443', ':path', '/'])).toMatch(/:path but no :protocol.*§8\.5/);
  });
});

describe('RFC 8441 §4: extended CONNECT', () => {
  const without = (name: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < CHROMIUM_WS.length; i += 2) if (CHROMIUM_WS[i] !== name) out.push(CHROMIUM_WS[i]!, CHROMIUM_WS[i + 1]!);
    return out;
  };

  test(':protocol on a non-CONNECT request', () => {
    expect(rejectRequest([...GET, ':protocol', 'websocket'])).toMatch(/:protocol on a "GET" request.*RFC 8441 §4/);
  });

  test(':protocol when SETTINGS_ENABLE_CONNECT_PROTOCOL was not sent is an undefined pseudo-header', () => {
    expect(rejectRequest(CHROMIUM_WS, NO_EXT)).toMatch(/":protocol" is not defined for a request.*§8\.3\)/);
  });

  test.each([':scheme', ':path', ':authority'])('extended CONNECT without %s', (name) => {
    expect(rejectRequest(without(name))).toMatch(new RegExp(`extended CONNECT without ${name} \\(RFC 8441 §4\\)`));
  });

  test.each([':scheme', ':path', ':authority'])('extended CONNECT with an empty %s', (name) => {
    const fields = CHROMIUM_WS.slice();
    fields[fields.indexOf(name) + 1] = '';
    expect(rejectRequest(fields)).toMatch(new RegExp(`extended CONNECT without ${name}`));
  });

  test('the :protocol value itself is left to the handshake (501 for unknown protocols)', () => {
    const fields = CHROMIUM_WS.slice();
    fields[3] = 'connect-udp';
    expect(request(fields).protocol).toBe('connect-udp');
  });
});

describe('RFC 9113 §8.3.2: response pseudo-headers', () => {
  test('valid responses', () => {
    expect(response([':status', '200'])).toEqual({ status: 200, contentLength: undefined, headers: { ':status': '200' } });
    const h = response([':status', '404', 'content-type', 'text/plain', 'content-length', '9']);
    expect(h.status).toBe(404);
    expect(h.contentLength).toBe(9);
    expect(h.headers).toEqual({ ':status': '404', 'content-type': 'text/plain', 'content-length': '9' });
    expect(response([':status', '100']).status).toBe(100);
    expect(response([':status', '599']).status).toBe(599);
  });

  test(':status is a string in headers, a number in status (node-compatible)', () => {
    const h = response([':status', '204']);
    expect(h.headers[':status']).toBe('204');
    expect(h.status).toBe(204);
  });

  test('missing :status', () => {
    expect(rejectResponse(['content-type', 'text/plain'])).toMatch(/without :status.*§8\.3\.2/);
    expect(rejectResponse([])).toMatch(/without :status/);
  });

  test.each(['20', '2000', '', '2a0', '+20', ' 200', '２00'])('%j is not three digits', (status) => {
    expect(checkResponseFields([':status', status]).ok).toBe(false);
  });

  test.each(['000', '099', '600', '999'])('%s is outside 100..599 (RFC 9110 §15)', (status) => {
    expect(rejectResponse([':status', status])).toMatch(/outside 100\.\.599/);
  });
});

describe('RFC 9113 §8.1.1: content-length', () => {
  test.each(['-1', '1.5', '0x10', '1e3', '+5', '4 2', '42, 42', 'abc'])('%j is not a non-negative decimal integer', (value) => {
    expect(rejectRequest([...GET, 'content-length', value])).toMatch(/content-length.*§8\.1\.1/);
  });

  test('empty content-length', () => {
    expect(rejectRequest([...GET, 'content-length', ''])).toMatch(/empty content-length/);
  });

  test('larger than Number.MAX_SAFE_INTEGER', () => {
    expect(request([...GET, 'content-length', String(Number.MAX_SAFE_INTEGER)]).contentLength).toBe(Number.MAX_SAFE_INTEGER);
    expect(rejectRequest([...GET, 'content-length', '9007199254740992'])).toMatch(/too large/);
    expect(rejectRequest([...GET, 'content-length', '9'.repeat(400)])).toMatch(/too large/);
  });

  test('repeated with different values is malformed', () => {
    expect(rejectRequest([...GET, 'content-length', '5', 'content-length', '6'])).toMatch(/different values.*§8\.1\.1/);
    expect(rejectResponse([':status', '200', 'content-length', '5', 'content-length', '6'])).toMatch(/different values/);
  });

  test('repeated with the same value is kept once', () => {
    const h = request([...GET, 'content-length', '5', 'content-length', '05']);
    expect(h.contentLength).toBe(5);
    expect(h.headers['content-length']).toBe('5');
  });

  test('in a response', () => {
    expect(rejectResponse([':status', '200', 'content-length', '-3'])).toMatch(/§8\.1\.1/);
  });
});

describe('trailers (RFC 9113 §8.1)', () => {
  test('regular fields only', () => {
    const checked = checkTrailerFields(['grpc-status', '0', 'grpc-message', 'ok', 'x-checksum', 'a', 'x-checksum', 'b']);
    expect(head(checked).headers).toEqual({ 'grpc-status': '0', 'grpc-message': 'ok', 'x-checksum': 'a, b' });
  });

  test('empty trailers', () => {
    expect(head(checkTrailerFields([])).headers).toEqual({});
  });

  test('field rules still apply', () => {
    expect(reason(checkTrailerFields(['X-Upper', 'v']))).toMatch(/uppercase/);
    expect(reason(checkTrailerFields(['x', 'a\nb']))).toMatch(/NUL, CR or LF/);
  });
});

describe('node-compatible header record', () => {
  test('RFC 9113 §8.2.3: cookie crumbs are joined with "; "', () => {
    const h = request([...GET, 'cookie', 'a=1', 'accept', '*/*', 'cookie', 'b=2', 'cookie', 'c=3']);
    expect(h.headers.cookie).toBe('a=1; b=2; c=3');
  });

  test('set-cookie is always an array', () => {
    expect(response([':status', '200', 'set-cookie', 'a=1']).headers['set-cookie']).toEqual(['a=1']);
    expect(response([':status', '200', 'set-cookie', 'a=1; Path=/', 'set-cookie', 'b=2, c']).headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2, c']);
  });

  test('RFC 9110 §5.3: other repeated fields are joined with ", "', () => {
    const h = request([...GET, 'accept', 'text/html', 'x-a', '1', 'accept', 'application/json', 'accept', '*/*']);
    expect(h.headers.accept).toBe('text/html, application/json, */*');
    expect(h.headers['x-a']).toBe('1');
  });

  test('a "__proto__" field name pollutes nothing', () => {
    const h = request([...GET, '__proto__', 'polluted', 'constructor', 'c', 'hasownproperty', 'x', '__proto__', 'again']);
    expect(Object.getPrototypeOf(h.headers)).toBeNull();
    expect(Object.prototype.hasOwnProperty.call(h.headers, '__proto__')).toBe(true);
    expect(h.headers['__proto__']).toBe('polluted, again');
    expect(h.headers['constructor']).toBe('c');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(Object.keys(h.headers)).toContain('__proto__');
  });

  test('a "toString" field does not break anything and absent names read undefined', () => {
    const h = request([...GET, 'tostring', 'x']);
    expect(h.headers['tostring']).toBe('x');
    expect(h.headers['toString']).toBeUndefined();
    expect(h.headers['valueOf']).toBeUndefined();
  });

  test('an odd-length field list is refused', () => {
    expect(rejectRequest([':method'])).toMatch(/name and no value/);
  });
});
