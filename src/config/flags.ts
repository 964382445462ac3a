import { parseArgs } from 'node:util';
import { ErrorCode, H2wsError } from '../errors.ts';

/**
 * One row of a command's flag table: `value` flags take `--flag value` or `--flag=value`,
 * `switch` flags take nothing. The key of the row is the flag without its leading `--`.
 */
export interface FlagSpec {
  readonly takes: 'value' | 'switch';
  /** A one-letter alias, written `-x`. */
  readonly short?: string;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** One flag as given: its table name and, for a value flag, its value. */
export interface FlagToken {
  readonly name: string;
  readonly value: string | undefined;
}

function fail(field: string, message: string): never {
  throw new H2wsError(ErrorCode.CONFIG, message, { field });
}

/**
 * Splits argv into flags and positional arguments with `node:util`'s `parseArgs`, which
 * behaves the same on Node, Deno and Bun, then checks each flag against the table. Every
 * mistake is one H2WS_ERR_CONFIG whose `field` names the flag as written; `command` ("h2ws",
 * "h2ws client") goes into the hint.
 */
export function readFlags(argv: readonly string[], table: FlagTable, command: string): { flags: FlagToken[]; positionals: string[] } {
  const options = Object.fromEntries(Object.entries(table).map(([name, spec]) => [
    name,
    { type: spec.takes === 'value' ? 'string' as const : 'boolean' as const, ...(spec.short !== undefined && { short: spec.short }) },
  ]));
  // Not strict: parseArgs's own errors are multi-line and name no field, so the checks are ours.
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const flags: FlagToken[] = [];
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') fail('--', `unexpected argument "--"; run ${command} --help`);
    // A short group such as "-listen" is named as written, not by its first letter.
    const written = token.rawName.startsWith('--') ? token.rawName : argv[token.index]!;
    const spec = Object.hasOwn(table, token.name) ? table[token.name] : undefined;
    if (spec === undefined) {
      fail(written.split('=')[0]!, `unknown flag ${written.split('=')[0]}; run ${command} --help for the list`);
    }
    if (spec.takes === 'switch') {
      if (token.value !== undefined) fail(token.rawName, `${token.rawName} takes no value`);
      flags.push({ name: token.name, value: undefined });
      continue;
    }
    // "--backend --self-signed" is a missing value, not a backend called "--self-signed".
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) fail(token.rawName, `${token.rawName} needs a value`);
    flags.push({ name: token.name, value: token.value });
  }
  return { flags, positionals };
}
