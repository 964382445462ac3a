/**
 * HTTP/2 frame encoder (RFC 9113 §4.1, §6). Each function returns the frame's bytes; DATA
 * returns its header and the caller's data apart, so the data is never copied.
 * Arguments come from our own code, so a value that cannot be encoded is a bug: RangeError.
 */
import { DEFAULT_MAX_FRAME_SIZE, Flag, FRAME_HEADER_LENGTH, FrameType, MAX_ALLOWED_FRAME_SIZE, MAX_WINDOW_SIZE } from './types.ts';

const MAX_STREAM_ID = 2 ** 31 - 1;

function checkStreamId(name: string, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_STREAM_ID) throw new RangeError(`${name} ${id} is not a 31-bit stream identifier (RFC 9113 §5.1.1)`);
}

/** Writes a nine-octet frame header at `p` (§4.1); the reserved bit is sent as 0. */
function writeHeader(buf: Uint8Array, p: number, length: number, type: number, flags: number, streamId: number): void {
  buf[p] = length >>> 16;
  buf[p + 1] = length >>> 8;
  buf[p + 2] = length;
  buf[p + 3] = type;
  buf[p + 4] = flags;
  writeU32(buf, p + 5, streamId);
}

function writeU32(buf: Uint8Array, p: number, value: number): void {
  buf[p] = value >>> 24;
  buf[p + 1] = value >>> 16;
  buf[p + 2] = value >>> 8;
  buf[p + 3] = value;
}

/** `room` octets: a frame header for a `length`-octet payload, then whatever the caller writes. */
function allocHeader(room: number, length: number, type: number, flags: number, streamId: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > MAX_ALLOWED_FRAME_SIZE) throw new RangeError(`frame length ${length} outside [0, 2^24-1] (RFC 9113 §4.1)`);
  checkStreamId('stream', streamId);
  const buf = Buffer.allocUnsafe(room);
  writeHeader(buf, 0, length, type, flags & 0xff, streamId);
  return buf;
}

/** A whole frame's bytes, header written; the caller fills all `length` payload octets. */
const allocFrame = (length: number, type: number, flags: number, streamId: number): Uint8Array =>
  allocHeader(FRAME_HEADER_LENGTH + length, length, type, flags, streamId);

/** The nine-octet frame header alone (§4.1). */
export function encodeFrameHeader(length: number, type: number, flags: number, streamId: number): Uint8Array {
  return allocHeader(FRAME_HEADER_LENGTH, length, type, flags, streamId);
}

/** Any frame, payload copied in as given (padding, if any, is the caller's). */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Uint8Array): Uint8Array {
  const buf = allocFrame(payload.length, type, flags, streamId);
  buf.set(payload, FRAME_HEADER_LENGTH);
  return buf;
}

/** DATA (§6.1) as [header, data]: write both, the data is not copied. `data` must fit SETTINGS_MAX_FRAME_SIZE. */
export function encodeData(streamId: number, data: Uint8Array, endStream: boolean): [Uint8Array, Uint8Array] {
  return [encodeFrameHeader(data.length, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId), data];
}

/**
 * A field block as HEADERS followed by as many CONTINUATION frames as `maxFrameSize` needs,
 * END_HEADERS on the last (§6.2, §6.10, §4.3), in one buffer so nothing can interleave.
 */
export function encodeHeaders(streamId: number, block: Uint8Array, endStream: boolean, maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE): Uint8Array {
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < 1 || maxFrameSize > MAX_ALLOWED_FRAME_SIZE) throw new RangeError(`maxFrameSize ${maxFrameSize} is not a valid frame size (RFC 9113 §4.2)`);
  checkStreamId('stream', streamId);
  const frames = block.length === 0 ? 1 : Math.ceil(block.length / maxFrameSize);
  const buf = Buffer.allocUnsafe(frames * FRAME_HEADER_LENGTH + block.length);
  let src = 0;
  let dst = 0;
  for (let i = 0; i < frames; i++) {
    const n = Math.min(maxFrameSize, block.length - src);
    const last = i === frames - 1;
    const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (i === 0 && endStream ? Flag.END_STREAM : 0) | (last ? Flag.END_HEADERS : 0);
    writeHeader(buf, dst, n, type, flags, streamId);
    buf.set(block.subarray(src, src + n), dst + FRAME_HEADER_LENGTH);
    src += n;
    dst += FRAME_HEADER_LENGTH + n;
  }
  return buf;
}

