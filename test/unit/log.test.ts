/** Structured logging: exact JSON and pretty lines, level filtering, and never throwing. */
import { describe, expect, test } from 'vitest';
import { ErrorCode, H2wsError } from '../../src/errors.ts';
import { formatJson, formatPretty, toJson } from '../../src/log/format.ts';
import { chooseFormat, createLogger, isLogLevel, LOG_LEVELS, type LogLevel, type LoggerOptions } from '../../src/log/logger.ts';

const NOW = new Date('2024-01-02T12:00:01.234Z');
/** The same instant's local wall-clock time, which the pretty format shows. */
const LOCAL = new Date(2024, 0, 2, 12, 0, 1, 234);

function capture(options: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', format: 'json', now: () => NOW, write: (l) => lines.push(l), ...options });
  return { log, lines };
}

test('LOG_LEVELS in order of severity, silent last', () => {
  expect(LOG_LEVELS).toEqual(['debug', 'info', 'warn', 'error', 'silent']);
  expect(isLogLevel('warn')).toBe(true);
  expect(isLogLevel('WARN')).toBe(false);
  expect(isLogLevel(3)).toBe(false);
});

describe('JSON format', () => {
  test('time, level, event, then fields in insertion order; no line feed', () => {
    const { log, lines } = capture();
    log.info('tunnel.closed', { route: '/chat', transport: 'h2', outcome: 'ok', bytes_to_backend: 10, bytes_to_client: 0, duration_ms: 1500 });
    expect(lines).toEqual([
      '{"time":"2024-01-02T12:00:01.234Z","level":"info","event":"tunnel.closed","route":"/chat","transport":"h2","outcome":"ok","bytes_to_backend":10,"bytes_to_client":0,"duration_ms":1500}',
    ]);
  });

  test('no fields, and undefined fields left out', () => {
    const { log, lines } = capture();
    log.warn('drain.started');
    log.error('x', { a: undefined, b: null, c: false });
    expect(lines).toEqual([
      '{"time":"2024-01-02T12:00:01.234Z","level":"warn","event":"drain.started"}',
      '{"time":"2024-01-02T12:00:01.234Z","level":"error","event":"x","b":null,"c":false}',
    ]);
  });

  test('Errors become {message, code}; bigint a string; non-finite numbers strings', () => {
    const { log, lines } = capture();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', errno: -111 });
    log.error('backend.error', {
      err: refused,
      h2ws: new H2wsError(ErrorCode.BACKEND_TIMEOUT, 'no answer', { status: 504 }),
      plain: new TypeError('bad'),
      bytes: 2n ** 64n,
      rate: NaN,
      max: Infinity,
    });
    expect(lines[0]).toBe(
      '{"time":"2024-01-02T12:00:01.234Z","level":"error","event":"backend.error",'
      + '"err":{"message":"connect ECONNREFUSED 127.0.0.1:9","code":"ECONNREFUSED"},'
      + '"h2ws":{"message":"no answer","code":"H2WS_ERR_BACKEND_TIMEOUT"},'
      + '"plain":{"message":"bad"},'
      + '"bytes":"18446744073709551616","rate":"NaN","max":"Infinity"}',
    );
  });

  test('circular references become "[circular]"; shared ones are repeated', () => {
    const { log, lines } = capture();
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const shared = { n: 1 };
    const list: unknown[] = [1];
    list.push(list);
    const fields: Record<string, unknown> = { a, x: shared, y: shared, list };
    fields.fields = fields;
    log.info('loop', fields);
    expect(lines[0]).toBe(
      '{"time":"2024-01-02T12:00:01.234Z","level":"info","event":"loop",'
      + '"a":{"name":"a","self":"[circular]"},"x":{"n":1},"y":{"n":1},"list":[1,"[circular]"],"fields":"[circular]"}',
    );
  });

  test('never throws: throwing getters, toJSON and proxies', () => {
    const { log, lines } = capture();
    const getter = { ok: 1, get bad(): never { throw new Error('nope'); } };
    const badToJSON = { toJSON(): never { throw new Error('nope'); } };
    const proxy = new Proxy({}, { ownKeys() { throw new Error('nope'); } });
    expect(() => log.info('weird', { getter, badToJSON, proxy })).not.toThrow();
    expect(lines[0]).toBe(
      '{"time":"2024-01-02T12:00:01.234Z","level":"info","event":"weird",'
      + '"getter":{"ok":1,"bad":"[unreadable]"},"badToJSON":"[unserializable]","proxy":"[unserializable]"}',
    );
  });

  test('one line even with line feeds in values; reserved field names get a _ prefix', () => {
    const { log, lines } = capture();
    log.info('multi\nline', { text: 'a\nb\r\n', level: 'fake', time: 1, event: 'e', 7: 'seven' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\r\n]/);
    expect(JSON.parse(lines[0] as string)).toEqual({
      time: '2024-01-02T12:00:01.234Z', level: 'info', event: 'multi\nline', 7: 'seven', text: 'a\nb\r\n', _level: 'fake', _time: 1, _event: 'e',
    });
    // Integer-like keys still come after time/level/event.
    expect(lines[0]).toMatch(/^\{"time":"[^"]+","level":"info","event":"multi\\nline","7":"seven"/);
  });

  test('Dates, Maps, Sets, byte arrays, functions, symbols, URLs', () => {
    expect(toJson({
      d: new Date(0), bad: new Date(NaN), m: new Map<unknown, unknown>([['k', 1], [2, undefined]]), s: new Set([1, 'x']),
      u8: new Uint8Array(3), ab: new ArrayBuffer(2), f: function named() {}, sym: Symbol('s'), url: new URL('ws://b:1/x'), arr: [undefined, 1],
    })).toEqual({
      d: '1970-01-01T00:00:00.000Z', bad: 'Invalid Date', m: { k: 1 }, s: [1, 'x'],
      u8: '[Uint8Array 3 bytes]', ab: '[ArrayBuffer 2 bytes]', f: '[function named]', sym: 'Symbol(s)', url: 'ws://b:1/x', arr: [null, 1],
    });
  });

  test('deep nesting is cut off', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 20; i++) deep = { d: deep };
    expect(JSON.stringify(toJson(deep))).toBe(`${'{"d":'.repeat(8)}"[truncated]"${'}'.repeat(8)}`);
  });

  test('formatJson with an invalid clock still yields a line', () => {
    expect(formatJson({ time: new Date(NaN), level: 'info', event: 'e' })).toBe('{"time":"Invalid Date","level":"info","event":"e"}');
  });
});

