/**
 * A wire-level HTTP/2 client for the RFC 9113 / RFC 7541 conformance suite: it writes any
 * bytes (frames with wrong lengths, reserved bits, bad HPACK), reads every frame the server
 * sends back, and tells what happened in one line ("GOAWAY(PROTOCOL_ERROR, last=1)",
 * "RST_STREAM(3, STREAM_CLOSED)", "nothing"), so a failing case says exactly what came back.
 *
 * Nothing here comes from the engine under test except the HPACK decoder used to read the
 * server's response heads (the server's own encoder may index, so a real decoder is needed).
 */
import net from 'node:net';
import tls from 'node:tls';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import { Flag, FrameType, SettingId } from '../../src/h2/frame/types.ts';
import { HpackDecoder } from '../../src/h2/hpack/decoder.ts';

/** Frame types (RFC 9113 §6, §11.2), flags (§6) and error codes (§7), by name; `codeName` goes the other way. */
export const T = FrameType;
export const F = Flag;
export const E = H2ErrorCode;
export type ErrorName = keyof typeof E;

export function codeName(code: number): string {
  const name = (Object.keys(E) as ErrorName[]).find((k) => E[k] === code);
  return name ?? `0x${code.toString(16)}`;
}

/** SETTINGS identifiers (RFC 9113 §6.5.2, RFC 8441 §3). */
export const S = SettingId;

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const MAX_WINDOW = 2 ** 31 - 1;

// ---------------------------------------------------------------------------------------
// Frames, byte by byte. Nothing is checked: a test may build any frame, valid or not.

/** A frame with `payload` as given; the length field says `length` (default: the payload's). */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0), length = payload.length): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(length, 0, 3);
  head[3] = type;
  head[4] = flags;
  // The whole 32 bits as given, so a test can set the reserved bit (§4.1).
  head.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([head, payload]);
}

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

export function settings(pairs: ReadonlyArray<readonly [number, number]>, streamId = 0): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return frame(T.SETTINGS, 0, streamId, p);
}

export const settingsAck = (): Buffer => frame(T.SETTINGS, F.ACK, 0);
export const ping = (opaque: Buffer, ack = false): Buffer => frame(T.PING, ack ? F.ACK : 0, 0, opaque);
export const rst = (streamId: number, code: number): Buffer => frame(T.RST_STREAM, 0, streamId, u32(code));
export const windowUpdate = (streamId: number, increment: number): Buffer => frame(T.WINDOW_UPDATE, 0, streamId, u32(increment));
export const goawayFrame = (lastStreamId: number, code: number, streamId = 0): Buffer => frame(T.GOAWAY, 0, streamId, Buffer.concat([u32(lastStreamId), u32(code)]));
export const data = (streamId: number, payload: Buffer | string, endStream = false): Buffer => frame(T.DATA, endStream ? F.END_STREAM : 0, streamId, Buffer.from(payload));

/** PRIORITY (§6.3): dependency, exclusive bit, weight octet (0–255 on the wire). */
export function priority(streamId: number, dependency: number, weightOctet = 15, exclusive = false): Buffer {
  return frame(T.PRIORITY, 0, streamId, Buffer.concat([u32(exclusive ? (dependency | 0x8000_0000) >>> 0 : dependency), Buffer.from([weightOctet])]));
}

export interface HeadersOptions {
  endStream?: boolean;
  /** Default true. */
  endHeaders?: boolean;
  /** PADDED: this many octets of padding (the Pad Length field says `padLength` unless overridden). */
  padding?: number;
  /** The Pad Length octet as sent, when it should lie. */
  padLength?: number;
  /** PRIORITY flag with these fields. */
  priority?: { dependency: number; weight: number; exclusive?: boolean };
}

/** HEADERS (§6.2) carrying `block`, with optional padding and priority fields. */
export function headers(streamId: number, block: Buffer, options: HeadersOptions = {}): Buffer {
  const { endStream = false, endHeaders = true, padding, padLength, priority: prio } = options;
  let flags = (endStream ? F.END_STREAM : 0) | (endHeaders ? F.END_HEADERS : 0);
  const parts: Buffer[] = [];
  if (padding !== undefined) {
    flags |= F.PADDED;
    parts.push(Buffer.from([padLength ?? padding]));
  }
  if (prio !== undefined) {
    flags |= F.PRIORITY;
    parts.push(u32(prio.exclusive ? (prio.dependency | 0x8000_0000) >>> 0 : prio.dependency), Buffer.from([prio.weight]));
  }
  parts.push(block);
  if (padding !== undefined) parts.push(Buffer.alloc(padding));
  return frame(T.HEADERS, flags, streamId, Buffer.concat(parts));
}

