import { ErrorCode, H2wsError } from '../errors.ts';
import { type FlagTable, readFlags } from './flags.ts';

/** The command line, parsed but not yet validated against the config schema. */
export interface CliArgs {
  readonly help: boolean;
  readonly version: boolean;
  readonly listen?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly selfSigned: boolean;
  readonly backend?: string;
  /** `--http-backend URL`: the default HTTP upstream. */
  readonly httpBackend?: string;
  /** `--static DIR`: files served at "/". */
  readonly static?: string;
  /** `--rewrite-host`: HTTP upstreams get their own host[:port] as Host. */
  readonly rewriteHost?: boolean;
  /** `--route PREFIX=URL`, in order. */
  readonly routes: ReadonlyArray<readonly [string, string]>;
  readonly config?: string;
  /** `--trusted-proxy ADDR`, in order (only present when given). */
  readonly trustedProxies?: readonly string[];
  readonly adminListen?: string;
  readonly noMetrics: boolean;
  readonly logLevel?: string;
  readonly logFormat?: string;
  /** `--workers N|auto`, unparsed (config/workers.ts checks it). */
  readonly workers?: string;
  /** `--check-config FILE`: validate FILE and exit. */
  readonly checkConfig?: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Every flag of `h2ws`, one row each: how it is written, and where its value lands in
 * {@link CliArgs}. A value flag given twice keeps the last value unless its row collects.
 * docs/cli.md documents each row (test/unit/docs.test.ts checks that it does).
 */
export const FLAGS = {
  listen: { takes: 'value', set: (out, v) => (out.listen = v) },
  'tls-cert': { takes: 'value', set: (out, v) => (out.tlsCert = v) },
  'tls-key': { takes: 'value', set: (out, v) => (out.tlsKey = v) },
  'self-signed': { takes: 'switch', set: (out) => (out.selfSigned = true) },
  backend: { takes: 'value', set: (out, v) => (out.backend = v) },
  'http-backend': { takes: 'value', set: (out, v) => (out.httpBackend = v) },
  static: { takes: 'value', set: (out, v) => (out.static = v) },
  'rewrite-host': { takes: 'switch', set: (out) => (out.rewriteHost = true) },
  route: { takes: 'value', set: (out, v) => (out.routes = [...out.routes, splitRoute(v)]) },
  'trusted-proxy': { takes: 'value', set: (out, v) => (out.trustedProxies = [...(out.trustedProxies ?? []), v]) },
  config: { takes: 'value', set: (out, v) => (out.config = v) },
  'admin-listen': { takes: 'value', set: (out, v) => (out.adminListen = v) },
  'no-metrics': { takes: 'switch', set: (out) => (out.noMetrics = true) },
  'log-level': { takes: 'value', set: (out, v) => (out.logLevel = v) },
  'log-format': { takes: 'value', set: (out, v) => (out.logFormat = v) },
  workers: { takes: 'value', set: (out, v) => (out.workers = v) },
  'check-config': { takes: 'value', set: (out, v) => (out.checkConfig = v) },
  help: { takes: 'switch', short: 'h', set: (out) => (out.help = true) },
  version: { takes: 'switch', short: 'v', set: (out) => (out.version = true) },
} as const satisfies FlagTable & Record<string, { set(out: Mutable<CliArgs>, value: string): unknown }>;

function splitRoute(value: string): [string, string] {
  const sep = value.indexOf('=');
  if (sep <= 0 || sep === value.length - 1) {
    throw new H2wsError(ErrorCode.CONFIG, `--route "${value}" is not PATH_PREFIX=WS_URL or PATH_PREFIX=HTTP_URL (for example /chat=ws://127.0.0.1:9000)`, { field: '--route' });
  }
  return [value.slice(0, sep), value.slice(sep + 1)];
}

/** Parses argv (without the runtime and script). Throws H2wsError(H2WS_ERR_CONFIG) naming the flag. */
export function parseArgs(argv: readonly string[]): CliArgs {
  const { flags, positionals } = readFlags(argv, FLAGS, 'h2ws');
  const first = positionals[0];
  if (first !== undefined) throw new H2wsError(ErrorCode.CONFIG, `unexpected argument "${first}"; run h2ws --help`, { field: first });
  const out: Mutable<CliArgs> = { help: false, version: false, selfSigned: false, noMetrics: false, routes: [] };
  for (const { name, value } of flags) FLAGS[name as keyof typeof FLAGS].set(out, value ?? '');
  return out;
}
