import type { HeaderRecord, RequestHead, ResponseHead } from './field-validation.ts';
import { StreamState, type StreamStateValue } from './stream-state.ts';

/** How a stream ended, for its owner: cleanly (both END_STREAMs) or reset, and by whom. */
export interface StreamClose {
  /** The RST_STREAM code, when the stream was reset; undefined for a clean close. */
  readonly code: number | undefined;
  /** Who ended it: the peer's RST_STREAM, h2ws's own, or the whole connection going away. */
  readonly by: 'peer' | 'local' | 'connection' | undefined;
  /**
   * Client side: the server never processed this stream (REFUSED_STREAM, or above the
   * last stream id of its GOAWAY), so it is safe to retry (RFC 9113 §8.7).
   */
  readonly unprocessed: boolean;
}

/** What the connection needs from a stream's owner; set the callbacks you care about. */
export interface StreamCallbacks {
  /** DATA, padding removed; a view valid only during the call unless copied. */
  onData?: ((data: Uint8Array) => void) | undefined;
  /** The peer's END_STREAM (RFC 9113 §8.5: FIN for a tunnel). */
  onEnd?: (() => void) | undefined;
  /** Client side: the response head (informational 1xx heads are skipped). */
  onResponse?: ((head: ResponseHead, endStream: boolean) => void) | undefined;
  /** Trailers (RFC 9113 §8.1). */
  onTrailers?: ((headers: HeaderRecord) => void) | undefined;
  /** The send buffer fell below the high-water mark after a write returned false. */
  onDrain?: (() => void) | undefined;
  /** The stream is closed; called once. */
  onClose?: ((close: StreamClose) => void) | undefined;
}

/** The connection a stream belongs to, as the stream sees it (implemented by H2Connection). */
export interface StreamHost {
  /** Sends HEADERS (and CONTINUATION) for the stream. */
  sendHeaders(stream: H2Stream, fields: readonly string[], endStream: boolean): void;
  /** Sends what the windows allow of the queued DATA. */
  sendData(stream: H2Stream): void;
  /** Sends RST_STREAM with this code. */
  sendReset(stream: H2Stream, code: number): void;
  /** Lets a stream in its close grace give its concurrency slot to a new stream. */
  yieldSlot(stream: H2Stream): void;
  /** Credits consumed bytes back to the peer with WINDOW_UPDATE. */
  credit(stream: H2Stream, bytes: number): void;
  /** The peer's address. */
  readonly remoteAddress: string | undefined;
  /** The peer's port. */
  readonly remotePort: number | undefined;
}

/**
 * One HTTP/2 stream: a small object with callback fields (no EventEmitter, no Duplex), so
 * an idle tunnel costs little. The connection drives it; its owner writes, ends, resets,
 * and pauses or resumes reading (a paused stream stops crediting its flow-control window,
 * so the peer's sending stops there, RFC 9113 §5.2).
 */
export class H2Stream implements StreamCallbacks {
  /** See {@link StreamCallbacks.onData}. */
  onData: StreamCallbacks['onData'] = undefined;
  /** See {@link StreamCallbacks.onEnd}. */
  onEnd: StreamCallbacks['onEnd'] = undefined;
  /** See {@link StreamCallbacks.onResponse}. */
  onResponse: StreamCallbacks['onResponse'] = undefined;
  /** See {@link StreamCallbacks.onTrailers}. */
  onTrailers: StreamCallbacks['onTrailers'] = undefined;
  /** See {@link StreamCallbacks.onDrain}. */
  onDrain: StreamCallbacks['onDrain'] = undefined;
  /** See {@link StreamCallbacks.onClose}. */
  onClose: StreamCallbacks['onClose'] = undefined;

