/**
 * Structured logging: an event name plus fields, one line per record, written through a
 * function the caller supplies, so the same logger works on Node, Deno and Bun.
 *
 * @example
 * ```ts
 * const log = createLogger({
 *   level: 'info',
 *   format: chooseFormat(process.stderr.isTTY === true),
 *   write: (line) => process.stderr.write(`${line}\n`),
 * });
 * log.info('tunnel.closed', { route: '/chat', transport: 'h2', outcome: 'ok', bytes_to_backend: 10 });
 * // {"time":"2024-01-02T12:00:01.234Z","level":"info","event":"tunnel.closed","route":"/chat",...}
 * ```
 *
 * @module
 */
import { formatJson, formatPretty, type LogFormat, type LogRecord } from './format.ts';
import { isLogLevel, levelRank, type LogLevel, type RecordLevel } from './levels.ts';

export { LOG_LEVELS, isLogLevel, type LogLevel, type RecordLevel } from './levels.ts';
export type { LogFormat } from './format.ts';

/** A record's fields: flat values are best; Errors, Dates, Maps and bigints are converted. */
export type LogFields = Readonly<Record<string, unknown>>;

/** What {@link createLogger} takes. */
export interface LoggerOptions {
  /** Records below this level are dropped; `silent` drops everything. */
  readonly level: LogLevel;
  /** `json` (one JSON object a line) or `pretty` (a readable line). */
  readonly format: LogFormat;
  /**
   * Receives each record as one line WITHOUT a trailing line feed; the writer adds it (for
   * example `(line) => process.stderr.write(line + '\n')`). If it throws, the record is lost
   * and the error swallowed: logging never breaks the caller.
   */
  readonly write: (line: string) => void;
  /** The clock; tests pass a fixed one. */
  readonly now?: () => Date;
  /** ANSI colors in the pretty format. Off unless true; ignored for JSON. */
  readonly color?: boolean;
}

/** Writes structured records: an event name plus fields, one line each. */
export interface Logger {
  /** The level below which records are dropped. */
  readonly level: LogLevel;
  /** A record for debugging (handshakes a client cancelled, for example). */
  debug(event: string, fields?: LogFields): void;
  /** A record of normal operation (tunnels, lifecycle steps). */
  info(event: string, fields?: LogFields): void;
  /** A record of a failure outside h2ws (a backend, a misbehaving client). */
  warn(event: string, fields?: LogFields): void;
  /** A record of a failure of h2ws itself or of an in-process handler. */
  error(event: string, fields?: LogFields): void;
  /** Whether a record at `level` would be written (false for `silent`), to skip costly fields. */
  enabled(level: LogLevel): boolean;
}

/**
 * Makes a logger that writes each record through `options.write`, as JSON or a readable line.
 *
 * @throws RangeError on an unknown level or format (a programming error, caught at startup).
 */
export function createLogger(options: LoggerOptions): Logger {
  const { level, format, write } = options;
  if (!isLogLevel(level)) throw new RangeError(`unknown log level ${JSON.stringify(level)}`);
  if (format !== 'json' && format !== 'pretty') throw new RangeError(`unknown log format ${JSON.stringify(format)}`);
  const now = options.now ?? (() => new Date());
  const min = levelRank(level);
  const color = options.color === true;
  const render = format === 'json' ? formatJson : (r: LogRecord) => formatPretty(r, { color });

  const enabled = (at: LogLevel): boolean => at !== 'silent' && level !== 'silent' && levelRank(at) >= min;
  const emit = (at: RecordLevel, event: string, fields: LogFields | undefined): void => {
    if (!enabled(at)) return;
    try {
      write(render({ time: now(), level: at, event, fields }));
    } catch {
      // A closed stdout or a throwing clock must not take the gateway down with it.
    }
  };

  return {
    level,
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    enabled,
  };
}

/** The format to use: an explicit choice wins; otherwise pretty on a terminal, JSON elsewhere. */
export function chooseFormat(isTTY: boolean, explicit?: LogFormat): LogFormat {
  return explicit ?? (isTTY ? 'pretty' : 'json');
}
