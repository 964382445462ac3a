/** Both registries: JSR (mod.ts + deno.json) and npm (built JS + types + the h2ws command). */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeCommand } from '../helpers/gateway-process.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('publishing', () => {
  it('JSR: `deno publish --dry-run` passes, slow-type check included', () => {
    const { cmd } = runtimeCommand('deno');
    const out = execFileSync(cmd, ['publish', '--dry-run', '--allow-dirty'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    expect(out + '').not.toMatch(/error/i);
  }, 60_000);

  it('npm: the packed tarball has the built entry, its types and the h2ws command', () => {
    const json = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const files = new Set((JSON.parse(json) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
    for (const f of ['dist/mod.js', 'dist/mod.d.ts', 'dist/src/cli/main.js', 'bin/h2ws.js', 'package.json', 'README.md']) expect(files, f).toContain(f);
    expect([...files].some((f) => f.startsWith('test/') || f.startsWith('src/'))).toBe(false);
  }, 60_000);
});
