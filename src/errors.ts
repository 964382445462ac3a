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

/** Every error h2ws raises: a stable `code` (see {@link ErrorCode}) and, where it applies, the HTTP status, HTTP/2 error code, WebSocket close code or config field. Branded with `Symbol.for`, so `instanceof` holds across two copies of the library (JSR and npm). */
export class H2wsError extends Error {
  /** One of {@link ErrorCode}: stable across releases, for code to branch on. */
  readonly code: string;
  /** The HTTP status the client got, when there was one. */
  readonly status?: number;
  /** The HTTP/2 error code a stream was reset with (RFC 9113 §7), when it was. */
  readonly h2Code?: number;
  /** The WebSocket close code (RFC 6455 §7.4.1), when a socket was closed. */
  readonly closeCode?: number;
  /** The config field or command-line flag the error is about (`H2WS_ERR_CONFIG`). */
  readonly field?: string;
  /** The brand behind `instanceof`. */
  readonly [BRAND] = true;

  /** Makes an error with a stable code, a one-line message and its details. */
  constructor(code: string, message: string, details: H2wsErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'H2wsError';
    this.code = code;
    if (details.status !== undefined) this.status = details.status;
    if (details.h2Code !== undefined) this.h2Code = details.h2Code;
    if (details.closeCode !== undefined) this.closeCode = details.closeCode;
    if (details.field !== undefined) this.field = details.field;
  }

  /** True for any H2wsError, from this copy of the library or another one. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Stable error codes. */
export const ErrorCode = {
  /** A bad flag or config field (`field` names it). */
  CONFIG: 'H2WS_ERR_CONFIG',
  /** The client's handshake was turned down by h2ws itself (400, 404, 501, PROTOCOL_ERROR). */
  HANDSHAKE: 'H2WS_ERR_HANDSHAKE',
  /** Turned away by an access rule (403). */
  FORBIDDEN: 'H2WS_ERR_FORBIDDEN',
  /** Over `limits.maxTunnels` (REFUSED_STREAM, or 503). */
  TUNNEL_LIMIT: 'H2WS_ERR_TUNNEL_LIMIT',
  /** Backend refused, DNS failed, connect timed out, or it did not speak HTTP/1.1 (502). */
  BACKEND_UNREACHABLE: 'H2WS_ERR_BACKEND_UNREACHABLE',
  /** The backend did not answer the upgrade in time (504). */
  BACKEND_TIMEOUT: 'H2WS_ERR_BACKEND_TIMEOUT',
  /** The backend answered the upgrade with a status other than 101 (forwarded). */
  BACKEND_STATUS: 'H2WS_ERR_BACKEND_STATUS',
  /** The backend's 101 had a wrong Sec-WebSocket-Accept (502). */
  BAD_ACCEPT: 'H2WS_ERR_BAD_ACCEPT',
  /** The backend's 101 chose a subprotocol or extension nobody offered (502). */
  BAD_SUBPROTOCOL: 'H2WS_ERR_BAD_SUBPROTOCOL',
} as const;
