/**
 * One error type for everything h2ws reports. Each error carries a stable `code`
 * (`H2WS_ERR_*`) and, where it applies, the HTTP status, the HTTP/2 error code
 * (RFC 9113 §7) or the WebSocket close code (RFC 6455 §7.4.1) that it maps to.
 *
 * Branded with `Symbol.for` so `instanceof` holds even when two copies of the
 * library are loaded (for example one from JSR and one from npm).
 */
const BRAND: unique symbol = Symbol.for('h2ws.error') as never;

export interface H2wsErrorDetails {
  /** HTTP status sent to the client, when the error is answered with one. */
  status?: number;
  /** HTTP/2 error code sent in RST_STREAM or GOAWAY (RFC 9113 §7). */
  h2Code?: number;
  /** WebSocket close code (RFC 6455 §7.4.1). */
  closeCode?: number;
  /** The config field or command-line flag the error is about. */
  field?: string;
  cause?: unknown;
}

export class H2wsError extends Error {
  readonly code: string;
  readonly status?: number;
  readonly h2Code?: number;
  readonly closeCode?: number;
  readonly field?: string;
  readonly [BRAND] = true;

  constructor(code: string, message: string, details: H2wsErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'H2wsError';
    this.code = code;
    if (details.status !== undefined) this.status = details.status;
    if (details.h2Code !== undefined) this.h2Code = details.h2Code;
    if (details.closeCode !== undefined) this.closeCode = details.closeCode;
    if (details.field !== undefined) this.field = details.field;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Stable error codes. */
export const ErrorCode = {
  CONFIG: 'H2WS_ERR_CONFIG',
  HANDSHAKE: 'H2WS_ERR_HANDSHAKE',
  BACKEND_UNREACHABLE: 'H2WS_ERR_BACKEND_UNREACHABLE',
  BACKEND_TIMEOUT: 'H2WS_ERR_BACKEND_TIMEOUT',
  BACKEND_STATUS: 'H2WS_ERR_BACKEND_STATUS',
  BACKEND_BAD_RESPONSE: 'H2WS_ERR_BACKEND_BAD_RESPONSE',
  BAD_ACCEPT: 'H2WS_ERR_BAD_ACCEPT',
  BAD_SUBPROTOCOL: 'H2WS_ERR_BAD_SUBPROTOCOL',
  BAD_EXTENSION: 'H2WS_ERR_BAD_EXTENSION',
} as const;
