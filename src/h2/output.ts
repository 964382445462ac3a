import type { ConnectionCore } from './connection-core.ts';
import { H2ErrorCode } from './error-codes.ts';
import { encodeData, encodeHeaders } from './frame/encoder.ts';
import type { H2Stream } from './stream.ts';
import { StreamEvent, StreamState } from './stream-state.ts';

// The sending side of a connection: HEADERS and trailers, and DATA scheduled over the streams
// as the flow-control windows allow (RFC 9113 §5.2, §6.9). Control frames are queued straight
// away with ConnectionCore.emit; everything leaves through takeOutput.

const EMPTY = new Uint8Array(0);

/** HEADERS (and CONTINUATION) for `stream`, or its trailers once the DATA before them is sent. */
export function sendHeaders(c: ConnectionCore, stream: H2Stream, fields: readonly string[], endStream: boolean): void {
  if (c.closed || stream.state === StreamState.CLOSED || stream.localEnded) return;
  if (stream.headersSent && (stream.outBytes > 0 || stream.endQueued)) {
    // Trailers go after the DATA queued before them.
    stream.pendingTrailers = fields;
    stream.endQueued = true;
    c.ready.add(stream);
    c.notify();
    return;
  }
  c.emit(encodeHeaders(stream.id, c.hpackOut.encode(fields), endStream, c.remote.maxFrameSize));
  stream.headersSent = true;
  c.transition(stream, StreamEvent.SEND_HEADERS);
  if (endStream) localEnd(c, stream);
  c.notify();
}

/**
 * Everything to write now: control frames, then DATA as the windows allow, round-robin
 * over the streams one frame at a time. `withData` false sends control frames only (the
 * transport is backed up).
 */
export function takeOutput(c: ConnectionCore, withData: boolean): Uint8Array[] | undefined {
  c.notified = false;
  if (withData && c.ready.size > 0) pump(c);
  if (c.out.length === 0) return undefined;
  const out = c.out;
  c.out = [];
  c.outBytes = 0;
  return out;
}

function pump(c: ConnectionCore): void {
  const drained: H2Stream[] = [];
  let progress = true;
  while (progress && c.ready.size > 0) {
    progress = false;
    for (const stream of c.ready) {
      if (stream.state === StreamState.CLOSED || stream.state === StreamState.HALF_CLOSED_LOCAL || stream.state === StreamState.IDLE) {
        c.ready.delete(stream);
        continue;
      }
      if (stream.outBytes === 0) {
        c.ready.delete(stream);
        if (stream.endQueued) {
          if (stream.pendingTrailers !== undefined) {
            const trailers = stream.pendingTrailers;
            stream.pendingTrailers = undefined;
            c.emit(encodeHeaders(stream.id, c.hpackOut.encode(trailers), true, c.remote.maxFrameSize));
          } else {
            const [header] = encodeData(stream.id, EMPTY, true);
            c.emit(header);
          }
          localEnd(c, stream);
        }
        continue;
      }
      const room = Math.min(stream.sendWindow, c.sendWindow, c.remote.maxFrameSize);
      if (room <= 0) {
        // Waits for a WINDOW_UPDATE (which puts it back in the set).
        c.ready.delete(stream);
        continue;
      }
      const chunk = stream.takeQueued(Math.min(room, stream.outBytes));
      stream.sendWindow -= chunk.length;
      c.sendWindow -= chunk.length;
      const last = stream.outBytes === 0 && stream.endQueued && stream.pendingTrailers === undefined;
      const [header, payload] = encodeData(stream.id, chunk, last);
      c.emit(header);
      c.emit(payload);
      progress = true;
      if (last) {
        c.ready.delete(stream);
        localEnd(c, stream);
      }
      if (stream.wantDrain && stream.outBytes < stream.highWater) {
        stream.wantDrain = false;
        drained.push(stream);
      }
    }
  }
  for (const stream of drained) if (!stream.closed) stream.onDrain?.();
}

/** h2ws's END_STREAM on `stream` went out. */
function localEnd(c: ConnectionCore, stream: H2Stream): void {
  stream.endQueued = false;
  c.transition(stream, StreamEvent.SEND_END_STREAM);
  if (stream.state === StreamState.CLOSED) c.closeStream(stream, { code: undefined, by: undefined, unprocessed: false });
  else if (stream.resetAfterEnd) c.resetStream(stream, H2ErrorCode.NO_ERROR);
}
