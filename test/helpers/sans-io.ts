/**
 * A test bench for the sans-IO HTTP/2 engine (src/h2/connection.ts): no sockets, no timers.
 *
 * `server()` builds a server-role H2Connection and plays its client: the connection preface,
 * SETTINGS and the SETTINGS ACK go in first, then whatever frames a test builds with the
 * frame encoder and the HPACK encoder below. `client()` does the same the other way round.
 * What the connection emits is decoded with the frame decoder into a list of frames (HEADERS
 * blocks decoded with a real HPACK decoder, so the two tables stay in step), and each frame can
 * be told in one line: "GOAWAY(PROTOCOL_ERROR, last=1)", "RST_STREAM(3, STREAM_CLOSED)",
 * "WINDOW_UPDATE(0, +32768)", "DATA(1, 100)", "DATA(1, 0, END_STREAM)"…
 *
 * The budgets read a fake clock (`bench.clock.t`, milliseconds) that only moves when a test moves it.
 */
import { CONNECTION_PREFACE, type ConnectionHandler, type ConnectionOptions, H2Connection } from '../../src/h2/connection.ts';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import type { HeaderRecord, RequestHead } from '../../src/h2/field-validation.ts';
import { FrameDecoder } from '../../src/h2/frame/decoder.ts';
import {
  encodeContinuation, encodeData, encodeFrame, encodeGoaway, encodeHeaders, encodePing, encodePriority, encodePushPromise,
  encodeRstStream, encodeSettings, encodeSettingsAck, encodeWindowUpdate,
} from '../../src/h2/frame/encoder.ts';
import { Flag, type Frame, FrameType, MAX_ALLOWED_FRAME_SIZE } from '../../src/h2/frame/types.ts';
import { HpackDecoder } from '../../src/h2/hpack/decoder.ts';
import { HpackEncoder } from '../../src/h2/hpack/encoder.ts';
import { encodeIntegerInto } from '../../src/h2/hpack/integer.ts';
import type { H2ConnectionError } from '../../src/h2/protocol-error.ts';
import type { H2Stream, StreamClose } from '../../src/h2/stream.ts';

export {
  encodeContinuation, encodeData, encodeFrame, encodeGoaway, encodeHeaders, encodePing, encodePriority, encodePushPromise,
  encodeRstStream, encodeSettings, encodeSettingsAck, encodeWindowUpdate,
};

export const CODE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(H2ErrorCode).map(([name, code]) => [code, name]));
const codeName = (code: number): string => CODE_NAMES[code] ?? `0x${code.toString(16)}`;

/** Joins byte arrays into one (one receive() call sees them as one read). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A frame the connection emitted; HEADERS carry their decoded fields (CONTINUATIONs folded in). */
export type OutFrame = Frame & { readonly fields?: readonly string[] };

/** One line per frame, for readable assertions. */
export function describeFrame(f: OutFrame): string {
  if ('unknown' in f) return `UNKNOWN(type=0x${f.type.toString(16)}, ${f.streamId})`;
  switch (f.type) {
    case FrameType.DATA:
      return `DATA(${f.streamId}, ${f.data.length}${f.endStream ? ', END_STREAM' : ''})`;
    case FrameType.HEADERS:
      return `HEADERS(${f.streamId}${f.endStream ? ', END_STREAM' : ''})`;
    case FrameType.PRIORITY:
      return `PRIORITY(${f.streamId})`;
    case FrameType.RST_STREAM:
      return `RST_STREAM(${f.streamId}, ${codeName(f.errorCode)})`;
    case FrameType.SETTINGS:
      return f.ack ? 'SETTINGS(ACK)' : `SETTINGS(${f.settings.map(([id, v]) => `${id}=${v}`).join(', ')})`;
    case FrameType.PUSH_PROMISE:
      return `PUSH_PROMISE(${f.streamId})`;
    case FrameType.PING:
      return `PING(${f.ack ? 'ACK, ' : ''}${Buffer.from(f.opaque).toString('hex')})`;
    case FrameType.GOAWAY:
      return `GOAWAY(${codeName(f.errorCode)}, last=${f.lastStreamId})`;
    case FrameType.WINDOW_UPDATE:
      return `WINDOW_UPDATE(${f.streamId}, +${f.increment})`;
    case FrameType.CONTINUATION:
      return `CONTINUATION(${f.streamId})`;
  }
  return 'UNREACHABLE';
}

