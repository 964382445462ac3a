/** What both handshakes (RFC 8441 extended CONNECT and RFC 6455 HTTP/1.1 upgrade) reduce to. */
export interface WebSocketRequest {
  /** How the client arrived: HTTP/2 extended CONNECT or HTTP/1.1 Upgrade. */
  readonly transport: 'h2' | 'h1';
  /** `:authority` on h2, `Host` on HTTP/1.1. Sent to the backend as `Host`. */
  readonly authority: string;
  /**
   * Path and query: the path normalized by `normalizePath` (handshake/path.ts), the query as
   * the client sent it. Routing, access rules and the backend request all use this.
   */
  readonly path: string;
  /** Subprotocols the client offered (Sec-WebSocket-Protocol), in its order. */
  readonly protocols: readonly string[];
  /** The client's Sec-WebSocket-Extensions offer, verbatim, or undefined. */
  readonly extensions: string | undefined;
  /** HTTP/1.1 only: the client's Sec-WebSocket-Key, needed for its Sec-WebSocket-Accept. */
  readonly clientKey: string | undefined;
  /** End-to-end request fields to forward (lower-case names; cookies joined per RFC 9113 §8.2.3). */
  readonly forwardHeaders: Readonly<Record<string, string>>;
  /**
   * The client connected from an address in `trustedProxies`: its X-Forwarded-For, Forwarded
   * and X-Real-IP are kept and extended for the backend. Otherwise they are replaced.
   */
  readonly trustedProxy?: boolean;
}

/** What a handshake validator knows about the connection besides the request itself. */
export interface HandshakeContext {
  /** The peer is a trusted proxy (see `WebSocketRequest.trustedProxy`). */
  readonly trustedProxy?: boolean;
}

/** Why a handshake is turned down, and how that looks on the wire (docs/behaviour.md, "What each event becomes"). */
export interface Rejection {
  /** How metrics and logs count it: `rejected` by h2ws, or `forbidden` by an access rule. */
  readonly outcome: 'rejected' | 'forbidden';
  /** The HTTP status for both transports, unless `h2Code` says to reset instead. */
  readonly status: number;
  /** When set, an h2 client gets RST_STREAM with this code instead of a status (RFC 9113 §8.1.1). */
  readonly h2Code?: number;
  /** Response fields to send with the status (for example `sec-websocket-version: 13`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** One line saying why, for logs and the response body. */
  readonly message: string;
}

/** A checked handshake: the request to route, or how to turn it down. */
export type HandshakeResult =
  | { readonly ok: true; readonly request: WebSocketRequest }
  | { readonly ok: false; readonly rejection: Rejection };

export function reject(status: number, message: string, extra: Partial<Rejection> = {}): HandshakeResult {
  return { ok: false, rejection: { outcome: 'rejected', status, message, ...extra } };
}
