import type { AccessRule } from '../handshake/access.ts';
import { ErrorCode, H2wsError } from '../errors.ts';
import { type HttpRoute, parseUpstreamUrl } from '../routing/http-routes.ts';
import { parseBackendUrl, type Route } from '../routing/route-table.ts';

type HttpRoutePart = { -readonly [K in Exclude<keyof HttpRoute, 'prefix'>]?: HttpRoute[K] };
import type { CliArgs } from './argv.ts';
import { parseListenAddress } from './listen-address.ts';
import { isLogLevel, LOG_LEVELS } from '../log/levels.ts';
import {
  type AdminOptions, DEFAULT_ADMIN, DEFAULT_LOG,
  DEFAULT_CLEARTEXT_PORT, DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_TIMEOUTS, DEFAULT_TLS_PORT,
  type GatewayOptions, type TlsOptions,
} from './options.ts';
import { type ConfigFile, configFileSchema, describeIssue, type RouteConfig } from './schema.ts';
import { normalizePath } from '../handshake/path.ts';
import { parseProxyRange } from '../handshake/proxy-trust.ts';

/** A route's own access fields replace the config's default ones, field by field. */
function mergeAccess(base: AccessRule | undefined, own: AccessRule | undefined): AccessRule | undefined {
  if (base === undefined && own === undefined) return undefined;
  return Object.freeze({ ...base, ...own });
}

function fail(field: string, message: string): never {
  throw new H2wsError(ErrorCode.CONFIG, message, { field });
}

/** Validates a parsed JSON config file; throws H2wsError naming the field. */
export function parseConfigFile(json: unknown): ConfigFile {
  const result = configFileSchema.safeParse(json);
  if (!result.success) {
    const { field, message } = describeIssue(result.error);
    fail(field, message);
  }
  return result.data;
}

/**
 * Merges a config file and the command line (flags win) into frozen GatewayOptions.
 * `readText` reads the TLS files, so this stays free of I/O of its own.
 * `embedded` is true when neither names a backend: the caller starts the built-in demo.
 */
