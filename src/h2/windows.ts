/**
 * HTTP/2 flow-control windows (RFC 9113 §5.2, §6.9), chosen from the per-tunnel buffer limit.
 *
 * A paused tunnel holds at most one stream window of client bytes in its H2Stream, plus what
 * is queued toward the backend (h2ws pauses the stream at half the limit).
 * A stream window of half the limit keeps the sum within `maxBufferedBytesPerTunnel`, and
 * lets a message of up to that size cross the gateway without waiting for a WINDOW_UPDATE
 * midway; the 65,535-byte default (§6.9.2) stalls every 64 KiB message for a round trip.
 */

/** RFC 9113 §6.9.2: the initial window before SETTINGS change it. */
export const DEFAULT_WINDOW = 65_535;
/** RFC 9113 §6.9.1: the largest window a peer may be given. */
export const MAX_WINDOW = 2 ** 31 - 1;
/** The connection window spans this many full stream windows. */
const STREAMS_PER_CONNECTION_WINDOW = 4;

/** HTTP/2 receive windows (RFC 9113 §6.9), sized from `limits.maxBufferedBytesPerTunnel`. */
export interface FlowControlWindows {
  /** SETTINGS_INITIAL_WINDOW_SIZE: what each stream may receive unacknowledged. */
  readonly stream: number;
  /** The connection's receive window, raised with a WINDOW_UPDATE on stream 0. */
  readonly connection: number;
}

export function flowControlWindows(maxBufferedBytesPerTunnel: number): FlowControlWindows {
  const stream = Math.min(MAX_WINDOW, Math.max(DEFAULT_WINDOW, Math.floor(maxBufferedBytesPerTunnel / 2)));
  const connection = Math.min(MAX_WINDOW, stream * STREAMS_PER_CONNECTION_WINDOW);
  return { stream, connection };
}
