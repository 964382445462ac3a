/**
 * `h2ws --check-config FILE` under Node, Deno and Bun: reads the config as a start would, starts
 * nothing, exits 0 with a summary or 2 with one line naming the field.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { localhostCertificate } from '../helpers/certs.ts';
import { RUNTIMES, runCli, writeConfig } from '../helpers/gateway-process.ts';

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'h2ws-check-'));
  const [a, b] = await Promise.all([localhostCertificate(), localhostCertificate()]);
  writeFileSync(path.join(dir, 'a.pem'), a.cert);
  writeFileSync(path.join(dir, 'a.key'), a.private);
  writeFileSync(path.join(dir, 'b.key'), b.private);
});

describe.each(RUNTIMES)('--check-config under %s', (runtime) => {
  it('a good config: exit 0 and a one-line summary; nothing is started', async () => {
    const file = writeConfig({ listen: '127.0.0.1:1', tls: { cert: path.join(dir, 'a.pem'), key: path.join(dir, 'a.key') }, routes: { '/a': 'ws://127.0.0.1:9' }, workers: 2 });
    const r = await runCli(runtime, ['--check-config', file]);
    expect(r).toEqual({ code: 0, stdout: `h2ws: ${file} is valid (1 route, 0 HTTP routes; TLS; 2 workers)\n`, stderr: '' });
    const withFiles = writeConfig({ httpBackend: 'http://127.0.0.1:9', routes: { '/files': { static: dir } } });
    expect(await runCli(runtime, ['--check-config', withFiles])).toEqual({ code: 0, stdout: `h2ws: ${withFiles} is valid (0 routes, 2 HTTP routes; cleartext; 1 worker)\n`, stderr: '' });
  });

  it('bad configs: exit 2 and one line naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ routes: { '/a': 'ws://127.0.0.1:9' }, limits: { maxTunnel: 5 } }, 'h2ws: unknown field "limits.maxTunnel"\n'],
      [{ tls: { cert: path.join(dir, 'a.pem'), key: path.join(dir, 'b.key') } }, 'h2ws: tls: the key does not belong to the certificate (CN=localhost)\n'],
      [{ routes: { '/files': { static: path.join(dir, 'no-such-dir') } } }, `h2ws: routes./files.static: cannot serve "${path.join(dir, 'no-such-dir')}" (ENOENT); give an existing directory\n`],
      [{ workers: 3, limits: { maxTunnels: 2 } }, 'h2ws: limits.maxTunnels: 2 is fewer than the 3 workers; each worker needs at least one tunnel (raise it, or run fewer workers)\n'],
    ];
    for (const [config, stderr] of cases) expect(await runCli(runtime, ['--check-config', writeConfig(config)])).toEqual({ code: 2, stdout: '', stderr });
    const missing = await runCli(runtime, ['--check-config', path.join(dir, 'missing.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^h2ws: --config: cannot read ".*missing\.json" \(ENOENT\)\n$/);
  });
});