/** RST_STREAM (§6.4). */
export function encodeRstStream(streamId: number, code: number): Uint8Array {
  const buf = allocFrame(4, FrameType.RST_STREAM, 0, streamId);
  writeU32(buf, FRAME_HEADER_LENGTH, code);
  return buf;
}

/** SETTINGS (§6.5.1): [identifier, value] pairs, in order. */
export function encodeSettings(pairs: ReadonlyArray<readonly [number, number]>): Uint8Array {
  const buf = allocFrame(pairs.length * 6, FrameType.SETTINGS, 0, 0);
  let p = FRAME_HEADER_LENGTH;
  for (const [id, value] of pairs) {
    buf[p] = id >>> 8;
    buf[p + 1] = id;
    writeU32(buf, p + 2, value);
    p += 6;
  }
  return buf;
}

/** SETTINGS with ACK and no payload (§6.5.3). */
export function encodeSettingsAck(): Uint8Array {
  return allocFrame(0, FrameType.SETTINGS, Flag.ACK, 0);
}

/** PING (§6.7): exactly eight octets of opaque data. */
export function encodePing(opaque8: Uint8Array, ack: boolean): Uint8Array {
  if (opaque8.length !== 8) throw new RangeError(`PING opaque data of ${opaque8.length} octets, not 8 (RFC 9113 §6.7)`);
  const buf = allocFrame(8, FrameType.PING, ack ? Flag.ACK : 0, 0);
  buf.set(opaque8, FRAME_HEADER_LENGTH);
  return buf;
}

/** GOAWAY (§6.8) with optional debug data. */
export function encodeGoaway(lastStreamId: number, code: number, debug: Uint8Array = new Uint8Array(0)): Uint8Array {
  checkStreamId('last stream', lastStreamId);
  const buf = allocFrame(8 + debug.length, FrameType.GOAWAY, 0, 0);
  writeU32(buf, FRAME_HEADER_LENGTH, lastStreamId);
  writeU32(buf, FRAME_HEADER_LENGTH + 4, code);
  buf.set(debug, FRAME_HEADER_LENGTH + 8);
  return buf;
}

/** WINDOW_UPDATE (§6.9): increment 1 to 2^31-1. */
export function encodeWindowUpdate(streamId: number, increment: number): Uint8Array {
  if (!Number.isInteger(increment) || increment < 1 || increment > MAX_WINDOW_SIZE) throw new RangeError(`WINDOW_UPDATE increment ${increment} outside [1, 2^31-1] (RFC 9113 §6.9)`);
  const buf = allocFrame(4, FrameType.WINDOW_UPDATE, 0, streamId);
  writeU32(buf, FRAME_HEADER_LENGTH, increment);
  return buf;
}

/** PRIORITY (§6.3). `weight` is 1 to 256, as the decoder reports it; the octet sent is weight - 1. */
export function encodePriority(streamId: number, dependency: number, weight: number, exclusive: boolean): Uint8Array {
  checkStreamId('dependency', dependency);
  if (!Number.isInteger(weight) || weight < 1 || weight > 256) throw new RangeError(`priority weight ${weight} outside [1, 256] (RFC 9113 §5.3.2)`);
  const buf = allocFrame(5, FrameType.PRIORITY, 0, streamId);
  writeU32(buf, FRAME_HEADER_LENGTH, exclusive ? (dependency | 0x8000_0000) >>> 0 : dependency);
  buf[FRAME_HEADER_LENGTH + 4] = weight - 1;
  return buf;
}

/** PUSH_PROMISE (§6.6) without padding. */
export function encodePushPromise(streamId: number, promisedId: number, block: Uint8Array, endHeaders: boolean): Uint8Array {
  checkStreamId('promised stream', promisedId);
  const buf = allocFrame(4 + block.length, FrameType.PUSH_PROMISE, endHeaders ? Flag.END_HEADERS : 0, streamId);
  writeU32(buf, FRAME_HEADER_LENGTH, promisedId);
  buf.set(block, FRAME_HEADER_LENGTH + 4);
  return buf;
}

/** CONTINUATION (§6.10). */
export function encodeContinuation(streamId: number, block: Uint8Array, endHeaders: boolean): Uint8Array {
  const buf = allocFrame(block.length, FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, streamId);
  buf.set(block, FRAME_HEADER_LENGTH);
  return buf;
}
