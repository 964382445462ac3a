/**
 * The docs stay true: README.md and docs/*.md are checked against the code they describe.
 * - every flag of `h2ws` and `h2ws client` has a row in docs/cli.md;
 * - every config field (walked from the zod schema) has a row in docs/config.md, with its default;
 * - every relative link resolves to a file of the repository;
 * - every ```ts block type-checks against the package as a user imports it (`from 'h2ws'`),
 *   and every ```ts run block runs to a clean exit under Node, Deno and Bun;
 * - `deno doc --lint mod.ts` passes, so the JSR page documents every export.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { CLIENT_FLAGS, CLIENT_HELP } from '../../src/cli/client.ts';
import { HELP } from '../../src/cli/help.ts';
import { FLAGS } from '../../src/config/argv.ts';
import { DEFAULT_ADMIN, DEFAULT_LIMITS, DEFAULT_LOG, DEFAULT_TIMEOUTS } from '../../src/config/options.ts';
import { configFileSchema } from '../../src/config/schema.ts';
import { RUNTIMES, runtimeCommand, scriptCommand } from '../helpers/gateway-process.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** README.md and every page under docs/, as repository paths. */
const PAGES = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

/**
 * Pages that branches merged alongside this one add. Until they land, links to them are not
 * checked; once they exist this list can go (a link to a missing page fails again).
 */
const PAGES_ADDED_BY_OTHER_BRANCHES: string[] = [];

/**
 * The types `deno doc --lint` calls private although they are public in their own package:
 * ws's and hono's (denoland/deno#27364). Deno skips that check for types of remote modules
 * (denoland/deno#34339), but with `nodeModulesDir: "manual"` npm packages load from
 * node_modules as local files, so it still applies to them. Local types are never excused.
 */
const FOREIGN_TYPES = new Set(['WebSocket', 'WebSocket.ServerOptions', 'WebSocket.PerMessageDeflateOptions', 'WebSocketServer', 'UpgradeWebSocket']);

