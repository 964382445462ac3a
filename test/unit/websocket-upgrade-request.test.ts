/** RFC 8441 §5 in reverse: an extended CONNECT (or an HTTP/1.1 upgrade) rebuilt as the HTTP/1.1 request it stands for. */
import { describe, expect, it } from 'vitest';
import type { WebSocketRequest } from '../../src/handshake/websocket-request.ts';
import { upgradeFetchRequest, upgradeFields, upgradeMessage } from '../../src/websocket/upgrade-request.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

const h2Request: WebSocketRequest = {
  transport: 'h2',
  authority: 'chat.example:8443',
  path: '/rooms/7?x=1',
  protocols: ['chat', 'superchat'],
  extensions: 'permessage-deflate; client_max_window_bits',
  clientKey: undefined,
  forwardHeaders: { origin: 'https://chat.example', cookie: 'a=1; b=2', 'user-agent': 'test' },
};

const h1Request: WebSocketRequest = {
  transport: 'h1',
  authority: 'legacy.example',
  path: '/feed',
  protocols: [],
  extensions: undefined,
  clientKey: KEY,
  forwardHeaders: { origin: 'http://legacy.example' },
};

describe('upgradeFields (RFC 8441 §5 → RFC 6455 §4.1)', () => {
  it('rebuilds an h2 extended CONNECT as an HTTP/1.1 upgrade', () => {
    expect(upgradeFields(h2Request, KEY)).toEqual({
      host: 'chat.example:8443',
      origin: 'https://chat.example',
      cookie: 'a=1; b=2',
      'user-agent': 'test',
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': KEY,
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'chat, superchat',
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
    });
  });

  it('leaves out Sec-WebSocket-Protocol and -Extensions when none were offered', () => {
    const fields = upgradeFields(h1Request, KEY);
    expect(fields).toEqual({
      host: 'legacy.example',
      origin: 'http://legacy.example',
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': KEY,
      'sec-websocket-version': '13',
    });
    expect('sec-websocket-protocol' in fields).toBe(false);
    expect('sec-websocket-extensions' in fields).toBe(false);
  });

  it('the handshake fields win over forwarded ones of the same name', () => {
    const sneaky: WebSocketRequest = { ...h2Request, forwardHeaders: { upgrade: 'h2c', connection: 'close', 'sec-websocket-key': 'forged', 'sec-websocket-version': '8' } };
    const fields = upgradeFields(sneaky, KEY);
    expect(fields.upgrade).toBe('websocket');
    expect(fields.connection).toBe('Upgrade');
    expect(fields['sec-websocket-key']).toBe(KEY);
    expect(fields['sec-websocket-version']).toBe('13');
  });

  it('a single offered subprotocol is passed as is', () => {
    expect(upgradeFields({ ...h1Request, protocols: ['mqtt'] }, KEY)['sec-websocket-protocol']).toBe('mqtt');
  });
});

describe('upgradeMessage (what ws handleUpgrade reads)', () => {
  it('an h2 request: GET, the path as url, httpVersion 2.0, the peer as socket', () => {
    const peer = { remoteAddress: '127.0.0.1', remotePort: 51234, encrypted: true };
    const message = upgradeMessage(h2Request, KEY, peer);
    expect(message.method).toBe('GET');
    expect(message.url).toBe('/rooms/7?x=1');
    expect(message.httpVersion).toBe('2.0');
    expect(message.headers).toEqual(upgradeFields(h2Request, KEY));
    expect(message.socket).toBe(peer);
  });

  it('an h1 request reads as HTTP/1.1', () => {
    const message = upgradeMessage(h1Request, KEY, { remoteAddress: undefined, encrypted: false });
    expect(message.httpVersion).toBe('1.1');
    expect(message.url).toBe('/feed');
    expect(message.headers.host).toBe('legacy.example');
    expect(message.socket).toEqual({ remoteAddress: undefined, encrypted: false });
  });
});

describe('upgradeFetchRequest (what a Hono app sees)', () => {
  it('builds the URL from scheme, authority and path, as a GET with Upgrade: websocket', () => {
    const request = upgradeFetchRequest(h2Request, KEY, 'https');
    expect(request.url).toBe('https://chat.example:8443/rooms/7?x=1');
    expect(request.method).toBe('GET');
    expect(request.headers.get('upgrade')).toBe('websocket');
    expect(request.headers.get('connection')).toBe('Upgrade');
    expect(request.headers.get('sec-websocket-key')).toBe(KEY);
    expect(request.headers.get('sec-websocket-version')).toBe('13');
    expect(request.headers.get('sec-websocket-protocol')).toBe('chat, superchat');
    expect(request.headers.get('sec-websocket-extensions')).toBe('permessage-deflate; client_max_window_bits');
    expect(request.headers.get('origin')).toBe('https://chat.example');
    expect(request.headers.get('cookie')).toBe('a=1; b=2');
    expect(request.headers.get('user-agent')).toBe('test');
  });

  it('carries the authority in the URL only, not as a Host field', () => {
    const request = upgradeFetchRequest(h1Request, KEY, 'http');
    expect(request.url).toBe('http://legacy.example/feed');
    expect(new URL(request.url).host).toBe('legacy.example');
    expect(request.headers.has('host')).toBe(false);
    expect(request.headers.has('sec-websocket-protocol')).toBe(false);
    expect(request.headers.has('sec-websocket-extensions')).toBe(false);
  });

  it('passes the abort signal through', () => {
    const controller = new AbortController();
    const request = upgradeFetchRequest(h1Request, KEY, 'http', controller.signal);
    expect(request.signal.aborted).toBe(false);
    controller.abort();
    expect(request.signal.aborted).toBe(true);
  });

  it('throws on an authority that makes no URL (the gateway answers 400)', () => {
    expect(() => upgradeFetchRequest({ ...h1Request, authority: 'bad host' }, KEY, 'http')).toThrow(TypeError);
  });
});