export const describeFrames = (frames: readonly OutFrame[]): string[] => frames.map(describeFrame);

/** What a stream's owner saw: recorded by the default callbacks the bench installs. */
export interface StreamRecord {
  readonly stream: H2Stream;
  readonly head: RequestHead | undefined;
  readonly endStream: boolean;
  readonly data: Uint8Array[];
  bytes: number;
  ended: boolean;
  trailers: HeaderRecord | undefined;
  close: StreamClose | undefined;
  status: number | undefined;
}

export interface Clock {
  t: number;
}

export type BenchOptions = Omit<Partial<ConnectionOptions>, 'role' | 'now'> & {
  /** The peer's SETTINGS in the handshake, as [id, value] pairs. */
  readonly peerSettings?: ReadonlyArray<readonly [number, number]>;
  /**
   * 'full' (default): preface, SETTINGS and the ACK of the engine's SETTINGS.
   * 'no-ack': preface and SETTINGS only. 'none': nothing is sent.
   */
  readonly handshake?: 'full' | 'no-ack' | 'none';
};

/** Builds frames as a peer would: one HPACK encoder for the whole connection, as RFC 7541 requires. */
export class Bench {
  readonly conn: H2Connection;
  readonly clock: Clock;
  /** The fake peer's HPACK encoder (its dynamic table is the one the engine's decoder mirrors). */
  readonly hpack = new HpackEncoder();
  /** Decodes the engine's HEADERS blocks. */
  readonly hpackIn = new HpackDecoder();
  readonly decoder = new FrameDecoder(MAX_ALLOWED_FRAME_SIZE);
  /** Server: every announced stream, in order. Client: every stream opened with request(). */
  readonly streams: StreamRecord[] = [];
  readonly goawaysSent: Array<{ code: number; lastStreamId: number }> = [];
  readonly goawaysReceived: Array<{ code: number; lastStreamId: number }> = [];
  readonly connectionErrors: H2ConnectionError[] = [];
  readonly defences: string[] = [];
  readonly resets: Array<{ id: number | undefined; code: number; side: 'sent' | 'received' }> = [];
  readonly pingAcks: string[] = [];
  readonly remoteSettings: boolean[] = [];
  streamSlots = 0;
  outputs = 0;
  /** What the engine emitted on its own at construction (its SETTINGS, a connection WINDOW_UPDATE). */
  initialFrames: OutFrame[] = [];
  /** What the engine answered the handshake with (SETTINGS ACK, or a GOAWAY). */
  handshakeFrames: OutFrame[] = [];
  #preface: number;
  #block: { streamId: number; endStream: boolean; chunks: Uint8Array[] } | undefined;

  constructor(readonly role: 'server' | 'client', options: BenchOptions = {}) {
    this.clock = { t: 1_000_000 };
    const clock = this.clock;
    const handler: ConnectionHandler = {
      onOutput: () => this.outputs++,
      onStream: (stream, head, endStream) => {
        this.streams.push(this.#track(stream, head, endStream));
      },
      onRemoteSettings: (_s, first) => this.remoteSettings.push(first),
      onGoaway: (code, lastStreamId) => this.goawaysReceived.push({ code, lastStreamId }),
      onGoawaySent: (code, lastStreamId) => this.goawaysSent.push({ code, lastStreamId }),
      onPingAck: (opaque) => this.pingAcks.push(Buffer.from(opaque).toString('hex')),
      onReset: (stream, code, side) => this.resets.push({ id: stream?.id, code, side }),
      onConnectionError: (error) => this.connectionErrors.push(error),
      onDefence: (kind) => this.defences.push(kind),
      onStreamSlot: () => this.streamSlots++,
    };
    const { peerSettings = [], handshake = 'full', ...rest } = options;
    this.conn = new H2Connection({ ...rest, role, now: () => clock.t }, handler);
    // A client's output starts with the 24-octet magic, which is not a frame.
    this.#preface = role === 'client' ? CONNECTION_PREFACE.length : 0;
    if (handshake === 'none') return;
    this.initialFrames = this.take();
    const parts: Uint8Array[] = [];
    if (role === 'server') parts.push(CONNECTION_PREFACE);
    parts.push(encodeSettings(peerSettings));
    if (handshake === 'full') parts.push(encodeSettingsAck());
    this.handshakeFrames = this.send(...parts);
  }

  #track(stream: H2Stream, head: RequestHead | undefined, endStream: boolean): StreamRecord {
    const rec: StreamRecord = { stream, head, endStream, data: [], bytes: 0, ended: false, trailers: undefined, close: undefined, status: undefined };
    stream.onData = (d) => {
      rec.data.push(d.slice());
      rec.bytes += d.length;
    };
    stream.onEnd = () => (rec.ended = true);
    stream.onTrailers = (t) => (rec.trailers = t);
    stream.onClose = (c) => (rec.close = c);
    stream.onResponse = (h) => (rec.status = h.status);
    return rec;
  }

