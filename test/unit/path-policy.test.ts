/**
 * The request-path policy (handshake/path.ts, docs/operations.md "Request paths"): RFC 3986 §5.2.4
 * dot-segment removal, §6.2.2 normalization of unreserved percent-encoding, merged slashes,
 * and 400 for what cannot be normalized safely. Issue 15 item 1: routing and access rules
 * saw the raw path.
 */
import { describe, expect, test } from 'vitest';
import { validateExtendedConnect } from '../../src/handshake/extended-connect.ts';
import { validateH1Upgrade } from '../../src/handshake/h1-upgrade.ts';
import { normalizePath } from '../../src/handshake/path.ts';
import { RouteTable, parseBackendUrl } from '../../src/routing/route-table.ts';
import { resolveOptions } from '../../src/config/resolve.ts';
import { parseArgs } from '../../src/config/argv.ts';

const ok = (raw: string) => {
  const r = normalizePath(raw);
  if (!r.ok) throw new Error(`${raw}: ${r.message}`);
  return r.path;
};
const rejected = (raw: string) => {
  const r = normalizePath(raw);
  return r.ok ? `accepted as ${r.path}` : r.message;
};

describe('RFC 3986 §5.2.4: remove_dot_segments', () => {
  test.each([
    ['/a/b/c/./../../g', '/a/g'], // §5.2.4 worked example 1
    ['/mid/content=5/../6', '/mid/6'], // §5.2.4 worked example 2, made absolute
    ['/a/./b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/b/../', '/a/'],
    ['/.', '/'],
    ['/a/..', '/'],
    ['/./a', '/a'],
    ['/a/b/c/../../../', '/'],
    ['/a/.../b', '/a/.../b'], // "..." is an ordinary segment
    ['/a/..b/c', '/a/..b/c'],
  ])('%s → %s', (raw, expected) => {
    expect(ok(raw)).toBe(expected);
  });

  test('unlike §5.2.4 (which stops at the root), a ".." above the root is refused', () => {
    expect(rejected('/..')).toMatch(/above the root/);
    expect(rejected('/../a')).toMatch(/above the root/);
    expect(rejected('/a/../../b')).toMatch(/above the root/);
  });
});

describe('RFC 3986 §6.2.2: percent-encoding', () => {
  test.each([
    ['/%69nternal', '/internal'],
    ['/%41%7A%30%2D%5F%7E', '/Az0-_~'],
    ['/a%2Eb', '/a.b'], // an encoded "." inside a segment is harmless
    ['/caf%c3%a9', '/caf%C3%A9'], // not unreserved: kept encoded, hex upper-cased
    ['/a%3fb', '/a%3Fb'],
    ['/a%20b', '/a%20b'],
    ['/%25', '/%25'],
  ])('%s → %s', (raw, expected) => {
    expect(ok(raw)).toBe(expected);
  });

  test.each(['/%', '/%4', '/%zz', '/a%g0', '/%%41'])('invalid percent-encoding %s → refused', (raw) => {
    expect(rejected(raw)).toMatch(/invalid percent-encoding/);
  });

  test.each([
    ['/a%2Fb', /encoded "\/"/],
    ['/a%2fb', /encoded "\/"/],
    ['/a%5Cb', /encoded "\\"/],
    ['/a%00b', /NUL/],
    ['/%2E%2E/internal', /%2E/],
    ['/x/%2e%2e/internal', /%2E/],
    ['/x/.%2E/internal', /%2E/],
    ['/%2e/internal', /%2E/],
    ['/a\\b', /"\\"/],
    ['/a#b', /fragment/],
  ])('unsafe %s → refused', (raw, message) => {
    expect(rejected(raw)).toMatch(message);
  });
});

describe('merged slashes (nginx merge_slashes)', () => {
  test.each([
    ['//internal', '/internal'],
    ['/a//b///c', '/a/b/c'],
    ['/a//', '/a/'],
    ['//', '/'],
    ['/a//../b', '/b'], // merged first, then the ".." removes "a"
  ])('%s → %s', (raw, expected) => {
    expect(ok(raw)).toBe(expected);
  });
});

describe('the query is kept as sent', () => {
  test.each([
    ['/chat?room=1', '/chat?room=1'],
    ['/a/../chat?x=/../%2F%69', '/chat?x=/../%2F%69'],
    ['/?', '/?'],
    ['//a?b//c', '/a?b//c'],
  ])('%s → %s', (raw, expected) => {
    expect(ok(raw)).toBe(expected);
  });
});

