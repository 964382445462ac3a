/**
 * Reload without dropping tunnels (docs/deploy.md "Reload"): SIGHUP re-reads the config file
 * and the TLS certificate and key. New handshakes get the new routes and certificate, open
 * tunnels echo on untouched, and a broken config or an unreadable certificate is refused in
 * one log line with the running config kept. In one process and with workers, under Node,
 * Deno and Bun.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoBackend, startEchoBackend } from '../helpers/backends.ts';
import { localhostCertificate } from '../helpers/certs.ts';
import { EchoLoop } from '../helpers/echo-loop.ts';
import { fingerprint, pemFingerprint } from '../helpers/gateway-admin.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { connectH2, eventually, type H2Client, openTunnel } from '../helpers/h2-client.ts';

/** 200 tunnels: 10 connections of 20 streams. */
const CONNECTIONS = 10;
const STREAMS = 20;

let oldBackend: EchoBackend;
let newBackend: EchoBackend;
let first: { cert: string; private: string };
let second: { cert: string; private: string };

beforeAll(async () => {
  [oldBackend, newBackend, first, second] = await Promise.all([startEchoBackend(), startEchoBackend(), localhostCertificate(), localhostCertificate()]);
});

afterAll(async () => {
  await Promise.all([oldBackend?.close(), newBackend?.close()]);
});

/** The status of an extended CONNECT on a fresh connection, or its reset code. */
async function handshake(url: string, route: string): Promise<number | string> {
  const client = await connectH2(url);
  try {
    const res = await openTunnel(client, route);
    return res.status ?? `reset ${res.rstCode}`;
  } finally {
    client.session.destroy();
  }
}

/** Counts a log event in the gateway's stderr. */
function events(gw: GatewayProcess, event: string): number {
  return (gw.stderr().match(new RegExp(`"event":"${event}"`, 'g')) ?? []).length;
}

const CASES = RUNTIMES.flatMap((runtime) => [[runtime, 1], [runtime, 2]] as const);

describe.each(CASES)('reload under %s with %i worker(s)', (runtime, workers) => {
  it('SIGHUP under traffic: 200 open tunnels echo every byte on while routes and the certificate change; a broken config is refused and the old one kept', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'h2ws-reload-'));
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    const configFile = path.join(dir, 'h2ws.json');
    const writeConfig = (config: unknown) => writeFileSync(configFile, typeof config === 'string' ? config : JSON.stringify(config));
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.private);
    writeConfig({ listen: '127.0.0.1:0', tls: { cert: certFile, key: keyFile }, routes: { '/old': oldBackend.url } });
    const gw = await startGateway(runtime, ['--config', configFile, '--workers', String(workers), '--log-level', 'info', '--log-format', 'json']);
    const clients: H2Client[] = [];
    // The supervisor writes one record for the whole gateway; one process writes its own.
    const reloadedRecords = () => (workers === 1 ? events(gw, 'reloaded') : (gw.stderr().match(/"event":"reloaded","workers":2/g) ?? []).length);
    try {
      expect(await fingerprint(gw.port)).toBe(pemFingerprint(first.cert));
      for (let i = 0; i < CONNECTIONS; i++) clients.push(await connectH2(gw.url));
      const opened = await Promise.all(clients.flatMap((client) => Array.from({ length: STREAMS }, () => openTunnel(client, '/old'))));
      expect(opened.map((t) => t.status)).toEqual(Array(CONNECTIONS * STREAMS).fill(200));
      const loops = opened.map((t, i) => new EchoLoop(t.stream, 1000 + i, 2048).start());
      await Promise.all(loops.map((l) => l.more(2)));

      // New routes (/old gone, /new added) and a new certificate, written in place as a renewal would.
      writeFileSync(certFile, second.cert);
      writeFileSync(keyFile, second.private);
      writeConfig({ listen: '127.0.0.1:0', tls: { cert: certFile, key: keyFile }, routes: { '/new': newBackend.url } });
      gw.proc.kill('SIGHUP');
      await eventually(() => reloadedRecords() === 1, 15_000, `the reloaded record; stderr:\n${gw.stderr()}`);
      // New handshakes, on every worker, see the new certificate and the new routes.
      for (let i = 0; i < 8; i++) expect(await fingerprint(gw.port)).toBe(pemFingerprint(second.cert));
      for (let i = 0; i < 8; i++) expect(await handshake(gw.url, '/new')).toBe(200);
      for (let i = 0; i < 8; i++) expect(await handshake(gw.url, '/old')).toBe(404);
      // The open tunnels, on the route that no longer exists, go on echoing.
      await Promise.all(loops.map((l) => l.more(3)));

      // A config that is not JSON, then a certificate that cannot be read: each refused in one
      // line, and the running config (new routes, new certificate) stays.
      writeConfig('{ "routes": ');
      gw.proc.kill('SIGHUP');
      await eventually(() => events(gw, 'reload_failed') === 1, 10_000, 'the first reload_failed record');
      writeConfig({ listen: '127.0.0.1:0', tls: { cert: path.join(dir, 'missing.pem'), key: keyFile }, routes: { '/other': oldBackend.url } });
      gw.proc.kill('SIGHUP');
      await eventually(() => events(gw, 'reload_failed') === 2, 10_000, 'the second reload_failed record');
      const failures = gw.stderr().split('\n').filter((l) => l.includes('"event":"reload_failed"'));
      expect(failures[0]).toMatch(/"field":"--config".*is not valid JSON.*the running config stays in force/);
      expect(failures[1]).toMatch(/"field":"--tls-cert".*cannot read \\".*missing\.pem\\" \(ENOENT\).*the running config stays in force/);
      expect(reloadedRecords()).toBe(1);
      expect(await fingerprint(gw.port)).toBe(pemFingerprint(second.cert));
      expect(await handshake(gw.url, '/new')).toBe(200);
      expect(await handshake(gw.url, '/other')).toBe(404);

      await Promise.all(loops.map((l) => l.more(2)));
      await Promise.all(loops.map((l) => l.stop()));
      expect(loops.filter((l) => l.failure !== undefined).map((l) => l.failure)).toEqual([]);
      expect(gw.proc.exitCode).toBe(null);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await gw.stop();
    }
  });
});
