/**
 * `--workers` and the config's `workers`, and the limits that hold for the whole gateway
 * (src/config/workers.ts); `--check-config`; config snapshots (src/config/snapshot.ts).
 */
import { describe, expect, test } from 'vitest';
import { parseArgs } from '../../src/config/argv.ts';
import { DEFAULT_LIMITS } from '../../src/config/options.ts';
import { parseConfigFile, resolveOptions } from '../../src/config/resolve.ts';
import { resolveSnapshot, takeSnapshot } from '../../src/config/snapshot.ts';
import { checkWorkerLimits, resolveWorkers, shareOf, workerCount, workerOptions } from '../../src/config/workers.ts';
import { ErrorCode, H2wsError } from '../../src/errors.ts';

function configError(fn: () => unknown): { field: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof H2wsError && err.code === ErrorCode.CONFIG) return { field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected a config error');
}

describe('--workers and workers', () => {
  test('parsed as given; the flag wins over the file; the default is 1', () => {
    expect(parseArgs(['--workers', '4']).workers).toBe('4');
    expect(parseArgs(['--workers=auto', '--check-config', 'h2ws.json'])).toMatchObject({ workers: 'auto', checkConfig: 'h2ws.json' });
    expect(resolveWorkers({}, parseArgs([]))).toBe(1);
    expect(resolveWorkers({ workers: 3 }, parseArgs([]))).toBe(3);
    expect(resolveWorkers({ workers: 3 }, parseArgs(['--workers', 'auto']))).toBe('auto');
    expect(resolveWorkers({ workers: 'auto' }, parseArgs(['--workers', '2']))).toBe(2);
  });

  test('a bad count names the flag or the field', () => {
    for (const bad of ['0', '-1', '1.5', 'many', '257']) {
      expect(configError(() => resolveWorkers({}, parseArgs(['--workers', bad])))).toEqual({ field: '--workers', message: `--workers: "${bad}" is not a count from 1 to 256, or auto` });
    }
    expect(configError(() => parseConfigFile({ workers: 0 })).field).toBe('workers');
    expect(configError(() => parseConfigFile({ workers: 'all' })).field).toBe('workers');
    expect(parseConfigFile({ workers: 'auto' }).workers).toBe('auto');
  });

  test('auto is one per CPU', () => {
    expect(workerCount('auto', 8)).toBe(8);
    expect(workerCount('auto', 0)).toBe(1);
    expect(workerCount(3, 8)).toBe(3);
  });
});

describe('limits across workers', () => {
  test('maxTunnels is split so that the workers together admit exactly the configured number', () => {
    expect([0, 1, 2].map((i) => shareOf(10, 3, i))).toEqual([4, 3, 3]);
    expect([0, 1].map((i) => shareOf(4, 2, i))).toEqual([2, 2]);
    const { options } = resolveOptions({ limits: { maxTunnels: 7 } }, parseArgs([]), (t) => t);
    const shares = [0, 1, 2].map((i) => workerOptions(options, 3, i).limits);
    expect(shares.map((l) => l.maxTunnels)).toEqual([3, 2, 2]);
    // Per-connection and per-tunnel limits are the same in every worker.
    expect(shares.every((l) => l.maxStreamsPerConnection === DEFAULT_LIMITS.maxStreamsPerConnection && l.maxBufferedBytesPerTunnel === DEFAULT_LIMITS.maxBufferedBytesPerTunnel)).toBe(true);
    expect(workerOptions(options, 1, 0)).toBe(options);
  });

  test('fewer tunnels than workers is a config error naming limits.maxTunnels', () => {
    const { options } = resolveOptions({ limits: { maxTunnels: 2 } }, parseArgs([]), (t) => t);
    expect(configError(() => checkWorkerLimits(options, 3))).toEqual({ field: 'limits.maxTunnels', message: 'limits.maxTunnels: 2 is fewer than the 3 workers; each worker needs at least one tunnel (raise it, or run fewer workers)' });
    expect(() => checkWorkerLimits(options, 2)).not.toThrow();
  });
});

describe('config snapshots', () => {
  test('record the files read, and resolve again without reading', () => {
    const files: Record<string, string> = { 'h2ws.json': JSON.stringify({ tls: { cert: 'c.pem', key: 'k.pem' }, routes: { '/a': 'ws://a:1' }, workers: 2 }), 'c.pem': 'CERT', 'k.pem': 'KEY' };
    const reads: string[] = [];
    const args = parseArgs(['--config', 'h2ws.json']);
    const { snapshot, resolved } = takeSnapshot(args, (path) => {
      reads.push(path);
      return files[path]!;
    });
    expect(reads).toEqual(['h2ws.json', 'c.pem', 'k.pem']);
    expect(snapshot.files).toEqual({ 'c.pem': 'CERT', 'k.pem': 'KEY' });
    expect(resolved.workers).toBe(2);
    expect(resolved.options.tls).toEqual({ cert: 'CERT', key: 'KEY' });
    const again = resolveSnapshot(JSON.parse(JSON.stringify(snapshot)), args);
    expect(again.options).toEqual(resolved.options);
  });

  test('a config that is not JSON names --config', () => {
    expect(configError(() => takeSnapshot(parseArgs(['--config', 'x.json']), () => '{ nope'))).toMatchObject({ field: '--config', message: expect.stringMatching(/^--config: "x\.json" is not valid JSON/) });
  });
});