  /** The stream state (RFC 9113 §5.1), driven by the connection. */
  state: StreamStateValue = StreamState.IDLE;
  /** What the peer may still send us on this stream (RFC 9113 §6.9). */
  recvWindow: number;
  /** What we may still send on this stream. */
  sendWindow: number;
  /** Received bytes delivered but not yet credited back with WINDOW_UPDATE. */
  unacked = 0;
  /** Outgoing DATA waiting for window: chunks, and the offset into the first one. */
  outQueue: Uint8Array[] = [];
  /** How far into the first queued chunk has been sent. */
  outOffset = 0;
  /** Queued outgoing bytes in all. */
  outBytes = 0;
  /** end() was called: END_STREAM goes out after the queued bytes. */
  endQueued = false;
  /** A write returned false: call onDrain once the queue is below the mark. */
  wantDrain = false;
  /** DATA held back while paused. */
  inQueue: Uint8Array[] | undefined = undefined;
  /** The peer's END_STREAM, held back while paused. */
  inEndQueued = false;
  /** Reading is paused: DATA is held and the window is not credited. */
  paused = false;
  /** Held by the connection until its owner has been told of it (new streams, see H2Connection). */
  held = false;
  /** Bytes delivered while paused, credited on resume. */
  owed = 0;
  /** A clean close that waits for held-back DATA and END_STREAM to be delivered first. */
  closePending: StreamClose | undefined = undefined;
  /** RST_STREAM(NO_ERROR) asked for while END_STREAM was still queued: sent right after it (RFC 9113 §8.1). */
  resetAfterEnd = false;
  /** Trailers queued behind DATA (sent once the queue is empty). */
  pendingTrailers: readonly string[] | undefined = undefined;
  /** The HEADERS frame has gone out. */
  headersSent = false;
  /** The response (client) or the request (server) has arrived. */
  headReceived = false;
  /** RFC 9113 §8.1.1: the declared content-length, checked against the DATA received. */
  expectedLength: number | undefined = undefined;
  /** DATA bytes received, for the content-length check. */
  receivedLength = 0;
  /** How the stream closed, once it has. */
  closeInfo: StreamClose | undefined = undefined;
  /** Server side: the request head; client side: the response head once it arrives. */
  head: RequestHead | ResponseHead | undefined = undefined;
  /** Anything the owner wants to keep with the stream. */
  context: unknown = undefined;

  /** Made by the connection when a stream opens; applications get streams, never build them. */
  constructor(
    readonly id: number,
    readonly host: StreamHost,
    recvWindow: number,
    sendWindow: number,
    readonly highWater: number,
  ) {
    this.recvWindow = recvWindow;
    this.sendWindow = sendWindow;
  }

  /** The peer's address, for logs and X-Forwarded-For. */
  get remoteAddress(): string | undefined {
    return this.host.remoteAddress;
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.host.remotePort;
  }

  /** True once the stream is closed (RFC 9113 §5.1). */
  get closed(): boolean {
    return this.state === StreamState.CLOSED;
  }

  /** True once the peer's END_STREAM has been delivered. */
  get remoteEnded(): boolean {
    return (this.state === StreamState.HALF_CLOSED_REMOTE || this.state === StreamState.CLOSED) && this.inQueue === undefined && !this.inEndQueued;
  }

  /** True once end() was called (END_STREAM queued or sent). */
  get localEnded(): boolean {
    return this.endQueued || this.state === StreamState.HALF_CLOSED_LOCAL || this.state === StreamState.CLOSED;
  }

  /** Bytes queued for sending, not yet in DATA frames. */
  get bufferedAmount(): number {
    return this.outBytes;
  }

  /**
   * Sends a header block: the response (server), or trailers. `fields` is a flat
   * [name, value, …] list, names lowercase, pseudo-headers first.
   */
  sendHeaders(fields: readonly string[], endStream = false): void {
    this.host.sendHeaders(this, fields, endStream);
  }