test.each(['', 'chat', '*', 'http://h/x'])('a path that does not start with "/" (%j) is refused', (raw) => {
  expect(rejected(raw)).toMatch(/must start with "\/"/);
});

test('an already normalized path comes back unchanged', () => {
  for (const p of ['/', '/chat', '/chat/', '/a/b.c/~d_e-f', '/a%C3%A9', '/x?y=1']) expect(ok(p)).toBe(p);
});

describe('the bypasses from issue 15 item 1', () => {
  const table = new RouteTable([
    { prefix: '/', backend: parseBackendUrl('ws://d:1') },
    { prefix: '/internal', backend: parseBackendUrl('ws://d:1'), access: { bearerToken: 't' } },
    { prefix: '/feed', backend: parseBackendUrl('ws://b:2/v2/feed') },
  ]);
  const routed = (raw: string) => {
    const r = normalizePath(raw);
    if (!r.ok) return 'refused';
    const m = table.match(r.path);
    return m === undefined || !('backendPath' in m) ? 'no route' : `${m.route.prefix} ${m.backendPath}`;
  };

  test.each(['/chat/../internal', '/%69nternal', '//internal', '/x/../internal/x'])('%s is routed to /internal (with its bearer token rule)', (raw) => {
    expect(routed(raw)).toMatch(/^\/internal \/internal/);
  });

  test('/feed/../../admin/x climbs above the root: refused, never sent as /v2/feed/../../admin/x', () => {
    expect(routed('/feed/../../admin/x')).toBe('refused');
  });

  test('/feed/./a//b reaches the backend as /v2/feed/a/b', () => {
    expect(routed('/feed/./a//b?q=1')).toBe('/feed /v2/feed/a/b?q=1');
  });

  test('prefix matching is case-sensitive: /INTERNAL is not /internal', () => {
    expect(routed('/INTERNAL')).toBe('/ /INTERNAL');
    expect(routed('/%49NTERNAL')).toBe('/ /INTERNAL');
  });
});

describe('both handshakes carry the normalized path', () => {
  const connect = (path: string) =>
    validateExtendedConnect({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':authority': 'h', ':path': path });
  const upgrade = (path: string, raw?: string[]) =>
    validateH1Upgrade('GET', '1.1', {
      host: 'h', upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13',
    }, path, raw === undefined ? {} : { rawHeaders: raw });

  test('RFC 8441 extended CONNECT: request.path is normalized', () => {
    const r = connect('/chat/../%69nternal?x=1');
    expect(r.ok && r.request.path).toBe('/internal?x=1');
  });

  test('RFC 8441 extended CONNECT: an unsafe :path is a 400 answer (rejected), not a reset', () => {
    const r = connect('/a%2Fb');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.rejection).toMatchObject({ outcome: 'rejected', status: 400 });
      expect(r.rejection.h2Code).toBeUndefined();
    }
  });

  test('HTTP/1.1 upgrade: request.path is normalized', () => {
    const r = upgrade('//internal/./x');
    expect(r.ok && r.request.path).toBe('/internal/x');
  });

  test('HTTP/1.1 upgrade: an unsafe target is a 400 (rejected)', () => {
    const r = upgrade('/feed/../../admin/x');
    expect(!r.ok && r.rejection).toMatchObject({ outcome: 'rejected', status: 400 });
  });

  test('RFC 9112 §3.2: two Host fields are a 400', () => {
    const r = upgrade('/chat', ['Host', 'a', 'Upgrade', 'websocket', 'host', 'b']);
    expect(!r.ok && r.rejection).toMatchObject({ outcome: 'rejected', status: 400, message: expect.stringMatching(/more than one Host/) });
  });

  test('one Host field in the raw lines is fine', () => {
    expect(upgrade('/chat', ['Host', 'a', 'Upgrade', 'websocket']).ok).toBe(true);
  });
});

describe('route prefixes in the config must be normalized paths', () => {
  const resolve = (routes: Record<string, string>) => resolveOptions({ routes }, parseArgs([]), (t) => t);
  test.each(['/a/../b', '//a', '/%69nternal', '/a/./b'])('%s is refused, naming the route', (prefix) => {
    expect(() => resolve({ [prefix]: 'ws://h:1' })).toThrow(expect.objectContaining({ field: `routes.${prefix}`, message: expect.stringMatching(/not a normalized path/) }));
  });
  test.each(['/', '/a', '/a/', '/a.b/c~d'])('%s is accepted', (prefix) => {
    expect(resolve({ [prefix]: 'ws://h:1' }).options.routes[0]!.prefix).toBe(prefix);
  });
});
