/**
 * Sans-IO HTTP/2 frame decoder (RFC 9113 §4, §6). Bytes go in with `push`, frames come out
 * of `next`. A frame that lies wholly inside one pushed chunk is parsed in place: its payload
 * fields are `subarray` views into that chunk. Only a frame split across chunks is copied.
 */
import { H2ErrorCode } from '../error-codes.ts';
import { H2ConnectionError, H2StreamError } from '../protocol-error.ts';
import {
  DEFAULT_MAX_FRAME_SIZE,
  Flag,
  FRAME_HEADER_LENGTH,
  type Frame,
  FrameType,
  MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  type PrioritySignal,
  SettingId,
} from './types.ts';

const { PROTOCOL_ERROR, FRAME_SIZE_ERROR, FLOW_CONTROL_ERROR } = H2ErrorCode;
const EMPTY = new Uint8Array(0);
/** Drop consumed chunk slots once this many, and at least half the queue, piled up at its head (amortized O(1)). */
const COMPACT_AT = 64;

const connError = (code: number, message: string): H2ConnectionError => new H2ConnectionError(code, message);

/** Unsigned 32-bit big-endian read. */
const u32 = (b: Uint8Array, p: number): number => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
/** 31-bit big-endian read with the reserved / exclusive bit masked off (RFC 9113 §4.1). */
const u31 = (b: Uint8Array, p: number): number => ((b[p]! & 0x7f) << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;

export class FrameDecoder {
  /** Pushed chunks not yet fully consumed; live ones start at `head`. */
  private chunks: Uint8Array[] = [];
  private head = 0;
  /** Offset of the first unread byte in `chunks[head]`. */
  private offset = 0;
  private total = 0;
  /** Payload bytes of an oversized frame still to drop as they arrive (never buffered, §4.2). */
  private skip = 0;
  private maxSize: number;
  /** For a frame header split across chunks. */
  private readonly scratch = new Uint8Array(FRAME_HEADER_LENGTH);

  constructor(maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.maxSize = checkMaxFrameSize(maxFrameSize);
  }

  /** The SETTINGS_MAX_FRAME_SIZE we advertised; set it once the peer acknowledged it (§6.5.3). */
  get maxFrameSize(): number {
    return this.maxSize;
  }

  set maxFrameSize(value: number) {
    this.maxSize = checkMaxFrameSize(value);
  }

  /** Bytes held, not yet returned as frames. */
  get buffered(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    let len = chunk.length;
    if (this.skip > 0) {
      const drop = this.skip < len ? this.skip : len;
      this.skip -= drop;
      if (drop === len) return;
      chunk = chunk.subarray(drop);
      len -= drop;
    }
    if (len === 0) return;
    this.chunks.push(chunk);
    this.total += len;
  }

  /** The next complete frame, or undefined when more bytes are needed. Throws H2ConnectionError / H2StreamError. */
  next(): Frame | undefined {
    if (this.total < FRAME_HEADER_LENGTH) return undefined;
    const first = this.chunks[this.head]!;
    const off = this.offset;
    const inFirst = first.length - off;
    let h: Uint8Array;
    let p: number;
    if (inFirst >= FRAME_HEADER_LENGTH) {
      h = first;
      p = off;
    } else {
      this.copyOut(this.scratch, FRAME_HEADER_LENGTH);
      h = this.scratch;
      p = 0;
    }
    const length = (h[p]! << 16) | (h[p + 1]! << 8) | h[p + 2]!;
    const type = h[p + 3]!;
    const flags = h[p + 4]!;
    const streamId = u31(h, p + 5);

    // §4.2: judged from the header alone; the payload is dropped as it arrives, never buffered.
    if (length > this.maxSize) {
      this.consume(FRAME_HEADER_LENGTH);
      const have = this.total < length ? this.total : length;
      this.consume(have);
      this.skip = length - have;
      throw connError(FRAME_SIZE_ERROR, `frame of ${length} octets exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxSize} (RFC 9113 §4.2)`);
    }
    const frameLength = FRAME_HEADER_LENGTH + length;
    if (this.total < frameLength) return undefined;

    let payload: Uint8Array;
    if (inFirst >= frameLength) {
      // The common case: a view, no copy.
      payload = first.subarray(off + FRAME_HEADER_LENGTH, off + frameLength);
      this.total -= frameLength;
      if (inFirst === frameLength) this.dropHead();
      else this.offset = off + frameLength;
    } else {
      this.consume(FRAME_HEADER_LENGTH);
      if (length === 0) payload = EMPTY;
      else {
        payload = new Uint8Array(length);
        this.copyOut(payload, length);
        this.consume(length);
      }
    }
    // The frame's bytes are consumed before any check throws, so a later next() goes on.
    return parse(type, flags, streamId, payload);
  }

  /** Copies the first `n` buffered bytes into `dst` without consuming them. */
  private copyOut(dst: Uint8Array, n: number): void {
    let written = 0;
    let i = this.head;
    let off = this.offset;
    while (written < n) {
      const c = this.chunks[i++]!;
      const take = Math.min(c.length - off, n - written);
      dst.set(c.subarray(off, off + take), written);
      written += take;
      off = 0;
    }
  }

  /** Consumes `n` buffered bytes (n <= total). */
  private consume(n: number): void {
    this.total -= n;
    while (n > 0) {
      const left = this.chunks[this.head]!.length - this.offset;
      if (n < left) {
        this.offset += n;
        return;
      }
      n -= left;
      this.dropHead();
    }
  }

  private dropHead(): void {
    this.offset = 0;
    this.chunks[this.head++] = EMPTY; // release the reference
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

function checkMaxFrameSize(value: number): number {
  if (!Number.isInteger(value) || value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) {
    throw new RangeError(`maxFrameSize must be an integer in [${DEFAULT_MAX_FRAME_SIZE}, ${MAX_ALLOWED_FRAME_SIZE}] (RFC 9113 §4.2), got ${value}`);
  }
  return value;
}

/**
 * The fragment's bounds after the Pad Length octet and `fixed` octets of fixed fields
 * (§6.1, §6.2, §6.6). Returns the end of the fragment; the start is `padded + fixed`.
 */
function unpad(name: string, section: string, flags: number, payload: Uint8Array, fixed: number): number {
  const length = payload.length;
  if ((flags & Flag.PADDED) === 0) {
    if (length < fixed) throw connError(FRAME_SIZE_ERROR, `${name} frame too short for its fixed fields (RFC 9113 ${section})`);
    return length;
  }
  if (length < 1 + fixed) throw connError(FRAME_SIZE_ERROR, `PADDED ${name} frame too short for Pad Length and fixed fields (RFC 9113 ${section})`);
  const pad = payload[0]!;
  // "Padding that exceeds the size remaining" is a PROTOCOL_ERROR; for DATA: pad >= payload length.
  if (pad > length - 1 - fixed) throw connError(PROTOCOL_ERROR, `${name} padding of ${pad} octets exceeds the payload (RFC 9113 ${section})`);
  return length - pad;
}

function readPriority(b: Uint8Array, p: number): PrioritySignal {
  // §6.3: the weight octet holds weight - 1; reported here as 1..256.
  return { exclusive: (b[p]! & 0x80) !== 0, dependency: u31(b, p), weight: b[p + 4]! + 1 };
}

function parse(type: number, flags: number, streamId: number, payload: Uint8Array): Frame {
  const length = payload.length;
  switch (type) {
    case FrameType.DATA: {
      if (streamId === 0) throw connError(PROTOCOL_ERROR, 'DATA frame on stream 0 (RFC 9113 §6.1)');
      const start = flags & Flag.PADDED ? 1 : 0;
      const end = unpad('DATA', '§6.1', flags, payload, 0);
      return { type: FrameType.DATA, streamId, data: payload.subarray(start, end), flowLength: length, endStream: (flags & Flag.END_STREAM) !== 0 };
    }
    case FrameType.HEADERS: {
      if (streamId === 0) throw connError(PROTOCOL_ERROR, 'HEADERS frame on stream 0 (RFC 9113 §6.2)');
      const padded = flags & Flag.PADDED ? 1 : 0;
      const hasPriority = (flags & Flag.PRIORITY) !== 0;
      const end = unpad('HEADERS', '§6.2', flags, payload, hasPriority ? 5 : 0);
      // A self-dependency is left to the connection, which must decode the field block first (§5.3.1).
      const priority = hasPriority ? readPriority(payload, padded) : undefined;
      return {
        type: FrameType.HEADERS,
        streamId,
        fragment: payload.subarray(padded + (hasPriority ? 5 : 0), end),
        endStream: (flags & Flag.END_STREAM) !== 0,
        endHeaders: (flags & Flag.END_HEADERS) !== 0,
        priority,
      };
    }
    case FrameType.PRIORITY: {
      if (streamId === 0) throw connError(PROTOCOL_ERROR, 'PRIORITY frame on stream 0 (RFC 9113 §6.3)');
      if (length !== 5) throw new H2StreamError(streamId, FRAME_SIZE_ERROR, `PRIORITY frame of ${length} octets, not 5 (RFC 9113 §6.3)`);
      const priority = readPriority(payload, 0);
      if (priority.dependency === streamId) throw new H2StreamError(streamId, PROTOCOL_ERROR, `stream ${streamId} depends on itself (RFC 9113 §5.3.1, §6.3)`);
      return { type: FrameType.PRIORITY, streamId, priority };
    }
    case FrameType.RST_STREAM: {
      if (streamId === 0) throw connError(PROTOCOL_ERROR, 'RST_STREAM frame on stream 0 (RFC 9113 §6.4)');
      if (length !== 4) throw connError(FRAME_SIZE_ERROR, `RST_STREAM frame of ${length} octets, not 4 (RFC 9113 §6.4)`);
      return { type: FrameType.RST_STREAM, streamId, errorCode: u32(payload, 0) };
    }
    case FrameType.SETTINGS:
      return parseSettings(flags, streamId, payload);
    case FrameType.PUSH_PROMISE: {
      if (streamId === 0) throw connError(PROTOCOL_ERROR, 'PUSH_PROMISE frame on stream 0 (RFC 9113 §6.6)');
      const padded = flags & Flag.PADDED ? 1 : 0;
      const end = unpad('PUSH_PROMISE', '§6.6', flags, payload, 4);
      return {
        type: FrameType.PUSH_PROMISE,
        streamId,
        promisedStreamId: u31(payload, padded),
        fragment: payload.subarray(padded + 4, end),
        endHeaders: (flags & Flag.END_HEADERS) !== 0,
      };
    }
    case FrameType.PING:
      if (streamId !== 0) throw connError(PROTOCOL_ERROR, `PING frame on stream ${streamId}, not 0 (RFC 9113 §6.7)`);
      if (length !== 8) throw connError(FRAME_SIZE_ERROR, `PING frame of ${length} octets, not 8 (RFC 9113 §6.7)`);
      return { type: FrameType.PING, streamId: 0, ack: (flags & Flag.ACK) !== 0, opaque: payload };
    case FrameType.GOAWAY:
      if (streamId !== 0) throw connError(PROTOCOL_ERROR, `GOAWAY frame on stream ${streamId}, not 0 (RFC 9113 §6.8)`);
      if (length < 8) throw connError(FRAME_SIZE_ERROR, `GOAWAY frame of ${length} octets, fewer than 8 (RFC 9113 §6.8)`);
      return { type: FrameType.GOAWAY, streamId: 0, lastStreamId: u31(payload, 0), errorCode: u32(payload, 4), debugData: payload.subarray(8) };
    case FrameType.WINDOW_UPDATE: {
      if (length !== 4) throw connError(FRAME_SIZE_ERROR, `WINDOW_UPDATE frame of ${length} octets, not 4 (RFC 9113 §6.9)`);
      const increment = u31(payload, 0);
      if (increment === 0) {
        if (streamId === 0) throw connError(PROTOCOL_ERROR, 'WINDOW_UPDATE increment of 0 on the connection (RFC 9113 §6.9)');
        throw new H2StreamError(streamId, PROTOCOL_ERROR, `WINDOW_UPDATE increment of 0 on stream ${streamId} (RFC 9113 §6.9)`);
      }
      return { type: FrameType.WINDOW_UPDATE, streamId, increment };
    }
    case FrameType.CONTINUATION:
      if (streamId === 0) throw connError(PROTOCOL_ERROR, 'CONTINUATION frame on stream 0 (RFC 9113 §6.10)');
      return { type: FrameType.CONTINUATION, streamId, fragment: payload, endHeaders: (flags & Flag.END_HEADERS) !== 0 };
    default:
      // §4.1, §5.5: unknown types are ignored; handed up so the connection can skip them.
      return { type, unknown: true, streamId, flags, payload };
  }
}

function parseSettings(flags: number, streamId: number, payload: Uint8Array): Frame {
  const length = payload.length;
  if (streamId !== 0) throw connError(PROTOCOL_ERROR, `SETTINGS frame on stream ${streamId}, not 0 (RFC 9113 §6.5)`);
  const ack = (flags & Flag.ACK) !== 0;
  if (ack) {
    if (length !== 0) throw connError(FRAME_SIZE_ERROR, `SETTINGS ACK with a ${length}-octet payload (RFC 9113 §6.5)`);
    return { type: FrameType.SETTINGS, streamId: 0, ack: true, settings: [] };
  }
  if (length % 6 !== 0) throw connError(FRAME_SIZE_ERROR, `SETTINGS frame of ${length} octets, not a multiple of 6 (RFC 9113 §6.5)`);
  const settings: Array<readonly [number, number]> = [];
  for (let p = 0; p < length; p += 6) {
    const id = (payload[p]! << 8) | payload[p + 1]!;
    const value = u32(payload, p + 2);
    switch (id) {
      case SettingId.ENABLE_PUSH:
        if (value > 1) throw connError(PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH of ${value}, not 0 or 1 (RFC 9113 §6.5.2)`);
        break;
      case SettingId.INITIAL_WINDOW_SIZE:
        if (value > MAX_WINDOW_SIZE) throw connError(FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE of ${value} exceeds 2^31-1 (RFC 9113 §6.5.2)`);
        break;
      case SettingId.MAX_FRAME_SIZE:
        if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) {
          throw connError(PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE of ${value} outside [2^14, 2^24-1] (RFC 9113 §6.5.2)`);
        }
        break;
      case SettingId.ENABLE_CONNECT_PROTOCOL:
        if (value > 1) throw connError(PROTOCOL_ERROR, `SETTINGS_ENABLE_CONNECT_PROTOCOL of ${value}, not 0 or 1 (RFC 8441 §3)`);
        break;
    }
    settings.push([id, value]);
  }
  return { type: FrameType.SETTINGS, streamId: 0, ack: false, settings };
}
