/**
 * The two published faces stay in step: npm (package.json -> dist/, built from mod.ts) and
 * JSR (deno.json -> mod.ts), the version everywhere, and the names mod.ts exports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import * as mod from '../../mod.ts';
import { VERSION } from '../../src/version.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const readJson = (name: string) => JSON.parse(readFileSync(ROOT + name, 'utf8'));
const pkg = readJson('package.json');
const deno = readJson('deno.json');

type ExportTarget = string | { types?: string; default?: string; import?: string };

/** "./dist/mod.js" -> "./mod.ts", "./dist/src/x.d.ts" -> "./src/x.ts": the source tsc built it from. */
function sourceOf(distPath: string): string {
  expect(distPath.startsWith('./dist/')).toBe(true);
  return './' + distPath.slice('./dist/'.length).replace(/\.d\.ts$|\.js$/, '.ts');
}

function npmRuntimeTarget(target: ExportTarget): string {
  return typeof target === 'string' ? target : (target.import ?? target.default)!;
}

describe('package.json and deno.json', () => {
  test('deno.json "." is ./mod.ts and package.json "." is ./dist/mod.js with its types', () => {
    expect(deno.exports['.']).toBe('./mod.ts');
    expect(pkg.exports['.']).toEqual({ types: './dist/mod.d.ts', default: './dist/mod.js' });
  });

  test('main and types agree with exports "."', () => {
    expect(pkg.main).toBe(npmRuntimeTarget(pkg.exports['.']));
    expect(pkg.types).toBe(pkg.exports['.'].types);
    expect(pkg.type).toBe('module');
  });

  test('every subpath exported by one is exported by the other', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(Object.keys(deno.exports).sort());
  });

  test('each npm export is built from the file JSR exports under the same subpath', () => {
    for (const [subpath, target] of Object.entries(pkg.exports as Record<string, ExportTarget>)) {
      expect(sourceOf(npmRuntimeTarget(target))).toBe(deno.exports[subpath]);
      if (typeof target !== 'string' && target.types !== undefined) expect(sourceOf(target.types)).toBe(deno.exports[subpath]);
      expect(existsSync(ROOT + deno.exports[subpath])).toBe(true);
    }
  });

  test('files ships main, types and bin; JSR publishes mod.ts and src', () => {
    for (const path of [pkg.main, pkg.types]) expect(pkg.files).toContain(path.replace(/^\.\//, ''));
    expect(pkg.files).toContain('dist/src');
    expect(pkg.files).toContain('bin');
    expect(deno.publish.include).toEqual(expect.arrayContaining(['mod.ts', 'src/**/*.ts', 'deno.json']));
  });

  test('bin h2ws exists, is a node script, and imports the built CLI whose source exists', () => {
    expect(Object.keys(pkg.bin)).toEqual(['h2ws']);
    const bin = readFileSync(ROOT + pkg.bin.h2ws, 'utf8');
    expect(bin.startsWith('#!/usr/bin/env node\n')).toBe(true);
    const imported = /from '\.\.\/(dist\/[^']+\.js)'/.exec(bin)?.[1];
    expect(imported).toBe('dist/src/cli/main.js');
    expect(existsSync(ROOT + sourceOf(`./${imported}`))).toBe(true);
  });

  test('deno.json maps every npm dependency to the same version range', () => {
    const fromPkg = Object.fromEntries(Object.entries(pkg.dependencies as Record<string, string>).map(([name, range]) => [name, `npm:${name}@${range}`]));
    // "hono/" maps hono's subpath exports (hono/ws, hono/route) to the same range.
    const bare = Object.fromEntries(Object.entries(deno.imports as Record<string, string>).filter(([name]) => !name.endsWith('/')));
    expect(bare).toEqual(fromPkg);
    for (const [name, target] of Object.entries(deno.imports as Record<string, string>)) {
      if (name.endsWith('/')) expect(target).toBe(`${fromPkg[name.slice(0, -1)]}/`);
    }
  });
});

describe('VERSION', () => {
  test('src/version.ts, package.json and deno.json agree', () => {
    expect(VERSION).toBe(pkg.version);
    expect(VERSION).toBe(deno.version);
    expect(mod.VERSION).toBe(VERSION);
  });

  test('is a semantic version', () => {
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/);
  });
});

describe('mod.ts', () => {
  /** The value (not type-only) names mod.ts re-exports, read from its source. */
  function declaredValueExports(): string[] {
    const source = readFileSync(ROOT + 'mod.ts', 'utf8');
    const names: string[] = [];
    for (const m of source.matchAll(/^export (type )?\{([^}]*)\}/gm)) {
      if (m[1] !== undefined) continue;
      for (const spec of m[2]!.split(',')) {
        const s = spec.trim();
        if (s === '' || s.startsWith('type ')) continue;
        names.push(s.split(/\s+as\s+/).pop()!);
      }
    }
    return names.sort();
  }

  test('every value name exported from mod.ts is importable', () => {
    const declared = declaredValueExports();
    expect(declared.length).toBeGreaterThan(10);
    expect(Object.keys(mod).sort()).toEqual(declared);
    for (const name of declared) expect((mod as Record<string, unknown>)[name]).toBeDefined();
  });

  test('key names have the expected kinds and values', () => {
    expect(typeof mod.createGateway).toBe('function');
    expect(typeof mod.Gateway).toBe('function');
    expect(typeof mod.validateExtendedConnect).toBe('function');
    expect(typeof mod.validateH1Upgrade).toBe('function');
    expect(typeof mod.parseResponseHead).toBe('function');
    expect(typeof mod.verifyUpgradeResponse).toBe('function');
    expect(typeof mod.parseConfigFile).toBe('function');
    expect(typeof mod.generateKey).toBe('function');
    expect(mod.computeAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(mod.H2ErrorCode.PROTOCOL_ERROR).toBe(0x1);
    expect(mod.WEBSOCKET_VERSION).toBe('13');
    expect(mod.ErrorCode.CONFIG).toBe('H2WS_ERR_CONFIG');
    expect(new mod.H2wsError(mod.ErrorCode.CONFIG, 'x')).toBeInstanceOf(Error);
    expect(mod.DEFAULT_LIMITS.maxTunnels).toBe(10_000);
    expect(mod.DEFAULT_TIMEOUTS.drainMs).toBe(30_000);
  });
});