/** The first cell of each table row of a page, as the `code` spans it holds, with the row's cells. */
function tableRows(markdown: string): Array<{ names: string[]; cells: string[]; line: string }> {
  return markdown.split('\n').filter((l) => l.startsWith('|') && !/^\|[-:| ]+\|$/.test(l)).map((line) => {
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    return { names: [...(cells[0] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!), cells, line };
  });
}

describe('docs/cli.md names every flag', () => {
  const rows = tableRows(read('docs/cli.md'));
  /** A row whose first cell starts a code span with the flag ("`--listen HOST:PORT`", "`--help`, `-h`"). */
  const documented = (flag: string) => rows.some((r) => r.names.some((n) => n === flag || n.startsWith(`${flag} `)));

  it.each(Object.keys(FLAGS))('h2ws --%s (src/config/argv.ts FLAGS)', (name) => {
    expect(documented(`--${name}`), `flag --${name} of h2ws has no row in docs/cli.md: add "| \`--${name} …\` | what it does |" to the Flags table`).toBe(true);
  });

  it.each(Object.keys(CLIENT_FLAGS))('h2ws client --%s (src/cli/client.ts CLIENT_FLAGS)', (name) => {
    expect(documented(`--${name}`), `flag --${name} of h2ws client has no row in docs/cli.md: add "| \`--${name} …\` | what it does |" to the h2ws client table`).toBe(true);
  });

  it('every flag the help texts name', () => {
    const named = new Set([...`${HELP}\n${CLIENT_HELP}`.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]));
    const missing = [...named].filter((flag) => !documented(flag));
    expect(missing, `flags named by h2ws --help or h2ws client --help without a row in docs/cli.md: ${missing.join(', ')}`).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// Config fields, from the schema itself.

type AnySchema = z.core.$ZodType;

/** The parts of a zod 4 schema definition the walk reads. */
interface Def {
  readonly type: string;
  readonly innerType?: AnySchema;
  readonly options?: readonly AnySchema[];
  readonly valueType?: AnySchema;
  readonly shape?: Readonly<Record<string, AnySchema>>;
}
const defOf = (schema: AnySchema) => schema._zod.def as unknown as Def;

/** Every path each object schema appears at (a shared schema, like `access`, appears twice). */
function objectPaths(schema: AnySchema, at: string, into: Map<AnySchema, string[]>): Map<AnySchema, string[]> {
  const def = defOf(schema);
  if (def.innerType !== undefined) return objectPaths(def.innerType, at, into);
  if (def.type === 'union') for (const option of def.options ?? []) objectPaths(option, at, into);
  if (def.type === 'record') objectPaths(def.valueType!, `${at}.*`, into);
  if (def.type === 'object') {
    into.set(schema, [...(into.get(schema) ?? []), at]);
    for (const [key, field] of Object.entries(def.shape ?? {})) objectPaths(field, at === '' ? key : `${at}.${key}`, into);
  }
  return into;
}

/**
 * The documented fields: every leaf of the schema ("limits.maxTunnels", "routes.*.h2"). A record
 * of plain values is the record's own field ("routes"); an object schema used at several paths
 * is walked at its shortest path and is one field everywhere else ("routes.*.access").
 */
function configFields(root: AnySchema): string[] {
  const paths = objectPaths(root, '', new Map());
  const home = new Map([...paths].map(([schema, at]) => [schema, [...at].sort((a, b) => a.split('.').length - b.split('.').length)[0]!]));
  const out = new Set<string>();
  const walk = (schema: AnySchema, at: string): void => {
    const def = defOf(schema);
    if (def.innerType !== undefined) return walk(def.innerType, at);
    if (def.type === 'union') return void (def.options ?? []).forEach((option) => walk(option, at));
    if (def.type === 'record') return walk(def.valueType!, `${at}.*`);
    if (def.type === 'object' && (at === '' || home.get(schema) === at)) {
      for (const [key, field] of Object.entries(def.shape ?? {})) walk(field, at === '' ? key : `${at}.${key}`);
      return;
    }
    out.add(at.endsWith('.*') ? at.slice(0, -2) : at);
  };
  walk(root, '');
  return [...out];
}

/** Defaults by section: the values h2ws uses for a field the config leaves out. */
const DEFAULTS: Readonly<Record<string, object>> = {
  limits: DEFAULT_LIMITS,
  timeouts: DEFAULT_TIMEOUTS,
  admin: DEFAULT_ADMIN,
  log: DEFAULT_LOG,
};

describe('docs/config.md has a row, with its default, for every config field', () => {
  const rows = tableRows(read('docs/config.md'));
  const fields = configFields(configFileSchema as unknown as AnySchema);

  it('the walk finds the schema\'s fields', () => {
    expect(fields).toEqual(expect.arrayContaining(['listen', 'tls.cert', 'routes', 'routes.*.h2', 'routes.*.access', 'access.origins', 'limits.maxTunnels', 'timeouts.drainMs', 'log.level']));
  });

  it.each(fields)('%s', (field) => {
    const row = rows.find((r) => r.names.includes(field));
    expect(row, `config field "${field}" has no row in docs/config.md: add "| \`${field}\` | default | meaning |" to the "Every field" table`).toBeDefined();
    const defaultCell = row!.cells[1] ?? '';
    expect(defaultCell, `docs/config.md: the row of "${field}" needs its default in the second column`).not.toBe('');
    const [section, key] = field.split('.');
    const value = key === undefined ? undefined : (DEFAULTS[section!] as Record<string, unknown> | undefined)?.[key];
    if (value !== undefined) {
      const written = `\`${JSON.stringify(value)}\``;
      expect(defaultCell, `docs/config.md: the default of "${field}" is ${written} (src/config/options.ts)`).toContain(written);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Links.

describe('every relative link in README.md and docs/*.md resolves', () => {
  it.each(PAGES)('%s', (page) => {
    const text = read(page).replace(/^```[\s\S]*?^```/gm, ''); // links in code blocks are code
    const broken: string[] = [];
    for (const m of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
      const file = path.normalize(path.join(path.dirname(page), decodeURIComponent(target.split('#')[0]!)));
      if (PAGES_ADDED_BY_OTHER_BRANCHES.includes(file)) continue;
      if (!existsSync(path.join(ROOT, file))) broken.push(`${target} (${file})`);
    }
    expect(broken, `${page} links to files that do not exist`).toEqual([]);
  });

  it('the README reaches every page under docs/ in one click', () => {
    const readme = read('README.md');
    const unlinked = PAGES.filter((p) => p.startsWith('docs/') && !readme.includes(`](${p})`) && !readme.includes(`](${p}#`));
    expect(unlinked, 'docs pages the README does not link to').toEqual([]);
  });

  it('every docs page starts with what a reader can do with it and links back to the README', () => {
    for (const page of PAGES.filter((p) => p.startsWith('docs/'))) {
      const opening = read(page).split('\n').slice(0, 12).join('\n');
      // A title, then a paragraph (not a list, table, heading or code) saying what it is for.
      expect(opening, `${page} should open with its title and a paragraph on what a reader can do with it`).toMatch(/^# .+\n\n[A-Za-z`[]/);
      expect(opening, `${page} should link back to the README near its top`).toContain('](../README.md)');
    }
  });
});

// ---------------------------------------------------------------------------------------
// Code blocks: type-checked as a user's module, and run where marked `ts run`.

interface Block {
  readonly page: string;
  readonly line: number;
  readonly runs: boolean;
  readonly file: string;
}

const BLOCKS_DIR = path.join(ROOT, 'test/artifacts/doc-blocks');

/** Writes each ```ts block of every page as its own module under test/artifacts (ignored by git). */
function extractBlocks(): Block[] {
  const blocks: Block[] = [];
  for (const page of PAGES) {
    const text = read(page);
    for (const m of text.matchAll(/^```(?:ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm)) {
      const line = text.slice(0, m.index).split('\n').length;
      const file = `${page.replace(/[^A-Za-z0-9]+/g, '_')}_L${line}.ts`;
      const body = m[2]!;
      // Without an import or export a block would be a script, where top-level await is an error.
      writeFileSync(path.join(BLOCKS_DIR, file), /^\s*(import|export)\s/m.test(body) ? body : `${body}\nexport {};\n`);
      blocks.push({ page, line, runs: /\brun\b/.test(m[1]!), file });
    }
  }
  return blocks;
}

describe('the TypeScript blocks of README.md and docs/*.md', () => {
  let blocks: Block[] = [];
  let compiled: { ok: boolean; output: string };

  beforeAll(async () => {
    runtimeCommand('node'); // fails loudly when dist/ (the package the blocks import) is missing
    rmSync(BLOCKS_DIR, { recursive: true, force: true });
    mkdirSync(BLOCKS_DIR, { recursive: true });
    blocks = extractBlocks();
    // Inside the repository, `import … from 'h2ws'` resolves to this package's own exports
    // (dist/mod.d.ts and dist/mod.js), exactly what a user of the npm package gets.
    writeFileSync(path.join(BLOCKS_DIR, 'tsconfig.json'), JSON.stringify({
      extends: '../../../tsconfig.json',
      compilerOptions: { rootDir: '.', outDir: 'out', declaration: false, noEmit: false },
      include: ['*.ts'],
    }));
    try {
      await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(BLOCKS_DIR, 'tsconfig.json')], { cwd: ROOT });
      compiled = { ok: true, output: '' };
    } catch (err) {
      compiled = { ok: false, output: String((err as { stdout?: string }).stdout ?? err) };
    }
  }, 120_000);

  afterAll(() => {
    rmSync(BLOCKS_DIR, { recursive: true, force: true });
  });

  it('there are blocks, and some of them run', () => {
    expect(blocks.length).toBeGreaterThan(5);
    expect(blocks.filter((b) => b.runs).map((b) => b.page)).toEqual(expect.arrayContaining(['README.md']));
  });

  it('every block type-checks', () => {
    // Name the page and line of each error: "README_md_L60.ts(3,7)" → "README.md:62".
    const located = compiled.output.replace(/(?:\S*\/)?([^/\s]+?)_L(\d+)\.ts\((\d+),\d+\)/g, (_all, slug: string, start: string, row: string) => {
      const block = blocks.find((b) => b.file === `${slug}_L${start}.ts`);
      return `${block?.page ?? slug}:${Number(start) + Number(row)}`;
    });
    expect(compiled.ok, `code blocks that do not type-check:\n${located}`).toBe(true);
  });

  // Node runs what tsc emitted; Deno and Bun run the block's source. All three resolve 'h2ws'
  // to this package, as the README says they do.
  it.each(RUNTIMES)('every `ts run` block runs under %s and exits 0', async (runtime) => {
    expect(compiled.ok, 'the blocks must compile first').toBe(true);
    for (const block of blocks.filter((b) => b.runs)) {
      const js = path.join(BLOCKS_DIR, 'out', block.file.replace(/\.ts$/, '.js'));
      const { cmd, args } = runtime === 'node' ? { cmd: process.execPath, args: [js] } : scriptCommand(runtime, path.relative(ROOT, path.join(BLOCKS_DIR, block.file)));
      const result = await run(cmd, args, { cwd: ROOT, timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } })
        .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }))
        .catch((err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
      expect(result, `${block.page}:${block.line} should run under ${runtime} to exit 0`).toMatchObject({ code: 0 });
      expect(result.stdout, `${block.page}:${block.line} prints what it shows`).not.toBe('');
    }
  }, 120_000);
});

describe('the JSR API reference', () => {
  it('`deno doc --lint mod.ts` passes: every export and every type it mentions is documented', async () => {
    const { cmd } = runtimeCommand('deno');
    const result = await run(cmd, ['doc', '--lint', 'mod.ts'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
      .then((r) => r.stdout + r.stderr)
      .catch((err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`);
    const problems = result.split(/\n(?=error\[)/).filter((d) => d.startsWith('error[')).filter((d) => {
      const foreign = /^error\[private-type-ref\]: public type '[^']+' references private type '([^']+)'/.exec(d);
      return foreign === null || !FOREIGN_TYPES.has(foreign[1]!);
    });
    expect(problems.map((p) => p.split('\n').slice(0, 2).join(' ')), 'deno doc --lint mod.ts').toEqual([]);
  }, 60_000);
});
