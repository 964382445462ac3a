/**
 * RFC 6455 §5.2 frames written and read byte by byte, for conformance tests that must send
 * what a well-behaved library refuses to produce: fragments, reserved opcodes and RSV bits,
 * unmasked client frames, oversized or fragmented control frames, Close frames with any code.
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';

export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** The masking key every built client frame uses unless told otherwise (RFC 6455 §5.3). */
export const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: string | Buffer;
  /** Default true. */
  readonly fin?: boolean;
  readonly rsv1?: boolean;
  readonly rsv2?: boolean;
  readonly rsv3?: boolean;
  /** A 4-byte masking key, or false for an unmasked frame. Default MASK. */
  readonly mask?: Buffer | false;
}

/** One frame exactly as specified (RFC 6455 §5.2), with the shortest payload-length encoding. */
export function wsFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const mask = spec.mask === undefined ? MASK : spec.mask;
  const b0 = ((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv1 ? 0x40 : 0) | (spec.rsv2 ? 0x20 : 0) | (spec.rsv3 ? 0x10 : 0) | (spec.opcode & 0x0f);
  const maskBit = mask ? 0x80 : 0;
  let head: Buffer;
  if (payload.length < 126) {
    head = Buffer.from([b0, maskBit | payload.length]);
  } else if (payload.length < 0x10000) {
    head = Buffer.alloc(4);
    head[0] = b0;
    head[1] = maskBit | 126;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  if (!mask) return Buffer.concat([head, payload]);
  return Buffer.concat([head, mask, applyMask(payload, mask)]);
}

function applyMask(payload: Buffer, mask: Buffer): Buffer {
  const out = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** A Close frame's payload (RFC 6455 §5.5.1): a 2-byte code, then a reason. No code: empty. */
export function closePayload(code?: number, reason: string | Buffer = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return Buffer.concat([head, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

/** A masked client Close frame. */
export function closeFrame(code?: number, reason: string | Buffer = ''): Buffer {
  return wsFrame({ opcode: Opcode.CLOSE, payload: closePayload(code, reason) });
}

/**
 * A message split into `parts` masked fragments (RFC 6455 §5.4): the first carries the
 * opcode, the rest are continuations, and only the last has FIN.
 */
export function fragments(opcode: number, payload: string | Buffer, parts: number): Buffer[] {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const size = Math.ceil(bytes.length / parts);
  const out: Buffer[] = [];
  for (let i = 0; i < parts; i++) {
    out.push(wsFrame({ opcode: i === 0 ? opcode : Opcode.CONTINUATION, fin: i === parts - 1, payload: bytes.subarray(i * size, (i + 1) * size) }));
  }
  return out;
}

/** A frame as it arrived. */
export interface WsFrame {
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  readonly opcode: number;
  readonly masked: boolean;
  /** Unmasked. */
  readonly payload: Buffer;
}

/** Splits a byte stream into frames; it checks nothing, so tests can assert on every bit. */
export class FrameParser {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): WsFrame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const frames: WsFrame[] = [];
    for (;;) {
      const buf = this.#buf;
      if (buf.length < 2) break;
      const masked = (buf[1]! & 0x80) !== 0;
      let length = buf[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buf.length < 4) break;
        length = buf.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buf.length < 10) break;
        length = Number(buf.readBigUInt64BE(2));
        offset = 10;
      }
      const keyLength = masked ? 4 : 0;
      if (buf.length < offset + keyLength + length) break;
      const raw = buf.subarray(offset + keyLength, offset + keyLength + length);
      const payload = masked ? applyMask(raw, buf.subarray(offset, offset + 4)) : Buffer.from(raw);
      frames.push({
        fin: (buf[0]! & 0x80) !== 0,
        rsv1: (buf[0]! & 0x40) !== 0,
        rsv2: (buf[0]! & 0x20) !== 0,
        rsv3: (buf[0]! & 0x10) !== 0,
        opcode: buf[0]! & 0x0f,
        masked,
        payload,
      });
      this.#buf = buf.subarray(offset + keyLength + length);
    }
    return frames;
  }

  /** Bytes received that do not yet make a whole frame. */
  get pending(): number {
    return this.#buf.length;
  }
}

/** A Close frame's code and reason; code undefined when the payload is empty. */
export interface CloseInfo {
  readonly code: number | undefined;
  readonly reason: string;
}

export function parseClose(payload: Buffer): CloseInfo {
  if (payload.length < 2) return { code: undefined, reason: '' };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') };
}

/** A data message reassembled from its frames. */
export interface WsMessage {
  readonly binary: boolean;
  /** RSV1 on the first frame: compressed with permessage-deflate (RFC 7692 §6). */
  readonly compressed: boolean;
  readonly data: Buffer;
  readonly text: string;
}

/** Reassembles data messages (RFC 6455 §5.4); control frames pass through untouched. */
export class MessageAssembler {
  #parts: Buffer[] = [];
  #first: WsFrame | undefined;

  /** The message this frame completes, if any. */
  push(frame: WsFrame): WsMessage | undefined {
    if (frame.opcode >= 0x8) return undefined;
    if (frame.opcode !== Opcode.CONTINUATION) {
      this.#first = frame;
      this.#parts = [];
    }
    this.#parts.push(frame.payload);
    if (!frame.fin || this.#first === undefined) return undefined;
    const data = Buffer.concat(this.#parts);
    const message = { binary: this.#first.opcode === Opcode.BINARY, compressed: this.#first.rsv1, data, text: data.toString('utf8') };
    this.#first = undefined;
    this.#parts = [];
    return message;
  }
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * RFC 7692 §7.2.1: raw DEFLATE flushed with Z_SYNC_FLUSH, minus the trailing 00 00 ff ff.
 * Each call starts a fresh window, which is valid whatever context takeover was agreed.
 */
export function deflateMessage(data: string | Buffer): Buffer {
  const out = deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, { finishFlush: constants.Z_SYNC_FLUSH });
  if (!out.subarray(-4).equals(TAIL)) throw new Error('a sync flush ends with 00 00 ff ff');
  return out.subarray(0, -4);
}

/** RFC 7692 §7.2.2: appends 00 00 ff ff and inflates (the first message of a context). */
export function inflateMessage(data: Buffer): Buffer {
  return inflateRawSync(Buffer.concat([data, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH });
}