  /**
   * Server side: the response head, node-style (`{ ':status': 200, 'content-type': … }`).
   * Names are lowercased; pseudo-headers go first (RFC 9113 §8.3).
   */
  respond(headers: Readonly<Record<string, string | number | readonly string[] | undefined>>, endStream = false): void {
    const fields: string[] = [':status', String(headers[':status'] ?? 200)];
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined || name === ':status') continue;
      const lower = name.toLowerCase();
      if (typeof value === 'object') for (const v of value) fields.push(lower, v);
      else fields.push(lower, String(value));
    }
    this.sendHeaders(fields, endStream);
  }

  /** Queues DATA; false when the queue is above the high-water mark (wait for onDrain). */
  write(data: Uint8Array): boolean {
    if (this.localEnded || this.state === StreamState.CLOSED) return false;
    if (data.length > 0) {
      this.outQueue.push(data);
      this.outBytes += data.length;
      this.host.sendData(this);
    }
    if (this.outBytes >= this.highWater) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  /** END_STREAM after whatever is queued (RFC 9113 §8.5: FIN). */
  end(data?: Uint8Array): void {
    if (this.localEnded || this.state === StreamState.CLOSED) return;
    if (data !== undefined && data.length > 0) {
      this.outQueue.push(data);
      this.outBytes += data.length;
    }
    this.endQueued = true;
    this.host.sendData(this);
  }

  /**
   * Takes up to `wanted` queued bytes for one DATA frame: a view when one chunk has them, a
   * copy when several small writes make one frame. A frame that would straddle two large
   * chunks is cut at the first one's end instead: DATA frames may have any length, and a copy
   * of 16 KiB per frame is an allocation outside V8's heap that drives its garbage collector.
   */
  takeQueued(wanted: number): Uint8Array {
    const queue = this.outQueue;
    const first = queue[0]!;
    const available = first.length - this.outOffset;
    let n = wanted;
    if (available > n) {
      this.outBytes -= n;
      const view = first.subarray(this.outOffset, this.outOffset + n);
      this.outOffset += n;
      return view;
    }
    if (available >= 4096 && available < n) n = available;
    this.outBytes -= n;
    if (available === n) {
      queue.shift();
      const view = this.outOffset === 0 ? first : first.subarray(this.outOffset);
      this.outOffset = 0;
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = queue[0]!;
      const from = this.outOffset;
      const take = Math.min(chunk.length - from, n - filled);
      out.set(chunk.subarray(from, from + take), filled);
      filled += take;
      if (from + take === chunk.length) {
        queue.shift();
        this.outOffset = 0;
      } else {
        this.outOffset = from + take;
      }
    }
    return out;
  }

  /** RST_STREAM with `code` (RFC 9113 §6.4); queued data is dropped. Does nothing on a closed stream. */
  reset(code: number): void {
    if (this.state === StreamState.CLOSED) return;
    this.host.sendReset(this, code);
  }

  /**
   * The owner's exchange on this stream is over (its response is complete) and it only waits
   * for the peer's END_STREAM. Should a new peer stream find SETTINGS_MAX_CONCURRENT_STREAMS
   * reached, the connection ends this stream with RST_STREAM NO_ERROR (RFC 9113 §8.1) and
   * takes the new one, rather than refuse it: a peer that forgets a stream once it has the
   * response (Firefox after a WebSocket's closing handshake) counts the slot as free already.
   */
  yieldSlot(): void {
    if (this.state === StreamState.CLOSED) return;
    this.host.yieldSlot(this);
  }

  /** Stops delivering DATA and stops crediting the window: the peer stalls (RFC 9113 §5.2). */
  pause(): void {
    this.paused = true;
  }

  /** Delivers what was held back and credits it. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.#deliverQueued();
  }

  /** The connection lets go of a new stream once its owner knows of it. */
  release(): void {
    this.held = false;
    this.#deliverQueued();
  }

  /** Can DATA go straight to onData? */
  get delivering(): boolean {
    return !this.paused && !this.held;
  }

  #deliverQueued(): void {
    if (!this.delivering) return;
    if (this.owed > 0) {
      const owed = this.owed;
      this.owed = 0;
      this.host.credit(this, owed);
    }
    const queued = this.inQueue;
    if (queued !== undefined) {
      this.inQueue = undefined;
      for (let i = 0; i < queued.length; i++) {
        const chunk = queued[i]!;
        this.onData?.(chunk);
        if (this.delivering) this.host.credit(this, chunk.length);
        else this.owed += chunk.length;
        if (!this.delivering) {
          // Paused again from inside onData: keep the rest.
          const rest = queued.slice(i + 1);
          if (rest.length > 0) this.inQueue = rest;
          return;
        }
      }
    }
    if (this.inEndQueued) {
      this.inEndQueued = false;
      this.onEnd?.();
    }
    const close = this.closePending;
    if (close !== undefined) {
      this.closePending = undefined;
      this.closeInfo = close;
      this.onClose?.(close);
    }
  }
}
