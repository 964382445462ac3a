import type { FrameBoundary } from './frame-boundary.ts';

/**
 * The end of a WebSocket over an HTTP/2 stream whose client never sends END_STREAM.
 *
 * RFC 6455 §7.1.1: once a Close frame has gone each way, the WebSocket is closed and the
 * transport should be too; over RFC 8441 that is END_STREAM both ways (RFC 9113 §8.5).
 * Firefox takes h2ws's END_STREAM and forgets the stream without sending its own, so the
 * stream would stay half-closed until the connection ends, holding a tunnel and a slot of
 * SETTINGS_MAX_CONCURRENT_STREAMS. After the closing handshake the client has nothing left
 * to send, so h2ws waits a short grace for its END_STREAM and then ends the stream with
 * RST_STREAM NO_ERROR, which RFC 9113 §8.1 allows once the response is complete.
 *
 * Meanwhile the stream yields its slot (H2Stream.yieldSlot): Firefox counts it as closed
 * already, and may open its next stream at once even at SETTINGS_MAX_CONCURRENT_STREAMS; that
 * stream then releases this one rather than being refused.
 *
 * Allocated only when a tunnel starts closing: an open tunnel pays nothing for it.
 */
export class CloseGrace {
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(graceMs: number, release: () => void) {
    this.#timer = setTimeout(release, graceMs);
    // A closing tunnel keeps no process alive on its own.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** The client's END_STREAM (or a reset) came first: nothing to do. */
  cancel(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * Is it time to start the grace? A whole Close frame has passed in each direction (RFC 6455
 * §7.1.1) and h2ws has ended its side of the stream (END_STREAM queued or sent).
 */
export function closingHandshakeDone(fromClient: FrameBoundary, toClient: FrameBoundary, localEnded: boolean): boolean {
  return localEnded && fromClient.closeSeen && toClient.closeSeen;
}
