/**
 * HTTP routes beside WebSocket routes (docs/http-proxy.md): the flags and config fields that
 * make them, the merge of one prefix named twice, and matching by the longest prefix.
 */
import { describe, expect, test } from 'vitest';
import { parseArgs } from '../../src/config/argv.ts';
import { parseConfigFile, resolveOptions } from '../../src/config/resolve.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import { H2wsError } from '../../src/errors.ts';
import { HttpRouteTable, parseUpstreamUrl } from '../../src/routing/http-routes.ts';

const resolve = (file: ConfigFile, argv: string[]) => resolveOptions(file, parseArgs(argv), (p) => p);

function configError(fn: () => unknown): { field: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof H2wsError)) throw err;
    return { field: err.field, message: err.message };
  }
  throw new Error('expected an H2wsError');
}

describe('flags and config', () => {
  test('the three-line setup: one path, WebSocket backend and HTTP upstream', () => {
    const { options, embedded } = resolve({}, ['--self-signed', '--backend', 'ws://127.0.0.1:9000', '--http-backend', 'http://127.0.0.1:3000']);
    expect(embedded).toBe(false);
    expect(options.routes.map((r) => [r.prefix, r.backend.url])).toEqual([['/', 'ws://127.0.0.1:9000']]);
    expect(options.httpRoutes).toEqual([
      { prefix: '/', upstream: parseUpstreamUrl('http://127.0.0.1:3000'), rewriteHost: false },
    ]);
  });

  test('--static alone is something to serve (no embedded demo); --rewrite-host applies to every route', () => {
    const { options, embedded } = resolve({}, ['--static', 'public', '--route', '/api=http://127.0.0.1:4000/v1', '--rewrite-host']);
    expect(embedded).toBe(false);
    expect(options.routes).toEqual([]);
    expect(options.httpRoutes).toEqual([
      { prefix: '/', static: 'public', rewriteHost: true },
      { prefix: '/api', upstream: parseUpstreamUrl('http://127.0.0.1:4000/v1'), rewriteHost: true },
    ]);
  });

  test('config: httpBackend, static, a string route by its scheme, and route objects with backend, http and static', () => {
    const file = parseConfigFile({
      httpBackend: 'http://127.0.0.1:3000',
      static: './public',
      routes: {
        '/api': 'http://127.0.0.1:4000',
        '/live': { backend: 'ws://127.0.0.1:9000', http: 'https://app.internal:8443', rewriteHost: true },
        '/docs': { static: './docs' },
        '/chat': 'ws://127.0.0.1:9001',
      },
      timeouts: { upstreamResponseMs: 5000 },
    });
    const { options } = resolve(file, []);
    expect(options.routes.map((r) => r.prefix).sort()).toEqual(['/chat', '/live']);
    expect(Object.fromEntries((options.httpRoutes ?? []).map((r) => [r.prefix, [r.upstream?.url, r.static, r.rewriteHost]]))).toEqual({
      '/': ['http://127.0.0.1:3000', './public', false],
      '/api': ['http://127.0.0.1:4000', undefined, false],
      '/live': ['https://app.internal:8443', undefined, true],
      '/docs': [undefined, './docs', false],
    });
    expect(options.timeouts.upstreamResponseMs).toBe(5000);
  });

  test('flags replace the file field by field on the same prefix', () => {
    const { options } = resolve({ httpBackend: 'http://a:1', static: 'www' }, ['--http-backend', 'http://b:2']);
    expect(options.httpRoutes).toEqual([{ prefix: '/', upstream: parseUpstreamUrl('http://b:2'), static: 'www', rewriteHost: false }]);
  });

  test('errors name the field', () => {
    expect(configError(() => resolve({}, ['--http-backend', 'ws://b:1']))).toEqual({ field: '--http-backend', message: '--http-backend: "ws://b:1" must start with http:// or https://' });
    expect(configError(() => resolve({}, ['--backend', 'http://b:1'])).field).toBe('--backend');
    expect(configError(() => resolve({}, ['--route', '/api=http://b:1?x=1'])).message).toBe('--route: "http://b:1?x=1" must not have a query, fragment or credentials');
    expect(configError(() => parseConfigFile({ routes: { '/x': { rewriteHost: true } } }))).toEqual({ field: 'routes./x', message: 'field "routes./x": a route needs "backend", "http" or "static"' });
    expect(configError(() => parseConfigFile({ static: '' })).field).toBe('static');
    expect(configError(() => parseArgs(['--static']))).toEqual({ field: '--static', message: '--static needs a value' });
    expect(configError(() => parseArgs(['--rewrite-host=yes'])).message).toBe('--rewrite-host takes no value');
  });
});

describe('HttpRouteTable', () => {
  const up = (url: string) => parseUpstreamUrl(url);
  const table = new HttpRouteTable([
    { prefix: '/', upstream: up('http://app:3000') },
    { prefix: '/api', upstream: up('http://api:4000/v1') },
    { prefix: '/assets/', static: '/srv/assets' },
  ]);

  test('the longest prefix wins, by whole segments', () => {
    expect(table.match('/api/users?page=2')).toMatchObject({ route: { prefix: '/api' }, upstreamTarget: '/v1/users?page=2' });
    expect(table.match('/api')).toMatchObject({ route: { prefix: '/api' }, upstreamTarget: '/v1' });
    expect(table.match('/apiary')).toMatchObject({ route: { prefix: '/' }, upstreamTarget: '/apiary' });
    expect(table.match('/assets/app.js')).toMatchObject({ route: { prefix: '/assets/' }, filePath: '/app.js' });
    expect(table.match('/')).toMatchObject({ route: { prefix: '/' }, upstreamTarget: '/', filePath: '/' });
  });

  test('no route: undefined', () => {
    expect(new HttpRouteTable([{ prefix: '/api', upstream: up('http://api:4000') }]).match('/other')).toBeUndefined();
  });

  test('upstream URLs: host, port, authority for a rewritten Host, IPv6', () => {
    expect(up('https://[::1]/base/')).toEqual({ url: 'https://[::1]/base/', secure: true, host: '::1', port: 443, authority: '[::1]', basePath: '/base' });
    expect(up('http://app.internal:8080')).toMatchObject({ host: 'app.internal', port: 8080, authority: 'app.internal:8080', basePath: '' });
    expect(() => up('http://user:pw@app')).toThrow(/credentials/);
    expect(() => up('not a url')).toThrow(/not a URL/);
  });
});
