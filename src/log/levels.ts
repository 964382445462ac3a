/** Log levels, least to most severe; `silent` turns logging off. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** A log level: records below it are dropped; `silent` drops all. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A level a record can carry (nothing is logged "at" silent). */
export type RecordLevel = Exclude<LogLevel, 'silent'>;

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/** Position in {@link LOG_LEVELS}: a record is written when its rank >= the logger's. */
export function levelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}