export const continuation = (streamId: number, fragment: Buffer, endHeaders: boolean): Buffer => frame(T.CONTINUATION, endHeaders ? F.END_HEADERS : 0, streamId, fragment);

/** DATA with PADDED (§6.1): `padding` zero octets after the data; the Pad Length octet says `padLength` unless overridden. */
export function paddedData(streamId: number, payload: Buffer, padding: number, endStream = false, padLength = padding): Buffer {
  return frame(T.DATA, F.PADDED | (endStream ? F.END_STREAM : 0), streamId, Buffer.concat([Buffer.from([padLength]), payload, Buffer.alloc(padding)]));
}

// ---------------------------------------------------------------------------------------
// HPACK (RFC 7541), byte by byte.

/** An integer with an N-bit prefix, `pattern` in the bits above it (§5.1). */
export function hpackInt(value: number, prefixBits: number, pattern = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([pattern | value]);
  const out = [pattern | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

/** A string literal (§5.2), raw octets (H = 0). */
export function hpackString(s: string | Buffer): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  return Buffer.concat([hpackInt(bytes.length, 7, 0), bytes]);
}

/** A Huffman string literal (§5.2) whose code octets are given as they are (H = 1). */
export function hpackHuffman(codeOctets: Buffer): Buffer {
  return Buffer.concat([hpackInt(codeOctets.length, 7, 0x80), codeOctets]);
}

export const hpack = {
  /** §6.1 indexed field. */
  indexed: (index: number): Buffer => hpackInt(index, 7, 0x80),
  /** §6.2.2 literal without indexing, new name. */
  literal: (name: string, value: string | Buffer): Buffer => Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]),
  /** §6.2.1 literal with incremental indexing, new name. */
  literalIndexed: (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]),
  /** §6.2.3 literal never indexed, new name. */
  literalNever: (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x10]), hpackString(name), hpackString(value)]),
  /** §6.2.1 / §6.2.2 literal with an indexed name. */
  literalNameRef: (index: number, value: string | Buffer, indexing: boolean): Buffer =>
    Buffer.concat([indexing ? hpackInt(index, 6, 0x40) : hpackInt(index, 4, 0x00), Buffer.isBuffer(value) ? value : hpackString(value)]),
  /** §6.3 dynamic table size update. */
  sizeUpdate: (size: number): Buffer => hpackInt(size, 5, 0x20),
};

/** A field block of §6.2.2 literals (no indexing, no Huffman): any name, any value, any order. */
export function fieldBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat(fields.map(([name, value]) => hpack.literal(name, value)));
}

export const AUTHORITY = 'gateway.test';

/** A plain request's fields: `:method`, `:scheme`, `:path`, `:authority`, then `extra`. */
export function requestFields(method: string, path: string, extra: ReadonlyArray<readonly [string, string]> = []): Array<[string, string]> {
  return [[':method', method], [':scheme', 'http'], [':path', path], [':authority', AUTHORITY], ...extra.map(([n, v]) => [n, v] as [string, string])];
}