export function resolveOptions(
  file: ConfigFile,
  args: CliArgs,
  readText: (path: string, field: string) => string,
): { options: GatewayOptions; embedded: boolean } {
  // TLS: flags replace the file's choice (--self-signed included).
  const fileTls = args.tlsCert === undefined && args.tlsKey === undefined && !args.selfSigned ? file.tls : undefined;
  const certPath = args.tlsCert ?? fileTls?.cert;
  const keyPath = args.tlsKey ?? fileTls?.key;
  const selfSigned = args.selfSigned || (args.tlsCert === undefined && args.tlsKey === undefined && file.selfSigned === true);
  if ((certPath === undefined) !== (keyPath === undefined)) {
    fail(certPath === undefined ? '--tls-cert' : '--tls-key', '--tls-cert and --tls-key go together; give both, or --self-signed');
  }
  if (selfSigned && certPath !== undefined) fail('--self-signed', '--self-signed cannot be combined with --tls-cert/--tls-key');
  let tls: TlsOptions | undefined;
  if (certPath !== undefined && keyPath !== undefined) {
    tls = { cert: readText(certPath, '--tls-cert'), key: readText(keyPath, '--tls-key') };
  } else if (selfSigned) {
    tls = { selfSigned: true };
  }

  const listenText = args.listen ?? file.listen;
  const listen = listenText === undefined
    ? { host: DEFAULT_HOST, port: tls === undefined ? DEFAULT_CLEARTEXT_PORT : DEFAULT_TLS_PORT }
    : parseListenAddress(listenText, DEFAULT_HOST);
  if (listen instanceof Error) {
    const field = args.listen !== undefined ? '--listen' : 'listen';
    fail(field, `${field}: ${listen.message}`);
  }

  const routes = new Map<string, Route>();
  const httpRoutes = new Map<string, HttpRoutePart>();
  const addRoute = (prefix: string, target: string | RouteConfig, field: string) => {
    if (!prefix.startsWith('/')) fail(field, `${field}: route prefix "${prefix}" must start with "/"`);
    // Requests are matched by their normalized path (handshake/path.ts), so a prefix that is
    // not itself normalized could never match.
    const normal = normalizePath(prefix);
    if (!normal.ok || normal.path !== prefix || prefix.includes('?')) {
      fail(field, `${field}: route prefix "${prefix}" is not a normalized path${normal.ok && !prefix.includes('?') ? ` (write "${normal.path}")` : ''}`);
    }
    // A plain string is a WebSocket backend or, by its scheme, an HTTP upstream.
    const config: RouteConfig = typeof target !== 'string' ? target : /^https?:/i.test(target) ? { http: target } : { backend: target };
    try {
      if (config.backend !== undefined) {
        const access = mergeAccess(file.access, config.access);
        routes.set(prefix, { prefix, backend: parseBackendUrl(config.backend), ...(access !== undefined && { access }), ...(config.h2 !== undefined && { h2: config.h2 }) });
      }
      if (config.http !== undefined || config.static !== undefined || config.rewriteHost !== undefined) {
        // One prefix may be named more than once (--backend and --http-backend, say): the
        // HTTP side's fields are merged, a later one replacing an earlier one.
        const part = httpRoutes.get(prefix) ?? {};
        httpRoutes.set(prefix, {
          ...part,
          ...(config.http !== undefined && { upstream: parseUpstreamUrl(config.http) }),
          ...(config.static !== undefined && { static: config.static }),
          ...(config.rewriteHost !== undefined && { rewriteHost: config.rewriteHost }),
        });
      }
    } catch (err) {
      fail(field, `${field}: ${(err as Error).message}`);
    }
  };
  if (file.backend !== undefined) addRoute('/', { backend: file.backend }, 'backend');
  if (file.httpBackend !== undefined) addRoute('/', { http: file.httpBackend }, 'httpBackend');
  if (file.static !== undefined) addRoute('/', { static: file.static }, 'static');
  for (const [prefix, target] of Object.entries(file.routes ?? {})) addRoute(prefix, target, `routes.${prefix}`);
  if (args.backend !== undefined) addRoute('/', { backend: args.backend }, '--backend');
  if (args.httpBackend !== undefined) addRoute('/', { http: args.httpBackend }, '--http-backend');
  if (args.static !== undefined) addRoute('/', { static: args.static }, '--static');
  for (const [prefix, url] of args.routes) addRoute(prefix, url, '--route');
  const rewriteHost = args.rewriteHost ?? file.rewriteHost ?? false;
  const http: HttpRoute[] = [];
  for (const [prefix, part] of httpRoutes) {
    if (part.upstream === undefined && part.static === undefined) continue; // rewriteHost alone serves nothing
    http.push(Object.freeze({ prefix, ...part, rewriteHost: part.rewriteHost ?? rewriteHost }));
  }

  let admin: AdminOptions = { ...DEFAULT_ADMIN, ...file.admin, listen: undefined };
  const adminText = args.adminListen ?? file.admin?.listen;
  if (adminText !== undefined) {
    const field = args.adminListen !== undefined ? '--admin-listen' : 'admin.listen';
    const address = parseListenAddress(adminText, DEFAULT_HOST);
    if (address instanceof Error) fail(field, `${field}: ${address.message}`);
    if (address.port !== 0 && address.port === listen.port && address.host === listen.host) {
      fail(field, `${field}: ${adminText} is the main listener's address; pick another port, or leave it out to serve the admin endpoints on the main listener`);
    }
    admin = { ...admin, listen: address };
  }
  if (args.noMetrics) admin = { ...admin, metrics: false };

  const level = args.logLevel ?? file.log?.level ?? DEFAULT_LOG.level;
  if (!isLogLevel(level)) fail('--log-level', `--log-level: "${level}" is not one of ${LOG_LEVELS.join(', ')}`);
  const format = args.logFormat ?? file.log?.format;
  if (format !== undefined && format !== 'json' && format !== 'pretty') fail('--log-format', `--log-format: "${format}" is not json or pretty`);

  // Flags replace the file's list, as other flags do.
  for (const value of args.trustedProxies ?? []) {
    const range = parseProxyRange(value);
    if (range instanceof Error) fail('--trusted-proxy', `--trusted-proxy: ${range.message}`);
  }
  const trustedProxies = args.trustedProxies ?? file.trustedProxies ?? [];

  const options: GatewayOptions = {
    host: listen.host,
    port: listen.port,
    tls,
    routes: Object.freeze([...routes.values()]),
    ...(http.length > 0 && { httpRoutes: Object.freeze(http) }),
    access: file.access === undefined ? undefined : Object.freeze({ ...file.access }),
    ...(trustedProxies.length > 0 && { trustedProxies: Object.freeze([...trustedProxies]) }),
    limits: Object.freeze({ ...DEFAULT_LIMITS, ...file.limits }),
    timeouts: Object.freeze({ ...DEFAULT_TIMEOUTS, ...file.timeouts }),
    admin: Object.freeze(admin),
    log: Object.freeze({ level, format }),
  };
  return { options: Object.freeze(options), embedded: routes.size === 0 && http.length === 0 };
}
