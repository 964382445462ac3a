import { H2wsError } from '../errors.ts';
import { H2ErrorCode } from './error-codes.ts';

const CONNECTION_BRAND: unique symbol = Symbol.for('h2ws.h2.connection-error') as never;
const STREAM_BRAND: unique symbol = Symbol.for('h2ws.h2.stream-error') as never;

/**
 * A connection error (RFC 9113 §5.4.1): the connection answers it with GOAWAY carrying
 * `h2Code` and then closes. Thrown by the frame decoder and the HPACK decoder; the
 * connection catches it. `code` is the stable H2WS_ERR_H2_CONNECTION.
 */
export class H2ConnectionError extends H2wsError {
  override readonly h2Code: number;
  readonly [CONNECTION_BRAND] = true;

  constructor(h2Code: number, message: string) {
    super('H2WS_ERR_H2_CONNECTION', message, { h2Code });
    this.name = 'H2ConnectionError';
    this.h2Code = h2Code;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CONNECTION_BRAND] === true;
  }
}

/**
 * A stream error (RFC 9113 §5.4.2): RST_STREAM with `h2Code` on `streamId`; the connection
 * goes on. `code` is the stable H2WS_ERR_H2_STREAM.
 */
export class H2StreamError extends H2wsError {
  override readonly h2Code: number;
  readonly streamId: number;
  readonly [STREAM_BRAND] = true;

  constructor(streamId: number, h2Code: number, message: string) {
    super('H2WS_ERR_H2_STREAM', message, { h2Code });
    this.name = 'H2StreamError';
    this.h2Code = h2Code;
    this.streamId = streamId;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[STREAM_BRAND] === true;
  }
}

export const connectionError = (h2Code: number, message: string): H2ConnectionError => new H2ConnectionError(h2Code, message);
export const protocolError = (message: string): H2ConnectionError => new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, message);
