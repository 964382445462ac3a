import { ErrorCode, H2wsError } from '../errors.ts';

/** The command line, parsed but not yet validated against the config schema. */
export interface CliArgs {
  readonly help: boolean;
  readonly version: boolean;
  readonly listen?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly selfSigned: boolean;
  readonly backend?: string;
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

const VALUE_FLAGS = new Set(['--listen', '--tls-cert', '--tls-key', '--backend', '--route', '--config', '--admin-listen', '--log-level', '--log-format', '--trusted-proxy', '--workers', '--check-config']);
const BOOLEAN_FLAGS = new Set(['--self-signed', '--help', '-h', '--version', '-v', '--no-metrics']);

function fail(field: string, message: string): never {
  throw new H2wsError(ErrorCode.CONFIG, message, { field });
}

/** Parses argv (without the runtime and script). Throws H2wsError(H2WS_ERR_CONFIG) naming the flag. */
export function parseArgs(argv: readonly string[]): CliArgs {
  const out: {
    help: boolean; version: boolean; selfSigned: boolean; noMetrics: boolean; routes: Array<[string, string]>;
    listen?: string; tlsCert?: string; tlsKey?: string; backend?: string; config?: string;
    adminListen?: string; logLevel?: string; logFormat?: string; trustedProxies?: string[]; workers?: string; checkConfig?: string;
  } = { help: false, version: false, selfSigned: false, noMetrics: false, routes: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if (BOOLEAN_FLAGS.has(flag)) {
      if (eq !== -1) fail(flag, `${flag} takes no value`);
      if (flag === '--help' || flag === '-h') out.help = true;
      else if (flag === '--version' || flag === '-v') out.version = true;
      else if (flag === '--no-metrics') out.noMetrics = true;
      else out.selfSigned = true;
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) {
      fail(flag, arg.startsWith('-') ? `unknown flag ${flag}; run h2ws --help for the list` : `unexpected argument "${arg}"; run h2ws --help`);
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) fail(flag, `${flag} needs a value`);
      i++;
    }
    switch (flag) {
      case '--listen': out.listen = value; break;
      case '--tls-cert': out.tlsCert = value; break;
      case '--tls-key': out.tlsKey = value; break;
      case '--backend': out.backend = value; break;
      case '--config': out.config = value; break;
      case '--admin-listen': out.adminListen = value; break;
      case '--log-level': out.logLevel = value; break;
      case '--log-format': out.logFormat = value; break;
      case '--trusted-proxy': (out.trustedProxies ??= []).push(value); break;
      case '--workers': out.workers = value; break;
      case '--check-config': out.checkConfig = value; break;
      case '--route': {
        const sep = value.indexOf('=');
        if (sep <= 0 || sep === value.length - 1) fail('--route', `--route "${value}" is not PATH_PREFIX=WS_URL (for example /chat=ws://127.0.0.1:9000)`);
        out.routes.push([value.slice(0, sep), value.slice(sep + 1)]);
        break;
      }
    }
  }
  return out;
}
