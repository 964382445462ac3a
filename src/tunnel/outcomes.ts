import { ErrorCode } from '../errors.ts';
import { H2ErrorCode } from '../h2/error-codes.ts';

/**
 * How each tunnel ends, named as the metrics and logs name it. The mapping from failure to
 * what the client sees is the design's event table (docs/behaviour.md, "What each event becomes").
 */
export type Outcome =
  | 'ok'
  | 'backend_unreachable'
  | 'backend_timeout'
  | 'backend_status'
  | 'bad_accept'
  | 'bad_subprotocol'
  | 'refused'
  | 'rejected'
  | 'forbidden';

/** The stable error code for each failed outcome. */
export const OUTCOME_ERROR_CODE = {
  backend_unreachable: ErrorCode.BACKEND_UNREACHABLE,
  backend_timeout: ErrorCode.BACKEND_TIMEOUT,
  backend_status: ErrorCode.BACKEND_STATUS,
  bad_accept: ErrorCode.BAD_ACCEPT,
  bad_subprotocol: ErrorCode.BAD_SUBPROTOCOL,
  refused: ErrorCode.TUNNEL_LIMIT,
  rejected: ErrorCode.HANDSHAKE,
  forbidden: ErrorCode.FORBIDDEN,
} as const satisfies Record<Exclude<Outcome, 'ok'>, string>;

/** Backend failures before the tunnel opens, and the status the client gets for each. */
export const BACKEND_FAILURE_STATUS = {
  /** TCP refused, DNS failure, connect timeout, or a reply that is not HTTP (RFC 9110 §15.6.3). */
  backend_unreachable: 502,
  /** No answer to the upgrade in time (RFC 9110 §15.6.5). */
  backend_timeout: 504,
  /** A 101 with a wrong Sec-WebSocket-Accept (RFC 6455 §4.1). */
  bad_accept: 502,
  /** A 101 choosing a subprotocol or extension nobody offered (RFC 6455 §4.1). */
  bad_subprotocol: 502,
} as const satisfies Partial<Record<Outcome, number>>;

/** Over the tunnel limit: refused before any work, so the client may retry (RFC 9113 §8.7). */
export const REFUSED = { h2Code: H2ErrorCode.REFUSED_STREAM, h1Status: 503 } as const;

/** A backend reset or error mid-tunnel becomes RST_STREAM CONNECT_ERROR (RFC 9113 §8.5). */
export const BACKEND_ABORT_H2_CODE = H2ErrorCode.CONNECT_ERROR;

/** Larger non-101 bodies from the backend are not forwarded, only their status and headers. */
export const MAX_FORWARDED_BODY = 64 * 1024;

/** A backend response head larger than this is not a WebSocket handshake answer. */
export const MAX_RESPONSE_HEAD = 16 * 1024;
