import type { LogOptions } from '../config/options.ts';
import type { SessionObserver } from '../h2/server.ts';
import { chooseFormat, createLogger, type Logger } from '../log/logger.ts';
import { GatewayMetrics, h2ErrorName } from '../metrics/gateway-metrics.ts';
import { readProcessSample, startEventLoopMonitor } from '../runtime/process-stats.ts';
import type { Outcome } from '../tunnel/outcomes.ts';
import type { TunnelSummary } from '../tunnel/relay.ts';

/** Which tunnel a record is about. */
export interface TunnelLabels {
  readonly transport: 'h2' | 'h1';
  readonly path: string;
  /** The route prefix (or the Hono route pattern); undefined when nothing matched. */
  readonly route: string | undefined;
  readonly client: string;
}

/** A handshake that did not open a tunnel. */
export interface FailedHandshake extends TunnelLabels {
  readonly outcome: Exclude<Outcome, 'ok'>;
  readonly status?: number;
  readonly h2Code?: number;
  readonly message?: string;
}

/** A tunnel that opened and has now closed. */
export interface ClosedTunnel extends TunnelLabels, TunnelSummary {
  readonly route: string;
  readonly backend: string;
}

/** A recent tunnel outcome, as the status page lists it. */
export interface RecentOutcome {
  /** When it happened (ISO 8601). */
  readonly time: string;
  /** `h2` or `h1`. */
  readonly transport: 'h2' | 'h1';
  /** The route, or `none`. */
  readonly route: string;
  /** What became of the handshake. */
  readonly outcome: Outcome;
  /** "clean", "reset by client", "closed by h2ws", a status, … */
  readonly detail: string;
}

const RECENT = 20;

/** Outcomes that point at a backend or h2ws's config rather than at a client: logged as warnings. */
const WARN: ReadonlySet<Outcome> = new Set(['backend_unreachable', 'backend_timeout', 'backend_status', 'bad_accept', 'bad_subprotocol']);

/**
 * Metrics, structured logs and the status page's recent list, fed from one place so that
 * they agree. One log record per tunnel: at its end, or at its handshake when it never opened.
 */
export class Telemetry {
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** Newest first; the time is kept as a number and formatted only when the list is read. */
  readonly #recent: Array<Omit<RecentOutcome, 'time'> & { at: number }> = [];

  constructor(routes: readonly string[], log: LogOptions, write: ((line: string) => void) | undefined) {
    startEventLoopMonitor();
    this.metrics = new GatewayMetrics({ routes, readProcess: readProcessSample });
    this.logger = processLogger(log, write);
  }

  /** The last outcomes, newest first. */
  get recent(): readonly RecentOutcome[] {
    return this.#recent.map(({ at, ...rest }) => ({ time: new Date(at).toISOString(), ...rest }));
  }

  handshakeFailed(e: FailedHandshake): void {
    this.metrics.handshake(e.route, e.transport, e.outcome);
    const detail = e.status !== undefined ? String(e.status) : e.h2Code !== undefined ? h2ErrorName(e.h2Code) : e.outcome;
    this.#remember(e.transport, e.route ?? 'none', e.outcome, detail);
    const level = WARN.has(e.outcome) ? 'warn' : 'info';
    this.logger[level]('tunnel', {
      route: e.route ?? null,
      path: pathOnly(e.path),
      transport: e.transport,
      client: e.client,
      outcome: e.outcome,
      status: e.status,
      reset_code: e.h2Code === undefined ? undefined : h2ErrorName(e.h2Code),
      message: e.message,
    });
  }

  tunnelOpened(route: string, transport: 'h2' | 'h1'): void {
    this.metrics.handshake(route, transport, 'ok');
    this.metrics.tunnelOpened(route, transport);
  }

  tunnelClosed(e: ClosedTunnel): void {
    this.metrics.tunnelClosed(e.route, e.transport, e);
    const end = e.closedByGateway ? 'closed by h2ws' : e.aborted === undefined ? 'clean' : `reset by ${e.aborted}`;
    this.#remember(e.transport, e.route, 'ok', end);
    if (!this.logger.enabled('info')) return; // the record's fields cost more than the check
    this.logger.info('tunnel', {
      route: e.route,
      path: pathOnly(e.path),
      transport: e.transport,
      client: e.client,
      backend: e.backend,
      outcome: 'ok',
      end,
      close_code: e.closeCode,
      reset_code: e.resetCode === undefined ? undefined : h2ErrorName(e.resetCode),
      // The client sent no END_STREAM after the closing handshake (close-grace.ts).
      reset_after_close: e.resetAfterClose === true ? true : undefined,
      bytes_to_backend: e.bytesToBackend,
      bytes_to_client: e.bytesToClient,
      duration_ms: e.durationMs,
    });
  }

  #remember(transport: 'h2' | 'h1', route: string, outcome: Outcome, detail: string): void {
    this.#recent.unshift({ at: Date.now(), transport, route, outcome, detail });
    if (this.#recent.length > RECENT) this.#recent.length = RECENT;
  }

  /** What the HTTP/2 server reports, turned into metrics and log records. */
  sessionObserver(): SessionObserver {
    const { metrics, logger } = this;
    return {
      sessionOpened: () => metrics.sessionOpened('h2'),
      sessionClosed: () => metrics.sessionClosed('h2'),
      goaway: (code, side) => metrics.goaway(code, side),
      reset: (code, side) => metrics.reset(code, side),
      rapidReset: (client) => logger.warn('rapid_reset', { client: client ?? 'unknown', message: 'the client reset streams faster than allowed; sent GOAWAY ENHANCE_YOUR_CALM and closed the connection' }),
      rapidResetClient: (client) => {
        metrics.rapidResetClient();
        logger.warn('rapid_reset_client', { client, message: 'the address reset too many streams before they were answered, across its connections; sent GOAWAY ENHANCE_YOUR_CALM to each and refusing new ones for a cool-down' });
      },
      defence: (kind, client) => logger.warn('h2_defence', { client: client ?? 'unknown', defence: kind, message: 'the client sent more protocol glitches or header data than allowed; sent GOAWAY ENHANCE_YOUR_CALM and closed the connection' }),
      internalError: (err) => logger.error('internal_error', { message: (err as Error)?.message ?? String(err) }),
    };
  }
}

/**
 * The logger for `log`: through `write` when given (JSON unless told otherwise), else to
 * stderr, readable on a terminal and JSON lines otherwise.
 */
export function processLogger(log: LogOptions, write?: (line: string) => void): Logger {
  const stderr = (globalThis as { process?: { stderr?: { isTTY?: boolean; write(s: string): unknown } } }).process?.stderr;
  const format = log.format ?? (write !== undefined ? 'json' : chooseFormat(stderr?.isTTY === true));
  return createLogger({
    level: log.level,
    format,
    color: format === 'pretty' && write === undefined && stderr?.isTTY === true && !('NO_COLOR' in ((globalThis as { process?: { env?: object } }).process?.env ?? {})),
    write: write ?? ((line) => stderr?.write(`${line}\n`)),
  });
}

/** Logs name the path without its query, which may carry tokens. */
function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}
