/**
 * `gateway.reload()` from the library: a config function read again, or a config given; routes
 * (bridged and in-process), limits and the certificate change for new handshakes, open tunnels
 * go on, and a bad config is refused with the running one kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type GatewayConfig, H2wsError, serve } from '../../mod.ts';
import { type EchoBackend, startEchoBackend } from '../helpers/backends.ts';
import { localhostCertificate } from '../helpers/certs.ts';
import { EchoLoop } from '../helpers/echo-loop.ts';
import { fingerprint, pemFingerprint } from '../helpers/gateway-admin.ts';
import { clientFrame, connectH2, FrameSink, openTunnel } from '../helpers/h2-client.ts';

let a: EchoBackend;
let b: EchoBackend;
let first: { cert: string; private: string };
let second: { cert: string; private: string };

beforeAll(async () => {
  [a, b, first, second] = await Promise.all([startEchoBackend(), startEchoBackend(), localhostCertificate(), localhostCertificate()]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

describe('Gateway.reload (library)', () => {
  it('calls the config function again: new routes, limits and certificate for new handshakes; open tunnels untouched', async () => {
    const records: string[] = [];
    let config: GatewayConfig = { listen: '127.0.0.1:0', tls: { cert: first.cert, key: first.private }, routes: { '/a': a.url }, log: (line) => records.push(line) };
    const gateway = await serve(() => config);
    const client = await connectH2(gateway.url);
    try {
      const open = await openTunnel(client, '/a');
      expect(open.status).toBe(200);
      const loop = new EchoLoop(open.stream, 7).start();
      await loop.more(2);
      expect(await fingerprint(gateway.address.port)).toBe(pemFingerprint(first.cert));

      config = { ...config, tls: { cert: second.cert, key: second.private }, routes: { '/b': b.url }, limits: { maxTunnels: 2 } };
      expect(await gateway.reload()).toEqual({ ok: true, restartNeeded: [] });
      expect(gateway.options.routes.map((r) => r.prefix)).toEqual(['/b']);
      expect(await fingerprint(gateway.address.port)).toBe(pemFingerprint(second.cert));
      const fresh = await connectH2(gateway.url);
      expect((await openTunnel(fresh, '/a')).status).toBe(404);
      expect((await openTunnel(fresh, '/b')).status).toBe(200);
      // maxTunnels 2: the open /a tunnel and the new /b one; a third is refused.
      expect((await openTunnel(fresh, '/b')).rstCode).toBe(7 /* REFUSED_STREAM */);
      await loop.more(3);
      await loop.stop();
      expect(loop.failure).toBeUndefined();
      fresh.session.destroy();
      expect(records.filter((r) => r.includes('"event":"reloaded"'))).toHaveLength(1);
      expect(records.find((r) => r.includes('"event":"reloaded"'))).toMatch(/"certificate":"replaced"/);
    } finally {
      client.session.destroy();
      await gateway.close();
    }
  });

  it('reload(config) applies a config given; in-process routes change too', async () => {
    const gateway = await serve({ listen: '127.0.0.1:0', routes: { '/a': a.url }, log: () => {} });
    const client = await connectH2(gateway.url);
    try {
      const result = await gateway.reload({
        listen: '127.0.0.1:0',
        routes: {
          '/local': async (socket) => {
            const writer = socket.writable.getWriter();
            await writer.write('hello from the new route');
          },
        },
      });
      expect(result).toEqual({ ok: true, restartNeeded: [] });
      expect((await openTunnel(client, '/a')).status).toBe(404);
      const local = await openTunnel(client, '/local');
      expect(local.status).toBe(200);
      const sink = new FrameSink(false);
      local.stream.on('data', (d: Buffer) => sink.write(d));
      await sink.until(() => sink.messages.length === 1);
      expect(sink.messages).toEqual(['hello from the new route']);
      // A later reload() with no argument keeps the config last given.
      expect(await gateway.reload()).toEqual({ ok: true, restartNeeded: [] });
      expect((await openTunnel(client, '/a')).status).toBe(404);
    } finally {
      client.session.destroy();
      await gateway.close();
    }
  });

  it('a bad config, a key that is not the certificate\'s, or a reload while draining: refused in one log line, the running config kept', async () => {
    const records: string[] = [];
    const gateway = await serve({ listen: '127.0.0.1:0', tls: { cert: first.cert, key: first.private }, routes: { '/a': a.url }, log: (line) => records.push(line) });
    const client = await connectH2(gateway.url);
    try {
      const bad = await gateway.reload({ listen: '127.0.0.1:0', routes: { '/a': 'ftp://not-a-websocket' } });
      expect(bad.ok).toBe(false);
      expect(!bad.ok && bad.error).toBeInstanceOf(H2wsError);
      expect(!bad.ok && { code: bad.error.code, field: bad.error.field }).toEqual({ code: ErrorCode.CONFIG, field: 'routes./a' });
      const mismatched = await gateway.reload({ listen: '127.0.0.1:0', tls: { cert: second.cert, key: first.private }, routes: { '/b': b.url } });
      expect(!mismatched.ok && mismatched.error.message).toMatch(/^tls: the key does not belong to the certificate/);
      const failures = records.filter((r) => r.includes('"event":"reload_failed"'));
      expect(failures).toHaveLength(2);
      expect(failures.every((r) => r.endsWith('the running config stays in force"}'))).toBe(true);
      // Nothing changed: the old route, the old certificate.
      expect((await openTunnel(client, '/a')).status).toBe(200);
      expect((await openTunnel(client, '/b')).status).toBe(404);
      expect(await fingerprint(gateway.address.port)).toBe(pemFingerprint(first.cert));
      // Listening elsewhere takes a restart: said, and the rest applied.
      const moved = await gateway.reload({ listen: '127.0.0.1:1', tls: { cert: first.cert, key: first.private }, routes: { '/b': b.url } });
      expect(moved).toEqual({ ok: true, restartNeeded: ['listen'] });
      expect((await openTunnel(client, '/b')).status).toBe(200);
      const tunnel = await openTunnel(client, '/b');
      tunnel.stream.write(clientFrame('x'));
      const closing = gateway.close();
      const late = await gateway.reload();
      expect(!late.ok && late.error.message).toBe('the gateway is draining; reload ignored');
      tunnel.stream.close();
      client.session.destroy();
      await closing;
    } finally {
      client.session.destroy();
      await gateway.close();
    }
  });

  it('workers is for the h2ws command: serve() refuses it naming the field', async () => {
    await expect(serve({ listen: '127.0.0.1:0', routes: { '/a': a.url }, workers: 2 } as GatewayConfig)).rejects.toMatchObject({ code: ErrorCode.CONFIG, field: 'workers' });
  });
});
