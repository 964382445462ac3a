import type { ConnectionCore } from './connection-core.ts';
import { H2ErrorCode } from './error-codes.ts';
import { encodeWindowUpdate } from './frame/encoder.ts';
import { MAX_WINDOW_SIZE, type WindowUpdateFrame } from './frame/types.ts';
import { H2ConnectionError, H2StreamError } from './protocol-error.ts';
import type { H2Stream } from './stream.ts';
import { applyVerdict, ReceivedKind, StreamState } from './stream-state.ts';
import { DEFAULT_WINDOW } from './windows.ts';

// Flow control (RFC 9113 §5.2, §6.9): crediting what the owner consumed back to the peer, and
// the peer's WINDOW_UPDATE opening h2ws's send windows. DATA spends the windows in
// receive-data.ts (receiving) and output.ts (sending).

/** RFC 9113 §6.9.2: the connection window starts at 65,535; a larger one is opened with WINDOW_UPDATE at once. */
export function openConnectionWindow(c: ConnectionCore, window: number | undefined): void {
  if (window === undefined || window <= DEFAULT_WINDOW) return;
  const increment = Math.min(window, MAX_WINDOW_SIZE) - DEFAULT_WINDOW;
  c.emit(encodeWindowUpdate(0, increment));
  c.recvWindow += increment;
  c.recvTarget += increment;
}

/** Credits `bytes` the owner consumed back to the peer (RFC 9113 §6.9), in batches. */
export function creditStream(c: ConnectionCore, stream: H2Stream, bytes: number): void {
  if (bytes <= 0) return;
  stream.unacked += bytes;
  // Batched: one WINDOW_UPDATE per half window consumed, not one per frame.
  if (stream.unacked < c.local.initialWindowSize >> 1) return;
  if (stream.state === StreamState.OPEN || stream.state === StreamState.HALF_CLOSED_LOCAL) {
    c.emit(encodeWindowUpdate(stream.id, stream.unacked));
    stream.recvWindow += stream.unacked;
    c.notify();
  }
  stream.unacked = 0;
}

/** Credits received DATA to the connection window, one WINDOW_UPDATE per half window. */
export function creditConnection(c: ConnectionCore, bytes: number): void {
  c.recvUnacked += bytes;
  if (c.recvUnacked < c.recvTarget >> 1) return;
  c.emit(encodeWindowUpdate(0, c.recvUnacked));
  c.recvWindow += c.recvUnacked;
  c.recvUnacked = 0;
}

/** WINDOW_UPDATE received (RFC 9113 §6.9): streams with DATA waiting go back in the round-robin. */
export function onWindowUpdate(c: ConnectionCore, frame: WindowUpdateFrame): void {
  if (frame.streamId === 0) {
    c.sendWindow += frame.increment;
    if (c.sendWindow > MAX_WINDOW_SIZE) throw new H2ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, 'the connection window went past 2^31-1 (RFC 9113 §6.9.1)');
    for (const stream of c.streams.values()) if (stream.outBytes > 0) c.ready.add(stream);
    return;
  }
  const stream = c.streams.get(frame.streamId);
  if (stream === undefined) {
    applyVerdict(c.absentVerdict(frame.streamId, ReceivedKind.WINDOW_UPDATE), frame.streamId);
    return;
  }
  stream.sendWindow += frame.increment;
  if (stream.sendWindow > MAX_WINDOW_SIZE) throw new H2StreamError(stream.id, H2ErrorCode.FLOW_CONTROL_ERROR, `stream ${stream.id}'s window went past 2^31-1 (RFC 9113 §6.9.1)`);
  if (stream.outBytes > 0 || stream.endQueued) c.ready.add(stream);
}
