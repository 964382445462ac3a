/** Path-prefix routing and backend URLs. */
import { describe, expect, test } from 'vitest';
import { parseBackendUrl, type Route, RouteTable } from '../../src/routing/route-table.ts';

function route(prefix: string, url: string): Route {
  return { prefix, backend: parseBackendUrl(url) };
}

/** Which configured prefix and backend path a target maps to, or undefined. */
function resolve(table: RouteTable, target: string): [string, string] | undefined {
  const m = table.match(target);
  return m === undefined ? undefined : [m.route.prefix, m.backendPath];
}

describe('parseBackendUrl', () => {
  test('ws://host:port', () => {
    expect(parseBackendUrl('ws://127.0.0.1:9000')).toEqual({ url: 'ws://127.0.0.1:9000', secure: false, host: '127.0.0.1', port: 9000, basePath: '' });
  });

  test('default ports: 80 for ws, 443 for wss', () => {
    expect(parseBackendUrl('ws://example.com').port).toBe(80);
    expect(parseBackendUrl('wss://example.com')).toEqual({ url: 'wss://example.com', secure: true, host: 'example.com', port: 443, basePath: '' });
  });

  test('an explicit default port is still that port', () => {
    expect(parseBackendUrl('ws://example.com:80').port).toBe(80);
    expect(parseBackendUrl('ws://example.com:443').port).toBe(443);
  });

  test('IPv6 literal host without brackets; path without trailing slash', () => {
    expect(parseBackendUrl('ws://[::1]:9000/ws/')).toEqual({ url: 'ws://[::1]:9000/ws/', secure: false, host: '::1', port: 9000, basePath: '/ws' });
  });

  test('a root path is an empty basePath', () => {
    expect(parseBackendUrl('ws://h:1/').basePath).toBe('');
    expect(parseBackendUrl('ws://h:1/a/b').basePath).toBe('/a/b');
  });

  test.each([
    ['not a URL', 'not a url', /is not a URL/],
    ['http scheme', 'http://127.0.0.1:9000', /must start with ws:\/\/ or wss:\/\//],
    ['https scheme', 'https://example.com', /must start with ws:\/\/ or wss:\/\//],
    ['a query', 'ws://127.0.0.1:9000/?token=1', /must not have a query or fragment/],
    ['a fragment', 'ws://127.0.0.1:9000/#x', /must not have a query or fragment/],
  ])('%s -> Error', (_label, url, message) => {
    expect(() => parseBackendUrl(url)).toThrow(message);
  });

  test('the error names the URL', () => {
    expect(() => parseBackendUrl('http://backend:9000')).toThrow('"http://backend:9000"');
  });
});

describe('RouteTable.match', () => {
  const table = new RouteTable([
    route('/', 'ws://default:1'),
    route('/chat', 'ws://chat:2'),
    route('/chat/admin', 'ws://admin:3'),
    route('/api/', 'ws://api:4'),
  ]);

  test('longest prefix wins, whatever the configured order', () => {
    expect(resolve(table, '/chat/admin/x')).toEqual(['/chat/admin', '/chat/admin/x']);
    expect(resolve(table, '/chat/x')).toEqual(['/chat', '/chat/x']);
    expect(resolve(new RouteTable([...table.routes].reverse()), '/chat/admin/x')?.[0]).toBe('/chat/admin');
    expect(table.routes.map((r) => r.prefix)).toEqual(['/chat/admin', '/chat', '/api/', '/']);
  });

  test('prefixes match whole segments: /chat matches /chat, /chat/x and /chat?x', () => {
    expect(resolve(table, '/chat')?.[0]).toBe('/chat');
    expect(resolve(table, '/chat/')?.[0]).toBe('/chat');
    expect(resolve(table, '/chat?room=1')?.[0]).toBe('/chat');
  });

  test('prefixes match whole segments: /chat does not match /chatroom', () => {
    expect(resolve(table, '/chatroom')?.[0]).toBe('/');
    expect(resolve(table, '/chat/administrator')?.[0]).toBe('/chat');
  });

  test('a prefix with a trailing slash matches the bare segment too', () => {
    expect(resolve(table, '/api')?.[0]).toBe('/api/');
    expect(resolve(table, '/api/v1')?.[0]).toBe('/api/');
    expect(resolve(table, '/apis')?.[0]).toBe('/');
  });

  test('"/" catches everything not matched elsewhere', () => {
    expect(resolve(table, '/')).toEqual(['/', '/']);
    expect(resolve(table, '/other/deep?q=1')).toEqual(['/', '/other/deep?q=1']);
  });

  test('no route -> undefined (the 404 case)', () => {
    const narrow = new RouteTable([route('/chat', 'ws://chat:2')]);
    expect(narrow.match('/')).toBeUndefined();
    expect(narrow.match('/chatroom')).toBeUndefined();
    expect(narrow.match('/other?chat')).toBeUndefined();
  });

  test('the query is ignored for matching', () => {
    const narrow = new RouteTable([route('/chat', 'ws://chat:2')]);
    expect(narrow.match('/x?/chat')).toBeUndefined();
  });

  test('an empty table matches nothing', () => {
    expect(new RouteTable([]).match('/')).toBeUndefined();
  });
});

describe('backend URL path rewrite', () => {
  test('a backend without a path gets the client target unchanged, query kept', () => {
    const table = new RouteTable([route('/chat', 'ws://chat:2')]);
    expect(table.match('/chat/room?x=1&y=2')?.backendPath).toBe('/chat/room?x=1&y=2');
  });

  test('a backend path replaces the matched prefix', () => {
    const table = new RouteTable([route('/chat', 'ws://chat:2/ws')]);
    expect(table.match('/chat')?.backendPath).toBe('/ws');
    expect(table.match('/chat/')?.backendPath).toBe('/ws/');
    expect(table.match('/chat/room/1')?.backendPath).toBe('/ws/room/1');
    expect(table.match('/chat?x=1')?.backendPath).toBe('/ws?x=1');
    expect(table.match('/chat/room?x=1')?.backendPath).toBe('/ws/room?x=1');
  });

  test('a backend path with a trailing slash does not double it', () => {
    const table = new RouteTable([route('/chat/', 'ws://chat:2/ws/')]);
    expect(table.match('/chat/room')?.backendPath).toBe('/ws/room');
    expect(table.match('/chat')?.backendPath).toBe('/ws');
  });

  test('the root route with a backend path prefixes every target', () => {
    const table = new RouteTable([route('/', 'ws://b:1/base')]);
    expect(table.match('/')?.backendPath).toBe('/base/');
    expect(table.match('/a/b?q=1')?.backendPath).toBe('/base/a/b?q=1');
  });
});
