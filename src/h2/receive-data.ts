import type { ConnectionCore } from './connection-core.ts';
import { H2ErrorCode } from './error-codes.ts';
import { creditConnection, creditStream } from './flow-control.ts';
import type { DataFrame } from './frame/types.ts';
import { H2ConnectionError, H2StreamError } from './protocol-error.ts';
import type { H2Stream } from './stream.ts';
import { applyVerdict, ReceivedKind, StreamEvent, StreamState, verdictInState } from './stream-state.ts';

/** DATA received (RFC 9113 §6.1): spends the windows, checks content-length, reaches the owner. */
export function onData(c: ConnectionCore, frame: DataFrame): void {
  const size = frame.flowLength;
  // RFC 9113 §6.9: DATA counts against the connection window whatever the stream's state.
  if (size > c.recvWindow) throw new H2ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, `DATA of ${size} octets exceeds the connection window of ${c.recvWindow} (RFC 9113 §6.9)`);
  c.recvWindow -= size;
  // The connection window is credited at once: what a stream holds is bounded by its own
  // window, and one paused tunnel must not stall every other stream on the connection.
  creditConnection(c, size);
  const stream = c.streams.get(frame.streamId);
  if (stream === undefined) {
    applyVerdict(c.absentVerdict(frame.streamId, ReceivedKind.DATA), frame.streamId);
    return;
  }
  if (!applyVerdict(verdictInState(stream.state, ReceivedKind.DATA), stream.id)) return;
  if (size > stream.recvWindow) throw new H2StreamError(stream.id, H2ErrorCode.FLOW_CONTROL_ERROR, `DATA of ${size} octets exceeds the stream window of ${stream.recvWindow} (RFC 9113 §6.9)`);
  stream.recvWindow -= size;
  // RFC 9113 §8.1: DATA before the response's HEADERS is malformed.
  if (!stream.headReceived) throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, 'DATA before HEADERS (RFC 9113 §8.1)');
  const { data } = frame;
  if (size > data.length) creditStream(c, stream, size - data.length); // padding is never delivered
  stream.receivedLength += data.length;
  // RFC 9113 §8.1.1: more DATA than content-length is malformed.
  if (stream.expectedLength !== undefined && stream.receivedLength > stream.expectedLength) {
    throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, `DATA exceeds content-length ${stream.expectedLength} (RFC 9113 §8.1.1)`);
  }
  if (data.length === 0 && !frame.endStream) c.defences.glitch();
  if (data.length > 0) {
    if (stream.delivering && stream.inQueue === undefined) {
      stream.onData?.(data);
      if (stream.delivering) creditStream(c, stream, data.length);
      else stream.owed += data.length;
    } else {
      (stream.inQueue ??= []).push(data);
    }
  }
  if (frame.endStream) remoteEnd(c, stream);
}

/** The peer's END_STREAM on `stream` (after DATA, HEADERS or trailers). */
export function remoteEnd(c: ConnectionCore, stream: H2Stream): void {
  if (stream.expectedLength !== undefined && stream.receivedLength !== stream.expectedLength) {
    throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, `${stream.receivedLength} octets of DATA where content-length said ${stream.expectedLength} (RFC 9113 §8.1.1)`);
  }
  c.transition(stream, StreamEvent.RECV_END_STREAM);
  if (stream.delivering && stream.inQueue === undefined) stream.onEnd?.();
  else stream.inEndQueued = true;
  if (stream.state === StreamState.CLOSED) c.closeStream(stream, { code: undefined, by: undefined, unprocessed: false });
}
