import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from '../log/levels.ts';
import type { AccessRule } from '../handshake/access.ts';
import { parseProxyRange } from '../handshake/proxy-trust.ts';

/**
 * The JSON config file (`--config FILE.json`) and the library's input share this schema.
 * Objects are strict, so a misspelt field is reported rather than ignored.
 */
const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

export const limitsSchema = z.strictObject({
  maxTunnels: positiveInt.optional(),
  maxStreamsPerConnection: positiveInt.max(2 ** 31 - 1).optional(),
  maxHeaderListSize: positiveInt.min(1024).optional(),
  maxBufferedBytesPerTunnel: positiveInt.min(16_384).optional(),
});

export const timeoutsSchema = z.strictObject({
  handshakeMs: positiveInt.optional(),
  backendConnectMs: positiveInt.optional(),
  backendUpgradeMs: positiveInt.optional(),
  idleMs: nonNegativeInt.optional(),
  drainMs: nonNegativeInt.optional(),
  closeGraceMs: nonNegativeInt.max(60_000).optional(),
  pingIntervalMs: nonNegativeInt.optional(),
  upstreamResponseMs: positiveInt.optional(),
});

export const accessSchema = z.strictObject({
  origins: z.array(z.string().min(1)).optional(),
  bearerToken: z.string().min(1).optional(),
  requireHeader: z.strictObject({ name: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name'), value: z.string().min(1) }).optional(),
});

export const adminSchema = z.strictObject({
  /** "HOST:PORT": serve /metrics, /healthz, /readyz and /status there instead of on the main listener. */
  listen: z.string().optional(),
  metrics: z.boolean().optional(),
  status: z.boolean().optional(),
});

/** An IP address or CIDR range ("10.0.0.0/8", "2001:db8::/32") of a proxy whose forwarding fields h2ws keeps. */
export const trustedProxySchema = z.string().superRefine((value, ctx) => {
  const range = parseProxyRange(value);
  if (range instanceof Error) ctx.addIssue({ code: 'custom', message: range.message });
});

/** At most this many workers: far more than any host's cores, and a guard against typos. */
export const MAX_WORKERS = 256;

export const workersSchema = z.union([positiveInt.max(MAX_WORKERS), z.literal('auto')]);

export const logSchema = z.strictObject({
  level: z.enum(LOG_LEVELS).optional(),
  format: z.enum(['json', 'pretty']).optional(),
});

/**
 * A route written as an object: its WebSocket backend, its HTTP upstream and static files
 * (at least one of the three), and optionally access rules and HTTP/2 to the backend.
 */
export interface RouteConfig {
  /** The WebSocket backend (`ws://` or `wss://`) for handshakes on this prefix. */
  backend?: string;
  /** The HTTP upstream (`http://` or `https://`) for every other request on this prefix (docs/http-proxy.md). */
  http?: string;
  /** A directory of files served on this prefix; a missing file goes on to `http`, if any. */
  static?: string;
  /** Send the upstream's host[:port] as Host instead of the client's; overrides the top level. */
  rewriteHost?: boolean;
  /** Access rules for this route; its fields replace the config's `access` ones. */
  access?: AccessRule;
  /**
   * Reach the backend over HTTP/2 (RFC 8441): "prefer" falls back to HTTP/1.1 per tunnel
   * when it does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL; "require" answers 502 then.
   */
  h2?: 'prefer' | 'require';
}

const routeObjectSchema = z
  .strictObject({
    backend: z.string().optional(),
    http: z.string().optional(),
    static: z.string().min(1).optional(),
    rewriteHost: z.boolean().optional(),
    access: accessSchema.optional(),
    h2: z.enum(['prefer', 'require']).optional(),
  })
  .refine((r) => r.backend !== undefined || r.http !== undefined || r.static !== undefined, { message: 'a route needs "backend", "http" or "static"' });

/** The config file's shape, spelled out (also what JSR's explicit public types need). */
export interface ConfigFile {
  /** `HOST:PORT`, `[IPv6]:PORT` or `:PORT`; default 127.0.0.1:8443 with TLS, 127.0.0.1:8080 without. */
  listen?: string;
  /** Paths to PEM files (in the config file), or PEM text (in `serve()`). */
  tls?: { cert: string; key: string };
  /** TLS with a certificate made at start-up, for trying out. */
  selfSigned?: boolean;
  /** The default route (prefix `/`), the same as `--backend`. */
  backend?: string;
  /** The default HTTP upstream (`--http-backend`): plain requests no other route takes. */
  httpBackend?: string;
  /** A directory of files served at "/" (`--static`), before `httpBackend`. */
  static?: string;
  /** Send each HTTP upstream its own host[:port] as Host (`--rewrite-host`); default: the client's. */
  rewriteHost?: boolean;
  /** Path prefix to a WebSocket backend URL, an HTTP upstream URL, or a {@link RouteConfig}, the same as `--route PREFIX=URL`. */
  routes?: Record<string, string | RouteConfig>;
  /** Access rules for every route; a route's own `access` fields replace these. */
  access?: AccessRule;
  /**
   * Peers (IP addresses or CIDR ranges) whose X-Forwarded-For, Forwarded and X-Real-IP are
   * kept and extended; everyone else's are replaced (docs/operations.md, "Forwarding headers").
   */
  trustedProxies?: string[];
  /** See `Limits`; each field falls back to `DEFAULT_LIMITS`. */
  limits?: Partial<Record<'maxTunnels' | 'maxStreamsPerConnection' | 'maxHeaderListSize' | 'maxBufferedBytesPerTunnel', number>>;
  /** See `Timeouts`; each field falls back to `DEFAULT_TIMEOUTS`. */
  timeouts?: Partial<Record<'handshakeMs' | 'backendConnectMs' | 'backendUpgradeMs' | 'idleMs' | 'drainMs' | 'closeGraceMs' | 'pingIntervalMs' | 'upstreamResponseMs', number>>;
  /** A separate admin listener, and which admin endpoints are on. */
  admin?: { listen?: string; metrics?: boolean; status?: boolean };
  /** Log level and format, as `--log-level` and `--log-format`. */
  log?: { level?: LogLevel; format?: 'json' | 'pretty' };
  /** Processes serving the one listening address (`--workers`): a count, or "auto" for one per CPU. */
  workers?: number | 'auto';
}

export const configFileSchema: z.ZodType<ConfigFile> = z.strictObject({
  /** "HOST:PORT" */
  listen: z.string().optional(),
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  selfSigned: z.boolean().optional(),
  /** The default route, the same as `--backend`. */
  backend: z.string().optional(),
  httpBackend: z.string().optional(),
  static: z.string().min(1).optional(),
  rewriteHost: z.boolean().optional(),
  /** Path prefix → backend URL, the same as `--route PREFIX=URL`. */
  routes: z.record(z.string(), z.union([z.string(), routeObjectSchema])).optional(),
  access: accessSchema.optional(),
  trustedProxies: z.array(trustedProxySchema).optional(),
  limits: limitsSchema.optional(),
  timeouts: timeoutsSchema.optional(),
  admin: adminSchema.optional(),
  log: logSchema.optional(),
  workers: workersSchema.optional(),
});


/** One line naming the field, for a zod failure. */
export function describeIssue(error: z.ZodError, prefix = ''): { field: string; message: string } {
  const issue = error.issues[0]!;
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const field = prefix + (path === '' ? key : `${path}.${key}`);
    return { field, message: `unknown field "${field}"` };
  }
  const field = prefix + path;
  return { field, message: `${field === '' ? 'config' : `field "${field}"`}: ${issue.message}` };
}
