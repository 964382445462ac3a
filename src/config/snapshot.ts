import { ErrorCode, H2wsError } from '../errors.ts';
import type { CliArgs } from './argv.ts';
import type { GatewayOptions } from './options.ts';
import { parseConfigFile, resolveOptions } from './resolve.ts';
import type { ConfigFile } from './schema.ts';
import { resolveWorkers, type WorkersSetting } from './workers.ts';

/**
 * A config as read at one moment: the config file's fields and the text of every file it or
 * the command line names (the TLS certificate and key). Resolving a snapshot reads nothing,
 * so a reload can check a config completely before applying it, and every worker process
 * runs exactly the generation the supervisor read.
 */
export interface ConfigSnapshot {
  readonly config: ConfigFile;
  readonly files: Readonly<Record<string, string>>;
}

export interface ResolvedConfig {
  readonly options: GatewayOptions;
  /** Neither the file nor the flags name a backend: the command starts its embedded demo. */
  readonly embedded: boolean;
  readonly workers: WorkersSetting;
}

/**
 * Reads a config: `read` returns a file's text (or throws H2wsError naming the field), and is
 * called for the config file and the TLS files. Throws H2wsError (H2WS_ERR_CONFIG) naming the
 * field for anything wrong.
 */
export function takeSnapshot(args: CliArgs, read: (path: string, field: string) => string): { snapshot: ConfigSnapshot; resolved: ResolvedConfig } {
  let config: ConfigFile = {};
  if (args.config !== undefined) {
    const text = read(args.config, '--config');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new H2wsError(ErrorCode.CONFIG, `--config: "${args.config}" is not valid JSON (${(err as Error).message})`, { field: '--config' });
    }
    config = parseConfigFile(json);
  }
  const files: Record<string, string> = {};
  const { options, embedded } = resolveOptions(config, args, (path, field) => (files[path] = read(path, field)));
  const snapshot: ConfigSnapshot = { config, files };
  return { snapshot, resolved: { options, embedded, workers: resolveWorkers(config, args) } };
}

/** Resolves a snapshot taken earlier, with the same command line. */
export function resolveSnapshot(snapshot: ConfigSnapshot, args: CliArgs): ResolvedConfig {
  const { options, embedded } = resolveOptions(snapshot.config, args, (path, field) => {
    const text = snapshot.files[path];
    if (text === undefined) throw new H2wsError(ErrorCode.CONFIG, `${field}: "${path}" was not read with the config`, { field });
    return text;
  });
  return { options, embedded, workers: resolveWorkers(snapshot.config, args) };
}
