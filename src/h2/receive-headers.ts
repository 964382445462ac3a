import type { ConnectionCore } from './connection-core.ts';
import { H2ErrorCode } from './error-codes.ts';
import { checkRequestFields, checkResponseFields, checkTrailerFields, type RequestHead } from './field-validation.ts';
import { FieldBlock } from './field-block.ts';
import { encodeRstStream } from './frame/encoder.ts';
import type { ContinuationFrame, HeadersFrame, PrioritySignal } from './frame/types.ts';
import { H2ConnectionError, H2StreamError } from './protocol-error.ts';
import { remoteEnd } from './receive-data.ts';
import { H2Stream } from './stream.ts';
import { applyVerdict, ReceivedKind, StreamState, verdictInState } from './stream-state.ts';

// HEADERS and CONTINUATION received (RFC 9113 §6.2, §6.10): the field block, once whole, is a
// new request (server), a response (client), or trailers (either side).

export function onHeaders(c: ConnectionCore, frame: HeadersFrame): void {
  if (frame.endHeaders) {
    onFieldBlock(c, frame.streamId, frame.fragment, frame.endStream, frame.priority);
    return;
  }
  c.block = new FieldBlock(frame.streamId, frame.endStream, frame.priority, frame.fragment, c.local.maxHeaderListSize);
}

export function onContinuation(c: ConnectionCore, frame: ContinuationFrame): void {
  const block = c.block;
  if (block === undefined || block.streamId !== frame.streamId) {
    throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without a field block in progress on that stream (RFC 9113 §6.10)');
  }
  if (frame.fragment.length === 0 && !frame.endHeaders) c.defences.glitch();
  if (!block.add(frame.fragment)) {
    c.handler.onDefence?.('header-block');
    throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `a field block of ${block.frames} frames and ${block.bytes} octets is too large (RFC 9113 §10.5)`);
  }
  if (!frame.endHeaders) return;
  c.block = undefined;
  const whole = block.whole();
  onFieldBlock(c, block.streamId, whole, block.endStream, block.priority);
}

