import net from 'node:net';

/**
 * A bare HTTP/2 client that writes frames byte by byte (RFC 9113 §4), for the cases a real
 * client library refuses to produce: malformed requests, protocol violations, and checking
 * exactly which frames the server sends back.
 */
export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** A header block of "literal without indexing, new name" fields (RFC 7541 §6.2.2), no Huffman. */
export function headerBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const bytes: number[] = [];
  for (const [name, value] of fields) {
    bytes.push(0x00);
    bytes.push(...hpackInt(Buffer.byteLength(name), 7, 0), ...Buffer.from(name));
    bytes.push(...hpackInt(Buffer.byteLength(value), 7, 0), ...Buffer.from(value));
  }
  return Buffer.from(bytes);
}

export class RawH2 {
  readonly frames: Frame[] = [];
  closed = false;
  readonly #socket: net.Socket;
  #buf = Buffer.alloc(0);

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawH2> {
    const socket = net.connect(port, host);
    socket.setNoDelay(true); // frames go out as written, not held back by Nagle's algorithm
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawH2(socket);
    socket.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0)]));
    // Extended CONNECT is allowed only once the server's SETTINGS are acknowledged (RFC 8441 §3);
    // the ACK goes out as soon as the SETTINGS frame arrives.
    await client.waitFor((f) => f.type === FrameType.SETTINGS && (f.flags & 0x1) === 0);
    return client;
  }

  write(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  headers(streamId: number, fields: ReadonlyArray<readonly [string, string]>, endStream = false): void {
    // END_HEADERS (0x4), END_STREAM (0x1)
    this.write(frame(FrameType.HEADERS, 0x4 | (endStream ? 0x1 : 0), streamId, headerBlock(fields)));
  }

  rst(streamId: number, code: number): void {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(code);
    this.write(frame(FrameType.RST_STREAM, 0, streamId, p));
  }

  data(streamId: number, payload: Buffer, endStream = false): void {
    this.write(frame(FrameType.DATA, endStream ? 0x1 : 0, streamId, payload));
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    while (this.#buf.length >= 9) {
      const length = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + length) return;
      const f: Frame = {
        type: this.#buf[3]!,
        flags: this.#buf[4]!,
        streamId: this.#buf.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.#buf.subarray(9, 9 + length)),
      };
      this.#buf = this.#buf.subarray(9 + length);
      this.frames.push(f);
      if (f.type === FrameType.SETTINGS && (f.flags & 0x1) === 0) this.write(frame(FrameType.SETTINGS, 0x1, 0));
    }
  }

  /** The first frame matching `predicate`, waiting up to `ms`. */
  async waitFor(predicate: (f: Frame) => boolean, ms = 5000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no such frame within ${ms} ms; got types ${this.frames.map((f) => `${f.type}@${f.streamId}`).join(',')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits until the server closes the TCP connection. */
  async waitClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export function rstCode(f: Frame): number {
  return f.payload.readUInt32BE(0);
}

export function goaway(f: Frame): { lastStreamId: number; code: number } {
  return { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) };
}
