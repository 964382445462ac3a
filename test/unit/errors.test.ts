/** H2wsError: stable codes, and an instanceof that holds across two loaded copies (Symbol.for brand). */
import { OUTCOME_ERROR_CODE } from '../../src/tunnel/outcomes.ts';
import { describe, expect, test } from 'vitest';
import { ErrorCode, H2wsError } from '../../src/errors.ts';

describe('H2wsError', () => {
  test('carries code, message and every detail', () => {
    const cause = new Error('ECONNREFUSED');
    const e = new H2wsError(ErrorCode.BACKEND_UNREACHABLE, 'backend ws://b:1 refused', { status: 502, h2Code: 0xa, closeCode: 1011, field: 'backend', cause });
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(H2wsError);
    expect(e.name).toBe('H2wsError');
    expect(e.message).toBe('backend ws://b:1 refused');
    expect([e.code, e.status, e.h2Code, e.closeCode, e.field, e.cause]).toEqual(['H2WS_ERR_BACKEND_UNREACHABLE', 502, 0xa, 1011, 'backend', cause]);
    expect(String(e)).toBe('H2wsError: backend ws://b:1 refused');
  });

  test('details left out stay undefined', () => {
    const e = new H2wsError(ErrorCode.CONFIG, 'bad');
    expect([e.status, e.h2Code, e.closeCode, e.field, e.cause]).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  test('carries the Symbol.for("h2ws.error") brand', () => {
    const e = new H2wsError(ErrorCode.CONFIG, 'bad');
    expect((e as unknown as Record<symbol, unknown>)[Symbol.for('h2ws.error')]).toBe(true);
  });

  test('instanceof holds for a structurally separate copy carrying the brand', () => {
    // What an H2wsError from another copy of the library (JSR next to npm) looks like here.
    class ForeignH2wsError extends Error {
      readonly code = 'H2WS_ERR_CONFIG';
      constructor(message: string) {
        super(message);
        (this as unknown as Record<symbol, unknown>)[Symbol.for('h2ws.error')] = true;
      }
    }
    expect(new ForeignH2wsError('other copy')).toBeInstanceOf(H2wsError);
    expect(Object.assign(Object.create(null), { [Symbol.for('h2ws.error')]: true }) instanceof H2wsError).toBe(true);
  });

  test('instanceof holds both ways between two loaded copies of errors.ts', async () => {
    // A query string makes the module loader treat it as another module: a second copy.
    const specifier = '../../src/errors.ts?second-copy';
    const copy = (await import(/* @vite-ignore */ specifier)) as typeof import('../../src/errors.ts');
    expect(copy.H2wsError).not.toBe(H2wsError);
    expect(new copy.H2wsError(copy.ErrorCode.CONFIG, 'x')).toBeInstanceOf(H2wsError);
    expect(new H2wsError(ErrorCode.CONFIG, 'x')).toBeInstanceOf(copy.H2wsError);
  });

  test.each([
    ['a plain Error', new Error('x')],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'H2wsError'],
    ['an object with code only', { code: 'H2WS_ERR_CONFIG' }],
    ['a brand that is not true', { [Symbol.for('h2ws.error')]: 'yes' }],
    ['a look-alike string key', { 'h2ws.error': true }],
  ])('instanceof is false for %s', (_label, value) => {
    expect(value instanceof H2wsError).toBe(false);
  });
});

describe('ErrorCode', () => {
  test('the stable codes', () => {
    expect(ErrorCode).toEqual({
      CONFIG: 'H2WS_ERR_CONFIG',
      HANDSHAKE: 'H2WS_ERR_HANDSHAKE',
      FORBIDDEN: 'H2WS_ERR_FORBIDDEN',
      TUNNEL_LIMIT: 'H2WS_ERR_TUNNEL_LIMIT',
      BACKEND_UNREACHABLE: 'H2WS_ERR_BACKEND_UNREACHABLE',
      BACKEND_TIMEOUT: 'H2WS_ERR_BACKEND_TIMEOUT',
      BACKEND_STATUS: 'H2WS_ERR_BACKEND_STATUS',
      BAD_ACCEPT: 'H2WS_ERR_BAD_ACCEPT',
      BAD_SUBPROTOCOL: 'H2WS_ERR_BAD_SUBPROTOCOL',
    });
  });

  test('every failed tunnel outcome maps to one of them', () => {
    expect(new Set(Object.values(OUTCOME_ERROR_CODE))).toEqual(new Set(Object.values(ErrorCode).filter((c) => c !== ErrorCode.CONFIG)));
  });

  test('every code is H2WS_ERR_<key>', () => {
    for (const [key, code] of Object.entries(ErrorCode)) expect(code).toBe(`H2WS_ERR_${key}`);
  });
});
