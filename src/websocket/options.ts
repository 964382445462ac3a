import type { PerMessageDeflateOptions } from 'ws';

/** How h2ws runs an in-process WebSocket (RFC 6455), whichever API handles it. */
export interface WebSocketOptions {
  /**
   * The largest message accepted, in bytes. A bigger one closes the connection with 1009
   * (message too big, RFC 6455 §7.4.1). Default 16 MiB.
   */
  readonly maxPayload?: number;
  /**
   * permessage-deflate (RFC 7692): `false` (the default), `true`, or ws's parameters
   * (`serverNoContextTakeover`, `serverMaxWindowBits`, `threshold`, …).
   */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Picks one of the client's subprotocols (RFC 6455 §4.2.2, /subprotocol/), or `false`
   * for none. Default: the first one offered.
   */
  readonly handleProtocols?: (offered: Set<string>, request: Request) => string | false;
  /**
   * Keepalive: a Ping is sent after this long without hearing from the peer, and a peer that
   * stays silent for another interval is dropped (RFC 6455 §5.5.2). 0 turns it off. Default 30 s.
   */
  readonly pingIntervalMs?: number;
}

/** The largest message an in-process socket accepts by default: 16 MiB (bigger: Close 1009). */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;
/** The default keepalive interval of in-process sockets: 30 s. */
export const DEFAULT_WEBSOCKET_PING_INTERVAL_MS = 30_000;
