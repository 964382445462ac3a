/** What a reload applies and what waits for a restart (src/server/reload.ts), and merging status snapshots. */
import { describe, expect, test } from 'vitest';
import { parseArgs } from '../../src/config/argv.ts';
import type { GatewayOptions } from '../../src/config/options.ts';
import { resolveOptions } from '../../src/config/resolve.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import type { StatusSnapshot } from '../../src/server/admin.ts';
import { changedCertificate, reloadedOptions, restartOnlyChanges } from '../../src/server/reload.ts';
import { mergeStatus } from '../../src/server/status-merge.ts';

const options = (file: ConfigFile, argv: string[] = []): GatewayOptions => resolveOptions(file, parseArgs(argv), (path) => `pem:${path}`).options;

describe('restartOnlyChanges and reloadedOptions', () => {
  const running = options({ listen: '127.0.0.1:8443', tls: { cert: 'a.pem', key: 'a.key' }, routes: { '/a': 'ws://a:1' } });

  test('routes, access, limits, timeouts and the certificate apply; nothing needs a restart', () => {
    const next = options({ listen: '127.0.0.1:8443', tls: { cert: 'b.pem', key: 'b.key' }, routes: { '/b': 'ws://b:1' }, access: { origins: ['https://x'] }, limits: { maxTunnels: 5 }, timeouts: { idleMs: 1000 }, trustedProxies: ['10.0.0.0/8'] });
    expect(restartOnlyChanges(running, next)).toEqual([]);
    expect(reloadedOptions(running, next)).toEqual(next);
    expect(changedCertificate(running, next)).toEqual({ cert: 'pem:b.pem', key: 'pem:b.key' });
    expect(changedCertificate(running, options({ listen: '127.0.0.1:8443', tls: { cert: 'a.pem', key: 'a.key' } }))).toBeUndefined();
  });

  test('listen, admin, log and switching TLS on or off are named and kept as they run', () => {
    const next = options({ listen: '127.0.0.1:9443', admin: { listen: '127.0.0.1:9100' }, log: { level: 'debug' }, routes: { '/b': 'ws://b:1' } });
    expect(restartOnlyChanges(running, next)).toEqual(['listen', 'admin', 'log', 'tls']);
    const applied = reloadedOptions(running, next);
    expect({ host: applied.host, port: applied.port, admin: applied.admin, log: applied.log, tls: applied.tls }).toEqual({ host: running.host, port: running.port, admin: running.admin, log: running.log, tls: running.tls });
    expect(applied.routes).toEqual(next.routes);
    expect(changedCertificate(running, applied)).toBeUndefined();
  });

  test('a self-signed certificate stays the one made at start-up', () => {
    const selfSigned = options({ selfSigned: true });
    expect(restartOnlyChanges(selfSigned, options({ selfSigned: true, routes: { '/x': 'ws://x:1' } }))).toEqual([]);
    expect(restartOnlyChanges(selfSigned, options({ tls: { cert: 'a.pem', key: 'a.key' } }))).toEqual(['tls']);
  });
});

describe('mergeStatus', () => {
  const snapshot = (over: Partial<StatusSnapshot>): StatusSnapshot => ({
    time: '2026-01-01T00:00:00.000Z', ready: true, openTotal: 0, open: [], sessions: { h2: 0, h1: 0 }, bytes: { toBackend: 0, toClient: 0 }, recent: [], ...over,
  });

  test('adds counts and bytes (those of ended workers too), merges routes and the newest outcomes, one row per worker', () => {
    const merged = mergeStatus([
      { worker: 2, pid: 22, status: snapshot({ openTotal: 2, open: [{ route: '/a', transport: 'h2', count: 2 }], sessions: { h2: 1, h1: 0 }, bytes: { toBackend: 10, toClient: 20 }, recent: [{ time: '2026-01-01T00:00:02.000Z', transport: 'h2', route: '/a', outcome: 'ok', detail: 'clean' }] }) },
      { worker: 1, pid: 11, status: snapshot({ openTotal: 3, open: [{ route: '/a', transport: 'h2', count: 1 }, { route: '/b', transport: 'h1', count: 2 }], sessions: { h2: 1, h1: 2 }, bytes: { toBackend: 1, toClient: 2 }, recent: [{ time: '2026-01-01T00:00:03.000Z', transport: 'h1', route: '/b', outcome: 'refused', detail: '503' }] }) },
    ], { toBackend: 100, toClient: 200 });
    expect(merged.openTotal).toBe(5);
    expect(merged.open).toEqual([{ route: '/a', transport: 'h2', count: 3 }, { route: '/b', transport: 'h1', count: 2 }]);
    expect(merged.sessions).toEqual({ h2: 2, h1: 2 });
    expect(merged.bytes).toEqual({ toBackend: 111, toClient: 222 });
    expect(merged.recent.map((r) => r.route)).toEqual(['/b', '/a']);
    expect(merged.workers).toEqual([
      { worker: 1, pid: 11, ready: true, openTotal: 3, sessions: { h2: 1, h1: 2 } },
      { worker: 2, pid: 22, ready: true, openTotal: 2, sessions: { h2: 1, h1: 0 } },
    ]);
    expect(merged.ready).toBe(true);
    expect(mergeStatus([{ worker: 1, pid: 1, status: snapshot({ ready: false }) }], { toBackend: 0, toClient: 0 }).ready).toBe(false);
  });
});