function onFieldBlock(c: ConnectionCore, id: number, block: Uint8Array, endStream: boolean, priority: PrioritySignal | undefined): void {
  // Always decoded, even for a stream about to be refused: HPACK's table must stay in step
  // with the peer's (RFC 7541 §2.2, RFC 9113 §4.3).
  const decoded = c.hpackIn.decode(block);
  const stream = c.streams.get(id);
  if (stream !== undefined) {
    applyVerdict(verdictInState(stream.state, ReceivedKind.HEADERS), id);
    if (c.role === 'client' && !stream.headReceived) return onResponse(c, stream, decoded.fields, decoded.tooLarge, endStream);
    return onTrailers(c, stream, decoded.fields, endStream);
  }
  if (c.role === 'client') {
    // h2ws never accepts pushes, so a server's HEADERS belong to a stream the client opened.
    if (id % 2 === 0) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `a server opened stream ${id} (RFC 9113 §8.4)`);
    if (id >= c.nextStreamId) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${id}, which the client never opened (RFC 9113 §5.1)`);
    applyVerdict(c.absentVerdict(id, ReceivedKind.HEADERS), id);
    return;
  }
  if (id % 2 === 0) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `a client opened stream ${id}, an even id (RFC 9113 §5.1.1)`);
  if (id <= c.lastPeerStreamId) {
    // RFC 9113 §5.1.1: new stream ids only go up; an id seen before is a closed stream.
    if (!c.closedRecently.has(id)) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `stream ${id} is not greater than ${c.lastPeerStreamId}, the last one opened (RFC 9113 §5.1.1)`);
    applyVerdict(c.absentVerdict(id, ReceivedKind.HEADERS), id);
    return;
  }
  // A new stream from the client.
  // RFC 9113 §6.8: after our GOAWAY, newer streams are ignored, and so are their later frames
  // (the last stream id stays what the GOAWAY said).
  if (c.goawaySent !== undefined && id > c.goawaySent.lastStreamId) {
    c.closedRecently.remember(id, 'us');
    return;
  }
  c.lastPeerStreamId = id;
  if (priority !== undefined && priority.dependency === id) {
    throw new H2StreamError(id, H2ErrorCode.PROTOCOL_ERROR, `stream ${id} depends on itself (RFC 9113 §5.3.1)`);
  }
  // RFC 9113 §10.5.1: a field block above SETTINGS_MAX_HEADER_LIST_SIZE is refused.
  if (decoded.tooLarge) {
    refuse(c, id, H2ErrorCode.ENHANCE_YOUR_CALM);
    return;
  }
  // RFC 9113 §5.1.2: over SETTINGS_MAX_CONCURRENT_STREAMS, REFUSED_STREAM (safe to retry, §8.7),
  // unless a stream whose owner is done with it gives its slot up.
  if (c.peerStreams >= c.local.maxConcurrentStreams && !reclaimSlot(c)) {
    refuse(c, id, H2ErrorCode.REFUSED_STREAM);
    return;
  }
  const checked = checkRequestFields(decoded.fields, { connectProtocol: c.local.enableConnectProtocol });
  if (!checked.ok) throw new H2StreamError(id, H2ErrorCode.PROTOCOL_ERROR, `malformed request: ${checked.reason}`);
  const { head } = checked;
  // RFC 9113 §8.1.1: END_STREAM on the HEADERS with a non-zero content-length is malformed.
  if (endStream && head.contentLength !== undefined && head.contentLength > 0) {
    throw new H2StreamError(id, H2ErrorCode.PROTOCOL_ERROR, `END_STREAM with content-length ${head.contentLength} (RFC 9113 §8.1.1)`);
  }
  const stream_ = new H2Stream(id, c.host, c.local.initialWindowSize, c.remote.initialWindowSize, c.highWater);
  stream_.state = endStream ? StreamState.HALF_CLOSED_REMOTE : StreamState.OPEN;
  stream_.head = head;
  stream_.headReceived = true;
  stream_.expectedLength = head.contentLength;
  // Held until the end of this read: a stream reset in the same read is never announced,
  // so no work (a backend dial) starts for it (CVE-2023-44487).
  stream_.held = true;
  if (endStream) stream_.inEndQueued = false;
  c.streams.set(id, stream_);
  c.peerStreams++;
  c.announce.push(stream_);
}

/** Server: hands the streams opened in this read to the owner (onStream), unless already reset. */
export function announceStreams(c: ConnectionCore): void {
  if (c.announce.length === 0) return;
  const streams = c.announce;
  c.announce = [];
  for (const stream of streams) {
    if (stream.closed) continue;
    c.handler.onStream?.(stream, stream.head as RequestHead, stream.state === StreamState.HALF_CLOSED_REMOTE);
    stream.release();
  }
}

/**
 * Ends the oldest stream that yielded its slot with RST_STREAM NO_ERROR (RFC 9113 §8.1: its
 * response is complete). A stream whose END_STREAM still waits for flow-control window
 * cannot be ended yet without cutting its response, so it keeps its slot.
 */
function reclaimSlot(c: ConnectionCore): boolean {
  for (const stream of c.yielded) {
    if (stream.endQueued) continue;
    c.resetStream(stream, H2ErrorCode.NO_ERROR);
    return true;
  }
  return false;
}

/** Refuses a new stream before any work: RST_STREAM, remembered as reset by us. */
function refuse(c: ConnectionCore, id: number, code: number): void {
  c.defences.glitch();
  c.emit(encodeRstStream(id, code));
  c.closedRecently.remember(id, 'us');
  c.handler.onReset?.(undefined, code, 'sent');
}

function onResponse(c: ConnectionCore, stream: H2Stream, fields: string[], tooLarge: boolean, endStream: boolean): void {
  if (tooLarge) throw new H2StreamError(stream.id, H2ErrorCode.ENHANCE_YOUR_CALM, 'response field block above SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §10.5.1)');
  const checked = checkResponseFields(fields);
  if (!checked.ok) throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, `malformed response: ${checked.reason}`);
  const { head } = checked;
  if (head.status >= 100 && head.status < 200) {
    // RFC 9113 §8.1: informational responses come before the final one, never with END_STREAM;
    // §8.6: there is no 101 in HTTP/2.
    if (endStream || head.status === 101) throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, `informational ${head.status} response with END_STREAM or 101 (RFC 9113 §8.1, §8.6)`);
    return;
  }
  stream.head = head;
  stream.headReceived = true;
  stream.expectedLength = head.contentLength;
  stream.onResponse?.(head, endStream);
  if (endStream) remoteEnd(c, stream);
}

function onTrailers(c: ConnectionCore, stream: H2Stream, fields: string[], endStream: boolean): void {
  // RFC 9113 §8.1: a second field block is trailers, and ends the stream.
  if (!endStream) throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, 'a second HEADERS without END_STREAM (RFC 9113 §8.1)');
  const checked = checkTrailerFields(fields);
  if (!checked.ok) throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, `malformed trailers: ${checked.reason}`);
  stream.onTrailers?.(checked.head.headers);
  remoteEnd(c, stream);
}