describe('levels', () => {
  const each = (level: LogLevel) => {
    const { log, lines } = capture({ level });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    return lines.map((l) => JSON.parse(l).event);
  };

  test('records below the level are dropped', () => {
    expect(each('debug')).toEqual(['d', 'i', 'w', 'e']);
    expect(each('info')).toEqual(['i', 'w', 'e']);
    expect(each('warn')).toEqual(['w', 'e']);
    expect(each('error')).toEqual(['e']);
  });

  test('silent writes nothing and the clock is never read', () => {
    let reads = 0;
    const lines: string[] = [];
    const log = createLogger({ level: 'silent', format: 'json', write: (l) => lines.push(l), now: () => (reads++, NOW) });
    log.error('e');
    expect(lines).toEqual([]);
    expect(reads).toBe(0);
    expect(LOG_LEVELS.map((l) => log.enabled(l))).toEqual([false, false, false, false, false]);
  });

  test('enabled()', () => {
    const { log } = capture({ level: 'warn' });
    expect(LOG_LEVELS.map((l) => log.enabled(l))).toEqual([false, false, true, true, false]);
    expect(log.level).toBe('warn');
  });

  test('unknown level or format throws at creation', () => {
    expect(() => createLogger({ level: 'loud' as LogLevel, format: 'json', write: () => {} })).toThrow(RangeError);
    expect(() => createLogger({ level: 'info', format: 'xml' as 'json', write: () => {} })).toThrow(RangeError);
  });

  test('a throwing writer or clock does not reach the caller', () => {
    const log = createLogger({ level: 'info', format: 'json', write: () => { throw new Error('EPIPE'); } });
    expect(() => log.info('e')).not.toThrow();
    const log2 = createLogger({ level: 'info', format: 'json', write: () => {}, now: () => { throw new Error('clock'); } });
    expect(() => log2.info('e')).not.toThrow();
  });
});

describe('pretty format', () => {
  test('local time, padded level, event, key=value; values with spaces quoted', () => {
    const { log, lines } = capture({ format: 'pretty', now: () => LOCAL });
    log.info('tunnel.closed', { route: '/chat', transport: 'h2', outcome: 'ok', bytes_to_backend: 10, reason: 'going away', empty: '', skip: undefined });
    log.error('backend.error', { err: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    log.debug('d', { nested: { a: 1, b: { c: 'x y' } }, list: [1, 2], none: null, obj: {} });
    log.warn('w', { q: 'say "hi"', eq: 'a=b', nl: 'a\nb', esc: '\x1b[31mred\u202e', big: 5n });
    expect(lines).toEqual([
      '12:00:01.234 INFO  tunnel.closed route=/chat transport=h2 outcome=ok bytes_to_backend=10 reason="going away" empty=""',
      '12:00:01.234 ERROR backend.error err.message="connect ECONNREFUSED" err.code=ECONNREFUSED',
      '12:00:01.234 DEBUG d nested.a=1 nested.b.c="x y" list=[1,2] none=null obj={}',
      '12:00:01.234 WARN  w q="say \\"hi\\"" eq="a=b" nl="a\\nb" esc="\\u001b[31mred\\u202e" big=5',
    ]);
  });

  test('colors only when asked', () => {
    const record = { time: LOCAL, level: 'warn', event: 'e', fields: { a: 1 } } as const;
    expect(formatPretty(record)).toBe('12:00:01.234 WARN  e a=1');
    expect(formatPretty(record, { color: true })).toBe('\x1b[2m12:00:01.234\x1b[22m \x1b[33mWARN \x1b[39m e a=1');
    const { log, lines } = capture({ format: 'pretty', now: () => LOCAL, color: true });
    log.error('e');
    expect(lines).toEqual(['\x1b[2m12:00:01.234\x1b[22m \x1b[31mERROR\x1b[39m e']);
  });

  test('circular fields', () => {
    const a: Record<string, unknown> = { n: 1 };
    a.me = a;
    expect(formatPretty({ time: LOCAL, level: 'info', event: 'e', fields: { a } })).toBe('12:00:01.234 INFO  e a.n=1 a.me=[circular]');
  });
});

test('chooseFormat: explicit wins, else pretty on a TTY and JSON elsewhere', () => {
  expect(chooseFormat(true)).toBe('pretty');
  expect(chooseFormat(false)).toBe('json');
  expect(chooseFormat(true, 'json')).toBe('json');
  expect(chooseFormat(false, 'pretty')).toBe('pretty');
});