/** An extended CONNECT for a WebSocket (RFC 8441 §4, §5). */
export function connectFields(path: string, extra: ReadonlyArray<readonly [string, string]> = []): Array<[string, string]> {
  return [
    [':method', 'CONNECT'],
    [':protocol', 'websocket'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', AUTHORITY],
    ['sec-websocket-version', '13'],
    ...extra.map(([n, v]) => [n, v] as [string, string]),
  ];
}

/** GET `path` with END_STREAM, as one HEADERS frame. */
export const getRequest = (streamId: number, path = '/'): Buffer => headers(streamId, fieldBlock(requestFields('GET', path)), { endStream: true });

// ---------------------------------------------------------------------------------------
// The connection.

export interface WireFrame {
  readonly type: number;
  readonly flags: number;
  /** With the reserved bit masked off. */
  readonly streamId: number;
  readonly payload: Buffer;
  /** When it was read (Date.now()). */
  readonly at: number;
  /** HEADERS (with its CONTINUATIONs): the decoded fields, flat [name, value, …]. */
  fields?: string[];
}

export interface OpenOptions {
  /** TLS with ALPN h2 instead of cleartext prior knowledge. */
  readonly tls?: boolean;
  /** What to send first. Default: the connection preface and an empty SETTINGS frame. */
  readonly first?: Buffer;
  /** Wait for the server's SETTINGS before resolving (default true). */
  readonly waitSettings?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Wire {
  readonly frames: WireFrame[] = [];
  /** The server closed the connection (FIN or reset). */
  closed = false;
  readonly #socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  readonly #hpack = new HpackDecoder();
  #block: { frame: WireFrame; chunks: Buffer[] } | undefined;
  #waiters = new Set<() => void>();
  #pingSeq = 0;
  /** Answer the server's SETTINGS with an ACK (§6.5.3), as every client must. */
  ackSettings = true;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static async open(port: number, options: OpenOptions = {}): Promise<Wire> {
    const socket: net.Socket = options.tls
      ? tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false, servername: 'localhost' })
      : net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const wire = new Wire(socket);
    wire.send(options.first ?? Buffer.concat([PREFACE, settings([])]));
    if (options.waitSettings ?? true) await wire.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0, 5000, "the server's SETTINGS");
    return wire;
  }

  send(...chunks: Buffer[]): void {
    if (this.#socket.destroyed) return;
    this.#socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let at = 0;
    while (this.#buf.length - at >= 9) {
      const length = this.#buf.readUIntBE(at, 3);
      if (this.#buf.length - at < 9 + length) break;
      const f: WireFrame = {
        type: this.#buf[at + 3]!,
        flags: this.#buf[at + 4]!,
        streamId: this.#buf.readUInt32BE(at + 5) & 0x7fffffff,
        payload: Buffer.from(this.#buf.subarray(at + 9, at + 9 + length)),
        at: Date.now(),
      };
      at += 9 + length;
      this.#onFrame(f);
    }
    this.#buf = at === this.#buf.length ? Buffer.alloc(0) : Buffer.from(this.#buf.subarray(at));
    this.#wake();
  }

  #onFrame(f: WireFrame): void {
    this.frames.push(f);
    if (f.type === T.SETTINGS && (f.flags & F.ACK) === 0 && this.ackSettings) this.send(settingsAck());
    if (f.type === T.HEADERS) {
      let fragment = f.payload;
      let start = 0;
      let end = fragment.length;
      if (f.flags & F.PADDED) {
        start = 1;
        end -= fragment[0]!;
      }
      if (f.flags & F.PRIORITY) start += 5;
      fragment = fragment.subarray(start, end);
      this.#block = { frame: f, chunks: [fragment] };
      if (f.flags & F.END_HEADERS) this.#endBlock();
    } else if (f.type === T.CONTINUATION && this.#block !== undefined) {
      this.#block.chunks.push(f.payload);
      if (f.flags & F.END_HEADERS) this.#endBlock();
    }
  }

  #endBlock(): void {
    const block = this.#block!;
    this.#block = undefined;
    try {
      block.frame.fields = this.#hpack.decode(Buffer.concat(block.chunks)).fields;
    } catch (err) {
      block.frame.fields = ['<undecodable>', String(err)];
    }
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  /** Waits for a change (a frame, the close) or `ms`. */
  #changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#waiters.delete(done);
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      this.#waiters.add(done);
    });
  }

  /** The first frame (from index `from`) matching `predicate`; rejects after `ms`. */
  async waitFor(predicate: (f: WireFrame) => boolean, ms = 5000, what = 'a frame', from = 0): Promise<WireFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (let i = from; i < this.frames.length; i++) if (predicate(this.frames[i]!)) return this.frames[i]!;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        // One last look: frames that arrived with the close.
        for (let i = from; i < this.frames.length; i++) if (predicate(this.frames[i]!)) return this.frames[i]!;
        throw new Error(`no ${what} within ${ms} ms${this.closed ? ' (the connection closed)' : ''}; got ${this.describe(from)}`);
      }
      await this.#changed(left);
    }
  }

  /** Resolves true once the server has closed the connection, false after `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.#changed(left);
    }
    return true;
  }

  /**
   * The server's first error signal from frame index `from` on: "GOAWAY(CODE, last=N)",
   * "RST_STREAM(id, CODE)", "closed without GOAWAY", or "nothing" when none came within `ms`.
   * RST_STREAMs on streams other than `streamIds` (when given) are skipped.
   */
  async outcome(ms = 3000, from = 0, streamIds?: readonly number[]): Promise<{ text: string; debug: string }> {
    const match = (f: WireFrame) => f.type === T.GOAWAY || (f.type === T.RST_STREAM && (streamIds === undefined || streamIds.includes(f.streamId)));
    const deadline = Date.now() + ms;
    for (;;) {
      for (let i = from; i < this.frames.length; i++) {
        const f = this.frames[i]!;
        if (!match(f)) continue;
        if (f.type === T.GOAWAY) {
          const g = readGoaway(f);
          return { text: `GOAWAY(${codeName(g.code)}, last=${g.lastStreamId})`, debug: g.debug };
        }
        return { text: `RST_STREAM(${f.streamId}, ${codeName(f.payload.readUInt32BE(0))})`, debug: '' };
      }
      if (this.closed) return { text: 'closed without GOAWAY', debug: this.describe(from) };
      const left = deadline - Date.now();
      if (left <= 0) return { text: 'nothing', debug: this.describe(from) };
      await this.#changed(left);
    }
  }

  /** Every GOAWAY and RST_STREAM so far, readably. */
  errors(from = 0): string[] {
    return this.frames
      .slice(from)
      .filter((f) => f.type === T.GOAWAY || f.type === T.RST_STREAM)
      .map((f) => {
        if (f.type === T.GOAWAY) {
          const g = readGoaway(f);
          return `GOAWAY(${codeName(g.code)}, last=${g.lastStreamId})`;
        }
        return `RST_STREAM(${f.streamId}, ${codeName(f.payload.readUInt32BE(0))})`;
      });
  }

  /**
   * A PING round trip with a fresh payload: resolves with the ACK's payload once the server
   * answered it, which proves it processed every frame sent before (frames are handled in order).
   */
  async roundTrip(ms = 3000): Promise<Buffer> {
    const opaque = Buffer.alloc(8);
    opaque.write('rt', 0, 'latin1');
    opaque.writeUInt32BE(++this.#pingSeq, 4);
    const from = this.frames.length;
    this.send(ping(opaque));
    const ack = await this.waitFor((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(opaque), ms, `PING ACK for ${opaque.toString('hex')}`, from);
    return ack.payload;
  }

  /** The response head on `streamId`: its fields as a map (first value of each name). */
  async response(streamId: number, ms = 5000): Promise<Map<string, string>> {
    const f = await this.waitFor((x) => x.type === T.HEADERS && x.streamId === streamId, ms, `a response on stream ${streamId}`);
    await this.waitFor(() => f.fields !== undefined, ms, `the end of the response head on stream ${streamId}`);
    const map = new Map<string, string>();
    const fields = f.fields!;
    for (let i = 0; i < fields.length; i += 2) if (!map.has(fields[i]!)) map.set(fields[i]!, fields[i + 1]!);
    return map;
  }

  /** The server ended `streamId` (END_STREAM on DATA or HEADERS). */
  endedStream(streamId: number, ms = 5000): Promise<WireFrame> {
    return this.waitFor((f) => (f.type === T.DATA || f.type === T.HEADERS) && f.streamId === streamId && (f.flags & F.END_STREAM) !== 0, ms, `END_STREAM on stream ${streamId}`);
  }

  /** DATA octets the server sent on `streamId` (padding excluded). */
  dataOn(streamId: number): number {
    let n = 0;
    for (const f of this.frames) {
      if (f.type !== T.DATA || f.streamId !== streamId) continue;
      n += f.flags & F.PADDED ? f.payload.length - 1 - f.payload[0]! : f.payload.length;
    }
    return n;
  }

  /** Frames from `from` on, one short token each, for failure messages. */
  describe(from = 0): string {
    const names = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k]));
    const list = this.frames.slice(from).map((f) => {
      const name = names[f.type] ?? `type${f.type}`;
      if (f.type === T.GOAWAY) {
        const g = readGoaway(f);
        return `GOAWAY(${codeName(g.code)}, last=${g.lastStreamId}, "${g.debug}")`;
      }
      if (f.type === T.RST_STREAM) return `RST_STREAM(${f.streamId}, ${codeName(f.payload.readUInt32BE(0))})`;
      return `${name}@${f.streamId}${f.flags ? `/0x${f.flags.toString(16)}` : ''}`;
    });
    const shown = list.length > 40 ? [...list.slice(0, 20), `… ${list.length - 40} more …`, ...list.slice(-20)] : list;
    return `[${shown.join(', ')}]${this.closed ? ' then closed' : ''}`;
  }
}

export function readGoaway(f: WireFrame): { lastStreamId: number; code: number; debug: string } {
  return { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString('latin1') };
}

export { sleep };