  /** The record of stream `id` (announced, or opened with request()). */
  stream(id: number): StreamRecord {
    const rec = this.streams.find((r) => r.stream.id === id);
    if (rec === undefined) throw new Error(`stream ${id} was never announced`);
    return rec;
  }

  /** Feeds `parts` as ONE read, then returns what the engine emitted (decoded). */
  send(...parts: Uint8Array[]): OutFrame[] {
    this.conn.receive(parts.length === 1 ? parts[0]! : concat(parts));
    return this.take();
  }

  /** Feeds each part as its own read; returns everything emitted. */
  sendEach(parts: readonly Uint8Array[]): OutFrame[] {
    const out: OutFrame[] = [];
    for (const p of parts) out.push(...this.send(p));
    return out;
  }

  /** Everything the engine has to write now, decoded into frames. */
  take(withData = true): OutFrame[] {
    const chunks = this.conn.takeOutput(withData);
    const frames: OutFrame[] = [];
    if (chunks === undefined) return frames;
    for (let chunk of chunks) {
      if (this.#preface > 0) {
        const n = Math.min(this.#preface, chunk.length);
        for (let i = 0; i < n; i++) {
          if (chunk[i] !== CONNECTION_PREFACE[CONNECTION_PREFACE.length - this.#preface + i]) throw new Error('the client did not start with the connection preface');
        }
        this.#preface -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) continue;
      }
      // A copy: the engine may hand out views of buffers the test later changes.
      this.decoder.push(chunk.slice());
      for (let f = this.decoder.next(); f !== undefined; f = this.decoder.next()) {
        const out = this.#fold(f);
        if (out !== undefined) frames.push(out);
      }
    }
    return frames;
  }

  /** Folds HEADERS + CONTINUATION into one HEADERS with decoded fields. */
  #fold(f: Frame): OutFrame | undefined {
    if (f.type === FrameType.HEADERS && !('unknown' in f)) {
      if (!f.endHeaders) {
        this.#block = { streamId: f.streamId, endStream: f.endStream, chunks: [f.fragment.slice()] };
        return undefined;
      }
      return { ...f, fields: this.hpackIn.decode(f.fragment).fields };
    }
    if (f.type === FrameType.CONTINUATION && !('unknown' in f) && this.#block !== undefined) {
      this.#block.chunks.push(f.fragment.slice());
      if (!f.endHeaders) return undefined;
      const block = this.#block;
      this.#block = undefined;
      const fragment = concat(block.chunks);
      return { type: FrameType.HEADERS, streamId: block.streamId, fragment, endStream: block.endStream, endHeaders: true, priority: undefined, fields: this.hpackIn.decode(fragment).fields };
    }
    return f;
  }

  // ---------------------------------------------------------------------------------------
  // Frames, as the peer sends them.

  /** A field block with the peer's HPACK encoder (its dynamic table changes: encode in sending order). */
  block(fields: readonly string[]): Uint8Array {
    return this.hpack.encode(fields);
  }

  /** HEADERS (and CONTINUATIONs past 16,384 octets), END_HEADERS on the last. */
  headers(streamId: number, fields: readonly string[], endStream = false): Uint8Array {
    return encodeHeaders(streamId, this.block(fields), endStream);
  }

  /** HEADERS with a raw fragment and explicit flags (END_HEADERS off to start a CONTINUATION run). */
  headersFragment(streamId: number, fragment: Uint8Array, opts: { endStream?: boolean; endHeaders?: boolean } = {}): Uint8Array {
    const flags = (opts.endStream ? Flag.END_STREAM : 0) | (opts.endHeaders === false ? 0 : Flag.END_HEADERS);
    return encodeFrame(FrameType.HEADERS, flags, streamId, fragment);
  }

  /** DATA of `body` (or `body` octets of 0x61), optionally PADDED with `pad` octets of padding (RFC 9113 §6.1). */
  data(streamId: number, body: Uint8Array | number, endStream = false, pad?: number): Uint8Array {
    const bytes = typeof body === 'number' ? new Uint8Array(body).fill(0x61) : body;
    if (pad === undefined) return concat(encodeData(streamId, bytes, endStream));
    if (!Number.isInteger(pad) || pad < 0 || pad > 255) throw new RangeError(`Pad Length is one octet (RFC 9113 §6.1), not ${pad}`);
    const payload = new Uint8Array(1 + bytes.length + pad);
    payload[0] = pad;
    payload.set(bytes, 1);
    return encodeFrame(FrameType.DATA, Flag.PADDED | (endStream ? Flag.END_STREAM : 0), streamId, payload);
  }

  /** Client bench: a response head on `streamId`. */
  respond(streamId: number, status = 200, extra: readonly string[] = [], endStream = false): Uint8Array {
    return this.headers(streamId, [':status', String(status), ...extra], endStream);
  }
}

export const server = (options: BenchOptions = {}): Bench => new Bench('server', options);
export const client = (options: BenchOptions = {}): Bench => new Bench('client', options);

/** Plain request heads. */
export const GET = (path = '/'): string[] => [':method', 'GET', ':scheme', 'https', ':authority', 'example.com', ':path', path];
export const POST = (path = '/', contentLength?: number): string[] => [
  ':method', 'POST', ':scheme', 'https', ':authority', 'example.com', ':path', path,
  ...(contentLength === undefined ? [] : ['content-length', String(contentLength)]),
];
/** RFC 8441 §4 extended CONNECT (the server must advertise ENABLE_CONNECT_PROTOCOL). */
export const CONNECT_WS = (path = '/chat'): string[] => [
  ':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':authority', 'example.com', ':path', path, 'sec-websocket-version', '13',
];

/** The frames of one kind. */
export const ofType = <T extends number>(frames: readonly OutFrame[], type: T): Array<Extract<Frame, { type: T }>> =>
  frames.filter((f) => f.type === type && !('unknown' in f)) as Array<Extract<Frame, { type: T }>>;

/** Total DATA octets (padding excluded) per stream id. */
export function dataBytes(frames: readonly OutFrame[], streamId?: number): number {
  return ofType(frames, FrameType.DATA)
    .filter((f) => streamId === undefined || f.streamId === streamId)
    .reduce((n, f) => n + f.data.length, 0);
}

/** Sum of WINDOW_UPDATE increments for `streamId` (0: the connection). */
export function windowCredit(frames: readonly OutFrame[], streamId: number): number {
  return ofType(frames, FrameType.WINDOW_UPDATE)
    .filter((f) => f.streamId === streamId)
    .reduce((n, f) => n + f.increment, 0);
}

/**
 * One field as "literal without indexing, new name" with raw (non-Huffman) strings
 * (RFC 7541 §6.2.2): its size is exactly predictable, and it leaves the dynamic table alone.
 */
export function literalField(name: string, value: string): Uint8Array {
  const out = new Uint8Array(12 + name.length + value.length);
  let pos = 0;
  out[pos++] = 0x00;
  pos = encodeIntegerInto(out, pos, name.length, 7, 0);
  for (let i = 0; i < name.length; i++) out[pos++] = name.charCodeAt(i);
  pos = encodeIntegerInto(out, pos, value.length, 7, 0);
  for (let i = 0; i < value.length; i++) out[pos++] = value.charCodeAt(i);
  return out.slice(0, pos);
}
