/**
 * Turning one log record into one line: JSON for machines, a short `key=value` line for
 * terminals. Both return the line without a trailing line feed (the writer adds it), and
 * neither ever throws: whatever the fields hold, a line comes out.
 *
 * @module
 */
import type { RecordLevel } from './levels.ts';

/** `json` for machines, `pretty` for terminals. */
export type LogFormat = 'json' | 'pretty';

export interface LogRecord {
  readonly time: Date;
  readonly level: RecordLevel;
  readonly event: string;
  readonly fields?: Readonly<Record<string, unknown>> | undefined;
}

/** A value JSON.stringify renders as is. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Deeper nesting is cut off; log fields are meant to be flat. */
const MAX_DEPTH = 8;

/** Field names the JSON line uses itself; a field with one of these names gets a `_` prefix. */
const RESERVED = new Set(['time', 'level', 'event']);

function isError(value: object): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

/**
 * A JSON-safe copy of a field value, or undefined to leave the field out:
 * - Errors become `{message, code}` (`code` only when it is a string or number);
 * - bigint becomes its decimal string; NaN and ±Infinity become `"NaN"`, `"Infinity"`, `"-Infinity"`;
 * - Dates become ISO 8601; Maps become objects, Sets arrays; byte views `"[Uint8Array 3 bytes]"`;
 * - objects seen again on the way down become `"[circular]"`; getters that throw `"[unreadable]"`.
 */
export function toJson(value: unknown, ancestors: object[] = []): Json | undefined {
  switch (typeof value) {
    case 'undefined':
      return undefined;
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'symbol':
      return value.toString();
    case 'function':
      return `[function ${value.name || 'anonymous'}]`;
  }
  if (value === null) return null;
  const obj = value as object;
  if (ancestors.includes(obj)) return '[circular]';
  if (ancestors.length >= MAX_DEPTH) return '[truncated]';
  try {
    return objectToJson(obj, [...ancestors, obj]);
  } catch {
    return '[unserializable]'; // a Proxy whose traps throw, for example
  }
}

function objectToJson(obj: object, path: object[]): Json {
  if (isError(obj)) {
    const code = read(obj, 'code');
    const out: { [key: string]: Json } = { message: String(read(obj, 'message')) };
    if (typeof code === 'string' || (typeof code === 'number' && Number.isFinite(code))) out.code = code;
    return out;
  }
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  if (ArrayBuffer.isView(obj)) return `[${obj.constructor.name} ${obj.byteLength} bytes]`;
  if (obj instanceof ArrayBuffer) return `[ArrayBuffer ${obj.byteLength} bytes]`;
  if (Array.isArray(obj)) return obj.map((v) => toJson(v, path) ?? null);
  if (obj instanceof Set) return [...obj].map((v) => toJson(v, path) ?? null);
  if (obj instanceof Map) {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of obj) {
      const j = toJson(v, path);
      if (j !== undefined) out[String(k)] = j;
    }
    return out;
  }
  const toJSON = read(obj, 'toJSON');
  if (typeof toJSON === 'function') return toJson(toJSON.call(obj), path) ?? null;
  const out: { [key: string]: Json } = {};
  for (const k of Object.keys(obj)) {
    const j = toJson(read(obj, k), path);
    if (j !== undefined) out[k] = j;
  }
  return out;
}

/** A property, or a marker if its getter throws. */
function read(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return '[unreadable]';
  }
}

function isoTime(time: Date): string {
  return Number.isNaN(time.getTime()) ? 'Invalid Date' : time.toISOString();
}

/**
 * One JSON object on one line: `time` (ISO 8601, UTC), `level`, `event`, then the fields in
 * their own order, undefined ones left out.
 */
export function formatJson(record: LogRecord): string {
  const head = `{"time":${JSON.stringify(isoTime(record.time))},"level":${JSON.stringify(record.level)},"event":${JSON.stringify(String(record.event))}`;
  try {
    let line = head;
    // Written key by key: an object would move integer-like keys ahead of time/level/event.
    for (const [k, j] of fieldEntries(record.fields)) {
      line += `,${JSON.stringify(RESERVED.has(k) ? `_${k}` : k)}:${JSON.stringify(j)}`;
    }
    return `${line}}`;
  } catch (err) {
    // Only reachable for a line too long for a string; still log that the event happened.
    return `${head},"log_error":${JSON.stringify(String((err as Error)?.message ?? err))}}`;
  }
}

function fieldEntries(fields: LogRecord['fields']): [string, Json][] {
  const out: [string, Json][] = [];
  if (fields === undefined || fields === null) return out;
  const ancestors = [fields as object];
  for (const k of Object.keys(fields)) {
    const j = toJson(read(fields, k), ancestors);
    if (j !== undefined) out.push([k, j]);
  }
  return out;
}

export interface PrettyOptions {
  /** ANSI colors: dim time, colored level. Off unless asked for. */
  readonly color?: boolean;
}

const LEVEL_COLOR: Record<RecordLevel, number> = { debug: 90, info: 36, warn: 33, error: 31 };

/**
 * One line for a terminal: local time, level, event, then `key=value` pairs. Nested objects
 * flatten to dotted keys (`err.message=...`); values with spaces, quotes, `=` or control
 * characters are double-quoted with JSON escapes, so one record is always one line.
 *
 * @example
 * ```ts
 * formatPretty({ time, level: 'info', event: 'tunnel.closed', fields: { route: '/chat', reason: 'going away' } });
 * // '12:00:01.234 INFO  tunnel.closed route=/chat reason="going away"'
 * ```
 */
export function formatPretty(record: LogRecord, options: PrettyOptions = {}): string {
  const t = record.time;
  const time = Number.isNaN(t.getTime())
    ? 'Invalid Date'
    : `${pad(t.getHours(), 2)}:${pad(t.getMinutes(), 2)}:${pad(t.getSeconds(), 2)}.${pad(t.getMilliseconds(), 3)}`;
  const level = record.level.toUpperCase().padEnd(5);
  let line = options.color
    ? `\x1b[2m${time}\x1b[22m \x1b[${LEVEL_COLOR[record.level] ?? 39}m${level}\x1b[39m ${quote(String(record.event))}`
    : `${time} ${level} ${quote(String(record.event))}`;
  try {
    const pairs: string[] = [];
    for (const [k, j] of fieldEntries(record.fields)) flatten(pairs, k, j);
    for (const p of pairs) line += ` ${p}`;
  } catch (err) {
    line += ` log_error=${quote(String((err as Error)?.message ?? err))}`;
  }
  return line;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function flatten(out: string[], key: string, value: Json): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(out, `${key}.${k}`, v);
    return;
  }
  out.push(`${quote(key)}=${quote(typeof value === 'string' ? value : JSON.stringify(value))}`);
}

// Characters that would make a bare value ambiguous or let it spill onto a new line or move
// the terminal's cursor: whitespace, quotes, '=', backslash, and control or format characters.
const NEEDS_QUOTES = /^$|[\s"'=\\\p{C}]/u;
// What JSON.stringify leaves unescaped but a terminal should not see raw.
const ESCAPE_AFTER_JSON = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu;

function quote(s: string): string {
  if (!NEEDS_QUOTES.test(s)) return s;
  return JSON.stringify(s).replace(ESCAPE_AFTER_JSON, (c) => {
    let esc = '';
    for (let i = 0; i < c.length; i++) esc += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return esc;
  });
}
