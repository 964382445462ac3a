import type { GatewayOptions } from '../config/options.ts';
import type { H2wsError } from '../errors.ts';
import type { InProcessRoute } from '../websocket/endpoint.ts';
import type { AdminView } from './admin.ts';

/** What a reload reads: the options for new handshakes and, from the library, its in-process routes. */
export interface ReloadTarget {
  /** The validated options new handshakes get. */
  readonly options: GatewayOptions;
  /** The library's in-process routes, when the reload replaces them. */
  readonly inProcess?: Readonly<Record<string, InProcessRoute>>;
  /** Changed settings outside the options that wait for a restart (the h2ws command's `workers`). */
  readonly restartNeeded?: readonly string[];
}

/**
 * Where a gateway's config comes from, read again on every reload: the h2ws command re-reads
 * its config file and TLS files; `serve()` calls its config function again, or takes the
 * config `reload(config)` was given. Throws H2wsError (H2WS_ERR_CONFIG) for a bad config.
 */
export type ConfigLoader = (config?: unknown) => ReloadTarget | Promise<ReloadTarget>;

/**
 * What a reload did. `restartNeeded` names changed fields a running listener cannot take
 * (listen, admin, log, switching TLS on or off); they wait for the next start.
 */
export type ReloadResult =
  | { readonly ok: true; readonly restartNeeded: readonly string[] }
  | { readonly ok: false; readonly error: H2wsError };

/**
 * How a gateway is embedded: where reload() reads from and, in a worker process of the h2ws
 * command, how the listener is shared and what the admin endpoints report.
 */
export interface GatewayBinding {
  /** Where reload() reads the config when it is called without one. */
  readonly load?: ConfigLoader;
  /** Bind with SO_REUSEPORT, so that several processes share the address (runtime/workers.ts). */
  readonly reusePort?: boolean;
  /** Wraps this process's /metrics and /status into the whole gateway's (a worker asks the supervisor). */
  readonly admin?: (local: AdminView) => AdminView;
}
