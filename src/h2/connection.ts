import { H2ErrorCode } from './error-codes.ts';
import { checkRequestFields, checkResponseFields, checkTrailerFields, type RequestHead } from './field-validation.ts';
import { FrameDecoder } from './frame/decoder.ts';
import {
  encodeData,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
} from './frame/encoder.ts';
import {
  type ContinuationFrame,
  type DataFrame,
  type Frame,
  FrameType,
  type GoawayFrame,
  type HeadersFrame,
  MAX_WINDOW_SIZE,
  type PingFrame,
  type PrioritySignal,
  type RstStreamFrame,
  type SettingsFrame,
  type WindowUpdateFrame,
} from './frame/types.ts';
import { HpackDecoder } from './hpack/decoder.ts';
import { HpackEncoder } from './hpack/encoder.ts';
import { Budget } from './budget.ts';
import { H2ConnectionError, H2StreamError } from './protocol-error.ts';
import { applyRemoteSettings, defaultSettings, type Settings, settingsPairs } from './settings.ts';
import { RecentlyClosed } from './closed-streams.ts';
import { type ConnectionHandler, type ConnectionOptions, DEFENCES, type Role } from './connection-options.ts';
import { FieldBlock } from './field-block.ts';

export { type ConnectionHandler, type ConnectionOptions, DEFENCES, type Role } from './connection-options.ts';
import { H2Stream, type StreamClose, type StreamHost } from './stream.ts';
import { applyVerdict, ON_RECEIVE, ReceivedKind, type ReceivedKindValue, StreamEvent, type StreamEventValue, StreamState, transition, type Verdict, verdictInState } from './stream-state.ts';
import { DEFAULT_WINDOW } from './windows.ts';

/** RFC 9113 §3.4: what a client sends first. */
export const CONNECTION_PREFACE = new Uint8Array([
  0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a,
]);

/** PING payload of the graceful shutdown's first step (RFC 9113 §6.8). */
const SHUTDOWN_PING = new Uint8Array([0x68, 0x32, 0x77, 0x73, 0x2d, 0x62, 0x79, 0x65]);

/**
 * One HTTP/2 connection, sans-IO (RFC 9113): bytes go in through receive(), frames come out
 * through takeOutput(); the owner is told what happened through a handler. No sockets, no
 * timers: the adapter (socket.ts) binds it to node:net or node:tls and runs the timers
 * (SETTINGS ACK timeout, PING liveness, the shutdown's second step).
 */
export class H2Connection implements StreamHost {
  readonly role: Role;
  readonly local: Readonly<Settings>;
  readonly #remote: Settings = defaultSettings();
  readonly #handler: ConnectionHandler;
  readonly #decoder: FrameDecoder;
  readonly #hpackIn: HpackDecoder;
  readonly #hpackOut = new HpackEncoder();
  readonly #streams = new Map<number, H2Stream>();
  readonly #closedRecently = new RecentlyClosed();
  readonly #ready = new Set<H2Stream>();
  /** Peer streams whose owner gave their slot up (H2Stream.yieldSlot), oldest first. */
  readonly #yielded = new Set<H2Stream>();
  readonly #highWater: number;
  readonly #rapidReset: Budget;
  readonly #glitches: Budget;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;

  #out: Uint8Array[] = [];
  #outBytes = 0;
  #notified = false;
  #prefaceLeft: number;
  #sawSettings = false;
  #settingsAcksPending = 0;
  #block: FieldBlock | undefined;
  /** Highest stream id the peer opened (server) — the last stream id of our GOAWAY. */
  #lastPeerStreamId = 0;
  #nextStreamId: number;
  #peerStreams = 0;
  #localStreams = 0;
  #sendWindow = DEFAULT_WINDOW;
  #recvWindow = DEFAULT_WINDOW;
  #recvTarget = DEFAULT_WINDOW;
  #recvUnacked = 0;
  #goawaySent: { lastStreamId: number; code: number } | undefined;
  #goawayReceived: { lastStreamId: number; code: number } | undefined;
  #shutdownPingSent = false;
  #closed = false;
  #announce: H2Stream[] = [];

  constructor(options: ConnectionOptions, handler: ConnectionHandler) {
    this.role = options.role;
    this.#handler = handler;
    this.local = Object.freeze({ ...defaultSettings(), enablePush: false, ...options.settings });
    this.#highWater = options.streamHighWater ?? 65_536;
    this.remoteAddress = options.remoteAddress;
    this.remotePort = options.remotePort;
    const now = options.now ?? monotonicNow;
    const rr = options.rapidReset ?? DEFENCES.rapidReset;
    const gl = options.glitches ?? DEFENCES.glitches;
    this.#rapidReset = new Budget(rr.burst, rr.perSecond, now);
    this.#glitches = new Budget(gl.burst, gl.perSecond, now);
    this.#decoder = new FrameDecoder(Math.max(this.local.maxFrameSize, 16_384));
    this.#hpackIn = new HpackDecoder({ maxTableSize: this.local.headerTableSize, maxHeaderListSize: this.local.maxHeaderListSize });
    this.#prefaceLeft = this.role === 'server' ? CONNECTION_PREFACE.length : 0;
    this.#nextStreamId = this.role === 'client' ? 1 : 2;
    // RFC 9113 §3.4: the connection preface: the client's magic, then SETTINGS from both.
    if (this.role === 'client') this.#emit(CONNECTION_PREFACE);
    this.#emit(encodeSettings(settingsPairs(this.local)));
    this.#settingsAcksPending++;
    const window = options.connectionWindow;
    if (window !== undefined && window > DEFAULT_WINDOW) {
      const increment = Math.min(window, MAX_WINDOW_SIZE) - DEFAULT_WINDOW;
      this.#emit(encodeWindowUpdate(0, increment));
      this.#recvWindow += increment;
      this.#recvTarget += increment;
    }
  }

  // ---------------------------------------------------------------------------------------
  // State for owners.

  get remoteSettings(): Readonly<Settings> {
    return this.#remote;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Streams open or half-closed, either side's. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  get lastPeerStreamId(): number {
    return this.#lastPeerStreamId;
  }

  get goawaySent(): Readonly<{ lastStreamId: number; code: number }> | undefined {
    return this.#goawaySent;
  }

  get goawayReceived(): Readonly<{ lastStreamId: number; code: number }> | undefined {
    return this.#goawayReceived;
  }

  /** Our SETTINGS went unacknowledged so far (the adapter's SETTINGS_TIMEOUT, §6.5.3). */
  get settingsAckPending(): boolean {
    return this.#settingsAcksPending > 0;
  }

  /** The peer's preface SETTINGS have arrived. */
  get ready(): boolean {
    return this.#sawSettings;
  }

  /** Client: may a new stream be opened now (§5.1.2, §6.8)? */
  get canOpenStream(): boolean {
    return !this.#closed && this.#sawSettings && this.#goawayReceived === undefined && this.#goawaySent === undefined && this.#localStreams < this.#remote.maxConcurrentStreams && this.#nextStreamId <= MAX_WINDOW_SIZE;
  }

  /** Nothing left to do: a GOAWAY went either way and no stream is open (or a connection error). */
  get finished(): boolean {
    return this.#closed || ((this.#goawaySent !== undefined || this.#goawayReceived !== undefined) && this.#streams.size === 0 && !this.#shutdownPending);
  }

  get #shutdownPending(): boolean {
    return this.#goawaySent !== undefined && this.#goawaySent.lastStreamId === MAX_WINDOW_SIZE;
  }

  // ---------------------------------------------------------------------------------------
  // Input.

  /** Feeds bytes read from the transport. */
  receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    try {
      if (this.#prefaceLeft > 0) {
        const rest = this.#checkPreface(chunk);
        if (rest === undefined) return;
        chunk = rest;
      }
      this.#decoder.push(chunk);
      for (;;) {
        let frame: Frame | undefined;
        try {
          frame = this.#decoder.next();
          if (frame === undefined) break;
          this.#onFrame(frame);
        } catch (err) {
          if (!(err instanceof H2StreamError)) throw err;
          this.#streamError(err.streamId, err.h2Code);
        }
        if (this.#closed) break;
      }
    } catch (err) {
      if (!(err instanceof H2ConnectionError)) throw err;
      this.#connectionError(err);
    }
    this.#announceStreams();
    this.#notify();
  }

  /** The transport closed (or failed): every stream still open ends as reset by the connection. */
  transportClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeAll(H2ErrorCode.CANCEL);
  }

  #checkPreface(chunk: Uint8Array): Uint8Array | undefined {
    const offset = CONNECTION_PREFACE.length - this.#prefaceLeft;
    const n = Math.min(this.#prefaceLeft, chunk.length);
    for (let i = 0; i < n; i++) {
      if (chunk[i] !== CONNECTION_PREFACE[offset + i]) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'invalid connection preface (RFC 9113 §3.4)');
    }
    this.#prefaceLeft -= n;
    return this.#prefaceLeft > 0 ? undefined : chunk.subarray(n);
  }

  #onFrame(frame: Frame): void {
    // RFC 9113 §6.10: a field block is contiguous; anything else in between is a connection error.
    if (this.#block !== undefined && frame.type !== FrameType.CONTINUATION) {
      throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'a field block was interrupted by another frame (RFC 9113 §6.10)');
    }
    // RFC 9113 §3.4: the peer's preface starts with SETTINGS.
    if (!this.#sawSettings && (frame.type !== FrameType.SETTINGS || (frame as SettingsFrame).ack)) {
      throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'the connection preface must start with a SETTINGS frame (RFC 9113 §3.4)');
    }
    if ('unknown' in frame) return; // RFC 9113 §5.5: unknown frame types are ignored
    switch (frame.type) {
      case FrameType.DATA:
        return this.#onData(frame);
      case FrameType.HEADERS:
        return this.#onHeaders(frame);
      case FrameType.PRIORITY:
        // RFC 9113 §5.3.2: priority signals are ignored (the decoder checked their shape).
        return;
      case FrameType.RST_STREAM:
        return this.#onRstStream(frame);
      case FrameType.SETTINGS:
        return this.#onSettings(frame);
      case FrameType.PUSH_PROMISE:
        // RFC 9113 §6.6, §8.4: h2ws says SETTINGS_ENABLE_PUSH = 0, and clients never push.
        throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE although push is disabled (RFC 9113 §6.6)');
      case FrameType.PING:
        return this.#onPing(frame);
      case FrameType.GOAWAY:
        return this.#onGoaway(frame);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(frame);
      case FrameType.CONTINUATION:
        return this.#onContinuation(frame);
    }
  }

  /** Which row of the state table a stream id is in, for a stream not in the open map. */
  #absentVerdict(id: number, kind: ReceivedKindValue): Verdict {
    const row = this.#closedRecently.row(id);
    if (row !== undefined) return ON_RECEIVE[row][kind]!;
    // Never opened, or closed long ago (or skipped, which closes it implicitly, §5.1.1).
    return ON_RECEIVE[this.#isIdle(id) ? 'idle' : 'closed (by the peer)'][kind]!;
  }

  /** Has `id` never been opened (RFC 9113 §5.1 idle)? */
  #isIdle(id: number): boolean {
    const peerInitiated = (id % 2 === 1) === (this.role === 'server');
    return peerInitiated ? id > this.#lastPeerStreamId : id >= this.#nextStreamId;
  }

  #onData(frame: DataFrame): void {
    const size = frame.flowLength;
    // RFC 9113 §6.9: DATA counts against the connection window whatever the stream's state.
    if (size > this.#recvWindow) throw new H2ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, `DATA of ${size} octets exceeds the connection window of ${this.#recvWindow} (RFC 9113 §6.9)`);
    this.#recvWindow -= size;
    // The connection window is credited at once: what a stream holds is bounded by its own
    // window, and one paused tunnel must not stall every other stream on the connection.
    this.#creditConnection(size);
    const stream = this.#streams.get(frame.streamId);
    if (stream === undefined) {
      applyVerdict(this.#absentVerdict(frame.streamId, ReceivedKind.DATA), frame.streamId);
      return;
    }
    if (!applyVerdict(verdictInState(stream.state, ReceivedKind.DATA), stream.id)) return;
    if (size > stream.recvWindow) throw new H2StreamError(stream.id, H2ErrorCode.FLOW_CONTROL_ERROR, `DATA of ${size} octets exceeds the stream window of ${stream.recvWindow} (RFC 9113 §6.9)`);
    stream.recvWindow -= size;
    // RFC 9113 §8.1: DATA before the response's HEADERS is malformed.
    if (!stream.headReceived) throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, 'DATA before HEADERS (RFC 9113 §8.1)');
    const { data } = frame;
    if (size > data.length) this.credit(stream, size - data.length); // padding is never delivered
    stream.receivedLength += data.length;
    // RFC 9113 §8.1.1: more DATA than content-length is malformed.
    if (stream.expectedLength !== undefined && stream.receivedLength > stream.expectedLength) {
      throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, `DATA exceeds content-length ${stream.expectedLength} (RFC 9113 §8.1.1)`);
    }
    if (data.length === 0 && !frame.endStream) this.#glitch();
    if (data.length > 0) {
      if (stream.delivering && stream.inQueue === undefined) {
        stream.onData?.(data);
        if (stream.delivering) this.credit(stream, data.length);
        else stream.owed += data.length;
      } else {
        (stream.inQueue ??= []).push(data);
      }
    }
    if (frame.endStream) this.#remoteEnd(stream);
  }

  /** The peer's END_STREAM on `stream` (after DATA, HEADERS or trailers). */
  #remoteEnd(stream: H2Stream): void {
    if (stream.expectedLength !== undefined && stream.receivedLength !== stream.expectedLength) {
      throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, `${stream.receivedLength} octets of DATA where content-length said ${stream.expectedLength} (RFC 9113 §8.1.1)`);
    }
    this.#transition(stream, StreamEvent.RECV_END_STREAM);
    if (stream.delivering && stream.inQueue === undefined) stream.onEnd?.();
    else stream.inEndQueued = true;
    if (stream.state === StreamState.CLOSED) this.#closed_(stream, { code: undefined, by: undefined, unprocessed: false });
  }

  #onHeaders(frame: HeadersFrame): void {
    if (frame.endHeaders) {
      this.#onFieldBlock(frame.streamId, frame.fragment, frame.endStream, frame.priority);
      return;
    }
    this.#block = new FieldBlock(frame.streamId, frame.endStream, frame.priority, frame.fragment, this.local.maxHeaderListSize);
  }

  #onContinuation(frame: ContinuationFrame): void {
    const block = this.#block;
    if (block === undefined || block.streamId !== frame.streamId) {
      throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without a field block in progress on that stream (RFC 9113 §6.10)');
    }
    if (frame.fragment.length === 0 && !frame.endHeaders) this.#glitch();
    if (!block.add(frame.fragment)) {
      this.#handler.onDefence?.('header-block');
      throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `a field block of ${block.frames} frames and ${block.bytes} octets is too large (RFC 9113 §10.5)`);
    }
    if (!frame.endHeaders) return;
    this.#block = undefined;
    const whole = block.whole();
    this.#onFieldBlock(block.streamId, whole, block.endStream, block.priority);
  }

  #onFieldBlock(id: number, block: Uint8Array, endStream: boolean, priority: PrioritySignal | undefined): void {
    // Always decoded, even for a stream about to be refused: HPACK's table must stay in step
    // with the peer's (RFC 7541 §2.2, RFC 9113 §4.3).
    const decoded = this.#hpackIn.decode(block);
    const stream = this.#streams.get(id);
    if (stream !== undefined) {
      applyVerdict(verdictInState(stream.state, ReceivedKind.HEADERS), id);
      if (this.role === 'client' && !stream.headReceived) return this.#onResponse(stream, decoded.fields, decoded.tooLarge, endStream);
      return this.#onTrailers(stream, decoded.fields, endStream);
    }
    if (this.role === 'client') {
      // h2ws never accepts pushes, so a server's HEADERS belong to a stream the client opened.
      if (id % 2 === 0) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `a server opened stream ${id} (RFC 9113 §8.4)`);
      if (id >= this.#nextStreamId) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${id}, which the client never opened (RFC 9113 §5.1)`);
      applyVerdict(this.#absentVerdict(id, ReceivedKind.HEADERS), id);
      return;
    }
    if (id % 2 === 0) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `a client opened stream ${id}, an even id (RFC 9113 §5.1.1)`);
    if (id <= this.#lastPeerStreamId) {
      // RFC 9113 §5.1.1: new stream ids only go up; an id seen before is a closed stream.
      if (!this.#closedRecently.has(id)) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `stream ${id} is not greater than ${this.#lastPeerStreamId}, the last one opened (RFC 9113 §5.1.1)`);
      applyVerdict(this.#absentVerdict(id, ReceivedKind.HEADERS), id);
      return;
    }
    // A new stream from the client.
    // RFC 9113 §6.8: after our GOAWAY, newer streams are ignored, and so are their later frames
    // (the last stream id stays what the GOAWAY said).
    if (this.#goawaySent !== undefined && id > this.#goawaySent.lastStreamId) {
      this.#closedRecently.remember(id, 'us');
      return;
    }
    this.#lastPeerStreamId = id;
    if (priority !== undefined && priority.dependency === id) {
      throw new H2StreamError(id, H2ErrorCode.PROTOCOL_ERROR, `stream ${id} depends on itself (RFC 9113 §5.3.1)`);
    }
    // RFC 9113 §10.5.1: a field block above SETTINGS_MAX_HEADER_LIST_SIZE is refused.
    if (decoded.tooLarge) {
      this.#refuse(id, H2ErrorCode.ENHANCE_YOUR_CALM);
      return;
    }
    // RFC 9113 §5.1.2: over SETTINGS_MAX_CONCURRENT_STREAMS, REFUSED_STREAM (safe to retry, §8.7),
    // unless a stream whose owner is done with it gives its slot up.
    if (this.#peerStreams >= this.local.maxConcurrentStreams && !this.#reclaimSlot()) {
      this.#refuse(id, H2ErrorCode.REFUSED_STREAM);
      return;
    }
    const checked = checkRequestFields(decoded.fields, { connectProtocol: this.local.enableConnectProtocol });
    if (!checked.ok) throw new H2StreamError(id, H2ErrorCode.PROTOCOL_ERROR, `malformed request: ${checked.reason}`);
    const { head } = checked;
    // RFC 9113 §8.1.1: END_STREAM on the HEADERS with a non-zero content-length is malformed.
    if (endStream && head.contentLength !== undefined && head.contentLength > 0) {
      throw new H2StreamError(id, H2ErrorCode.PROTOCOL_ERROR, `END_STREAM with content-length ${head.contentLength} (RFC 9113 §8.1.1)`);
    }
    const stream_ = new H2Stream(id, this, this.local.initialWindowSize, this.#remote.initialWindowSize, this.#highWater);
    stream_.state = endStream ? StreamState.HALF_CLOSED_REMOTE : StreamState.OPEN;
    stream_.head = head;
    stream_.headReceived = true;
    stream_.expectedLength = head.contentLength;
    // Held until the end of this read: a stream reset in the same read is never announced,
    // so no work (a backend dial) starts for it (CVE-2023-44487).
    stream_.held = true;
    if (endStream) stream_.inEndQueued = false;
    this.#streams.set(id, stream_);
    this.#peerStreams++;
    this.#announce.push(stream_);
  }

  #announceStreams(): void {
    if (this.#announce.length === 0) return;
    const streams = this.#announce;
    this.#announce = [];
    for (const stream of streams) {
      if (stream.closed) continue;
      this.#handler.onStream?.(stream, stream.head as RequestHead, stream.state === StreamState.HALF_CLOSED_REMOTE);
      stream.release();
    }
  }

  /**
   * Ends the oldest stream that yielded its slot with RST_STREAM NO_ERROR (RFC 9113 §8.1: its
   * response is complete). A stream whose END_STREAM still waits for flow-control window
   * cannot be ended yet without cutting its response, so it keeps its slot.
   */
  #reclaimSlot(): boolean {
    for (const stream of this.#yielded) {
      if (stream.endQueued) continue;
      this.sendReset(stream, H2ErrorCode.NO_ERROR);
      return true;
    }
    return false;
  }

  /** Refuses a new stream before any work: RST_STREAM, remembered as reset by us. */
  #refuse(id: number, code: number): void {
    this.#glitch();
    this.#emit(encodeRstStream(id, code));
    this.#closedRecently.remember(id, 'us');
    this.#handler.onReset?.(undefined, code, 'sent');
  }

  #onResponse(stream: H2Stream, fields: string[], tooLarge: boolean, endStream: boolean): void {
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
    if (endStream) this.#remoteEnd(stream);
  }

  #onTrailers(stream: H2Stream, fields: string[], endStream: boolean): void {
    // RFC 9113 §8.1: a second field block is trailers, and ends the stream.
    if (!endStream) throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, 'a second HEADERS without END_STREAM (RFC 9113 §8.1)');
    const checked = checkTrailerFields(fields);
    if (!checked.ok) throw new H2StreamError(stream.id, H2ErrorCode.PROTOCOL_ERROR, `malformed trailers: ${checked.reason}`);
    stream.onTrailers?.(checked.head.headers);
    this.#remoteEnd(stream);
  }

  #onRstStream(frame: RstStreamFrame): void {
    const stream = this.#streams.get(frame.streamId);
    if (stream === undefined) {
      applyVerdict(this.#absentVerdict(frame.streamId, ReceivedKind.RST_STREAM), frame.streamId);
      return;
    }
    this.#handler.onReset?.(stream, frame.errorCode, 'received');
    // CVE-2023-44487 counts streams reset before they were answered: that is the attack's
    // pattern. Resetting an established tunnel frees resources and costs nothing here.
    const unanswered = this.role === 'server' && !stream.headersSent;
    this.#closedRecently.remember(stream.id, 'peer-reset');
    this.#closed_(stream, { code: frame.errorCode, by: 'peer', unprocessed: this.role === 'client' && frame.errorCode === H2ErrorCode.REFUSED_STREAM });
    if (unanswered && !this.#rapidReset.spend()) {
      this.#handler.onDefence?.('rapid-reset');
      throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, 'too many streams reset before they were answered (CVE-2023-44487)');
    }
  }

  #onSettings(frame: SettingsFrame): void {
    if (frame.ack) {
      // RFC 9113 §6.5.3: our SETTINGS are in force.
      if (this.#settingsAcksPending > 0) this.#settingsAcksPending--;
      else this.#glitch();
      return;
    }
    const first = !this.#sawSettings;
    if (!first) this.#glitch(); // each costs an ACK: a flood of them is a glitch flood
    this.#sawSettings = true;
    const remote = this.#remote;
    const applied = applyRemoteSettings(remote, frame.settings, this.role);
    if (applied.headerTableSize !== undefined) this.#hpackOut.setMaxTableSize(Math.min(applied.headerTableSize, 4096));
    const delta = applied.windowDelta;
    if (delta !== 0) {
      // RFC 9113 §6.9.2: the change applies to every open stream's send window.
      for (const stream of this.#streams.values()) {
        stream.sendWindow += delta;
        if (stream.sendWindow > MAX_WINDOW_SIZE) throw new H2ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE takes stream ${stream.id}'s window past 2^31-1 (RFC 9113 §6.9.2)`);
        if (delta > 0 && stream.outBytes + (stream.endQueued ? 1 : 0) > 0) this.#ready.add(stream);
      }
    }
    this.#emit(encodeSettingsAck());
    this.#handler.onRemoteSettings?.(remote, first);
    this.#handler.onStreamSlot?.();
  }

  #onPing(frame: PingFrame): void {
    if (!frame.ack) {
      this.#glitch(0.1); // a PING every few seconds is normal; thousands a second are not
      // RFC 9113 §6.7: answer with the same payload, never answer an ACK.
      this.#emit(encodePing(frame.opaque, true));
      return;
    }
    if (this.#shutdownPingSent && Buffer.from(frame.opaque.buffer, frame.opaque.byteOffset, frame.opaque.byteLength).equals(SHUTDOWN_PING)) {
      this.#shutdownPingSent = false;
      this.finishShutdown();
      return;
    }
    this.#handler.onPingAck?.(frame.opaque);
  }

  #onGoaway(frame: GoawayFrame): void {
    const previous = this.#goawayReceived;
    // RFC 9113 §6.8: the last stream id never goes up.
    const lastStreamId = previous === undefined ? frame.lastStreamId : Math.min(previous.lastStreamId, frame.lastStreamId);
    this.#goawayReceived = { lastStreamId, code: frame.errorCode };
    // Streams we opened above the last id were never processed: safe to retry (§8.7).
    for (const stream of [...this.#streams.values()]) {
      const ours = (stream.id % 2 === 1) === (this.role === 'client');
      if (ours && stream.id > lastStreamId) {
        this.#closedRecently.remember(stream.id, 'us');
        this.#closed_(stream, { code: H2ErrorCode.REFUSED_STREAM, by: 'connection', unprocessed: true });
      }
    }
    this.#handler.onGoaway?.(frame.errorCode, frame.lastStreamId, frame.debugData);
    this.#handler.onStreamSlot?.();
  }

  #onWindowUpdate(frame: WindowUpdateFrame): void {
    if (frame.streamId === 0) {
      this.#sendWindow += frame.increment;
      if (this.#sendWindow > MAX_WINDOW_SIZE) throw new H2ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, 'the connection window went past 2^31-1 (RFC 9113 §6.9.1)');
      for (const stream of this.#streams.values()) if (stream.outBytes > 0) this.#ready.add(stream);
      return;
    }
    const stream = this.#streams.get(frame.streamId);
    if (stream === undefined) {
      applyVerdict(this.#absentVerdict(frame.streamId, ReceivedKind.WINDOW_UPDATE), frame.streamId);
      return;
    }
    stream.sendWindow += frame.increment;
    if (stream.sendWindow > MAX_WINDOW_SIZE) throw new H2StreamError(stream.id, H2ErrorCode.FLOW_CONTROL_ERROR, `stream ${stream.id}'s window went past 2^31-1 (RFC 9113 §6.9.1)`);
    if (stream.outBytes > 0 || stream.endQueued) this.#ready.add(stream);
  }

  // ---------------------------------------------------------------------------------------
  // Errors and defences.

  /** A stream error h2ws detected (RFC 9113 §5.4.2): RST_STREAM; the peer caused it, so it is a glitch. */
  #streamError(id: number, code: number): void {
    const stream = this.#streams.get(id);
    // RFC 9113 §6.4: "RST_STREAM frames MUST NOT be sent for a stream in the idle state", so
    // a stream error on an idle stream (a bad PRIORITY or WINDOW_UPDATE) is a connection error.
    if (stream === undefined && !this.#closedRecently.has(id) && this.#isIdle(id)) {
      throw new H2ConnectionError(code, `a stream error on idle stream ${id} (RFC 9113 §5.1, §6.4)`);
    }
    this.#emit(encodeRstStream(id, code));
    this.#closedRecently.remember(id, 'us');
    if (stream !== undefined) {
      stream.outQueue = [];
      stream.outBytes = 0;
      this.#closed_(stream, { code, by: 'local', unprocessed: false });
    }
    this.#handler.onReset?.(stream, code, 'sent');
    this.#glitch();
  }

  #glitch(weight = 1): void {
    if (this.#glitches.spend(weight)) return;
    this.#handler.onDefence?.('glitches');
    throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, 'too many protocol glitches (resets caused, refused streams, empty frames, control-frame floods)');
  }

  /** RFC 9113 §5.4.1: GOAWAY with the code and the last stream id, then the connection ends. */
  #connectionError(error: H2ConnectionError): void {
    if (this.#closed) return;
    const debug = Buffer.from(error.message.slice(0, 256), 'latin1');
    const lastStreamId = this.#goawaySent === undefined ? this.#lastPeerStreamId : Math.min(this.#goawaySent.lastStreamId, this.#lastPeerStreamId);
    this.#emit(encodeGoaway(lastStreamId, error.h2Code, debug));
    this.#goawaySent = { lastStreamId, code: error.h2Code };
    this.#handler.onGoawaySent?.(error.h2Code, lastStreamId);
    this.#closed = true;
    this.#block = undefined;
    this.#closeAll(error.h2Code);
    this.#handler.onConnectionError?.(error);
  }

  #closeAll(code: number): void {
    this.#announce = [];
    for (const stream of [...this.#streams.values()]) this.#closed_(stream, { code, by: 'connection', unprocessed: false });
    this.#ready.clear();
  }

  // ---------------------------------------------------------------------------------------
  // Commands.

  /** Client: opens a stream with a request head (flat [name, value, …]); check canOpenStream first. */
  request(fields: readonly string[], endStream = false): H2Stream {
    if (!this.canOpenStream) throw new H2ConnectionError(H2ErrorCode.REFUSED_STREAM, 'this connection takes no new streams (GOAWAY, closed, or at SETTINGS_MAX_CONCURRENT_STREAMS)');
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const stream = new H2Stream(id, this, this.local.initialWindowSize, this.#remote.initialWindowSize, this.#highWater);
    this.#streams.set(id, stream);
    this.#localStreams++;
    this.sendHeaders(stream, fields, endStream);
    return stream;
  }

  sendHeaders(stream: H2Stream, fields: readonly string[], endStream: boolean): void {
    if (this.#closed || stream.state === StreamState.CLOSED || stream.localEnded) return;
    if (stream.headersSent && (stream.outBytes > 0 || stream.endQueued)) {
      // Trailers go after the DATA queued before them.
      stream.pendingTrailers = fields;
      stream.endQueued = true;
      this.#ready.add(stream);
      this.#notify();
      return;
    }
    this.#emit(encodeHeaders(stream.id, this.#hpackOut.encode(fields), endStream, this.#remote.maxFrameSize));
    stream.headersSent = true;
    this.#transition(stream, StreamEvent.SEND_HEADERS);
    if (endStream) this.#localEnd(stream);
    this.#notify();
  }

  sendData(stream: H2Stream): void {
    if (this.#closed) return;
    this.#ready.add(stream);
    this.#notify();
  }

  sendReset(stream: H2Stream, code: number): void {
    if (stream.state === StreamState.CLOSED) return;
    // RFC 9113 §8.1: a complete response may be followed by RST_STREAM(NO_ERROR) to stop the
    // request body; the response's queued DATA and END_STREAM go out first.
    if (code === H2ErrorCode.NO_ERROR && stream.endQueued) {
      stream.resetAfterEnd = true;
      return;
    }
    if (!this.#closed) this.#emit(encodeRstStream(stream.id, code));
    stream.outQueue = [];
    stream.outBytes = 0;
    this.#closedRecently.remember(stream.id, 'us');
    this.#handler.onReset?.(stream, code, 'sent');
    this.#closed_(stream, { code, by: 'local', unprocessed: false });
    this.#notify();
  }

  yieldSlot(stream: H2Stream): void {
    const peerInitiated = (stream.id % 2 === 1) === (this.role === 'server');
    if (peerInitiated && this.#streams.has(stream.id)) this.#yielded.add(stream);
  }

  /** Credits `bytes` the owner consumed back to the peer (RFC 9113 §6.9), in batches. */
  credit(stream: H2Stream, bytes: number): void {
    if (bytes <= 0) return;
    stream.unacked += bytes;
    // Batched: one WINDOW_UPDATE per half window consumed, not one per frame.
    if (stream.unacked < this.local.initialWindowSize >> 1) return;
    if (stream.state === StreamState.OPEN || stream.state === StreamState.HALF_CLOSED_LOCAL) {
      this.#emit(encodeWindowUpdate(stream.id, stream.unacked));
      stream.recvWindow += stream.unacked;
      this.#notify();
    }
    stream.unacked = 0;
  }

  #creditConnection(bytes: number): void {
    this.#recvUnacked += bytes;
    if (this.#recvUnacked < this.#recvTarget >> 1) return;
    this.#emit(encodeWindowUpdate(0, this.#recvUnacked));
    this.#recvWindow += this.#recvUnacked;
    this.#recvUnacked = 0;
  }

  /** PING (RFC 9113 §6.7); the answer comes to onPingAck. */
  ping(opaque: Uint8Array = new Uint8Array(8)): void {
    if (this.#closed) return;
    this.#emit(encodePing(opaque, false));
    this.#notify();
  }

  /**
   * Graceful shutdown (RFC 9113 §6.8): GOAWAY with the largest stream id and a PING, then,
   * once the PING comes back (every stream the client sent before it has arrived), GOAWAY
   * with the real last stream id. Open streams finish; new ones are refused.
   */
  shutdown(): void {
    if (this.#closed || this.#goawaySent !== undefined) return;
    if (this.role === 'client') {
      this.#sendGoaway(0, H2ErrorCode.NO_ERROR);
      return;
    }
    this.#sendGoaway(MAX_WINDOW_SIZE, H2ErrorCode.NO_ERROR);
    this.#emit(encodePing(SHUTDOWN_PING, false));
    this.#shutdownPingSent = true;
    this.#notify();
  }

  /** The shutdown's second step: GOAWAY with the last stream id processed (the adapter's timer calls this if the PING never returns). */
  finishShutdown(): void {
    if (this.#closed || this.#goawaySent === undefined || this.#goawaySent.lastStreamId !== MAX_WINDOW_SIZE) return;
    this.#sendGoaway(this.#lastPeerStreamId, H2ErrorCode.NO_ERROR);
  }

  /** GOAWAY with `code` now and the connection error that follows (e.g. ENHANCE_YOUR_CALM). */
  abort(code: number, message: string): void {
    if (this.#closed) return;
    this.#connectionError(new H2ConnectionError(code, message));
    this.#notify();
  }

  /** The adapter's SETTINGS timer ran out (RFC 9113 §6.5.3). */
  settingsTimeout(): void {
    if (this.#settingsAcksPending > 0) this.abort(H2ErrorCode.SETTINGS_TIMEOUT, 'the peer did not acknowledge SETTINGS in time (RFC 9113 §6.5.3)');
  }

  #sendGoaway(lastStreamId: number, code: number): void {
    // RFC 9113 §6.8: "Endpoints MUST NOT increase the value they send in the last stream identifier".
    const last = this.#goawaySent === undefined ? lastStreamId : Math.min(this.#goawaySent.lastStreamId, lastStreamId);
    this.#emit(encodeGoaway(last, code));
    this.#goawaySent = { lastStreamId: last, code };
    this.#handler.onGoawaySent?.(code, last);
    this.#notify();
  }

  // ---------------------------------------------------------------------------------------
  // Output.

  /**
   * Everything to write now: control frames, then DATA as the windows allow, round-robin
   * over the streams one frame at a time. `withData` false sends control frames only (the
   * transport is backed up).
   */
  takeOutput(withData = true): Uint8Array[] | undefined {
    this.#notified = false;
    if (withData && this.#ready.size > 0) this.#pump();
    if (this.#out.length === 0) return undefined;
    const out = this.#out;
    this.#out = [];
    this.#outBytes = 0;
    return out;
  }

  /** Bytes queued in takeOutput's next answer, control frames included. */
  get pendingOutput(): number {
    return this.#outBytes;
  }

  #pump(): void {
    const drained: H2Stream[] = [];
    let progress = true;
    while (progress && this.#ready.size > 0) {
      progress = false;
      for (const stream of this.#ready) {
        if (stream.state === StreamState.CLOSED || stream.state === StreamState.HALF_CLOSED_LOCAL || stream.state === StreamState.IDLE) {
          this.#ready.delete(stream);
          continue;
        }
        if (stream.outBytes === 0) {
          this.#ready.delete(stream);
          if (stream.endQueued) {
            if (stream.pendingTrailers !== undefined) {
              const trailers = stream.pendingTrailers;
              stream.pendingTrailers = undefined;
              this.#emit(encodeHeaders(stream.id, this.#hpackOut.encode(trailers), true, this.#remote.maxFrameSize));
            } else {
              const [header] = encodeData(stream.id, EMPTY, true);
              this.#emit(header);
            }
            this.#localEnd(stream);
          }
          continue;
        }
        const room = Math.min(stream.sendWindow, this.#sendWindow, this.#remote.maxFrameSize);
        if (room <= 0) {
          // Waits for a WINDOW_UPDATE (which puts it back in the set).
          this.#ready.delete(stream);
          continue;
        }
        const chunk = stream.takeQueued(Math.min(room, stream.outBytes));
        stream.sendWindow -= chunk.length;
        this.#sendWindow -= chunk.length;
        const last = stream.outBytes === 0 && stream.endQueued && stream.pendingTrailers === undefined;
        const [header, payload] = encodeData(stream.id, chunk, last);
        this.#emit(header);
        this.#emit(payload);
        progress = true;
        if (last) {
          this.#ready.delete(stream);
          this.#localEnd(stream);
        }
        if (stream.wantDrain && stream.outBytes < stream.highWater) {
          stream.wantDrain = false;
          drained.push(stream);
        }
      }
    }
    for (const stream of drained) if (!stream.closed) stream.onDrain?.();
  }

  #localEnd(stream: H2Stream): void {
    stream.endQueued = false;
    this.#transition(stream, StreamEvent.SEND_END_STREAM);
    if (stream.state === StreamState.CLOSED) this.#closed_(stream, { code: undefined, by: undefined, unprocessed: false });
    else if (stream.resetAfterEnd) this.sendReset(stream, H2ErrorCode.NO_ERROR);
  }

  #transition(stream: H2Stream, event: StreamEventValue): void {
    const next = transition(stream.state, event);
    if (next !== undefined) stream.state = next;
  }

  /** A stream reaches "closed": forget it, free its slot, tell its owner (once). */
  #closed_(stream: H2Stream, close: StreamClose): void {
    if (!this.#streams.delete(stream.id)) return;
    this.#yielded.delete(stream);
    // RFC 9113 §8.1: RST_STREAM(NO_ERROR) after a complete response only asks the client to stop
    // sending; "clients MUST NOT discard responses as a result of receiving such a RST_STREAM".
    const keepInput = close.code === undefined || (close.code === H2ErrorCode.NO_ERROR && close.by === 'peer' && this.role === 'client' && stream.state === StreamState.HALF_CLOSED_REMOTE);
    stream.state = StreamState.CLOSED;
    this.#ready.delete(stream);
    const peerInitiated = (stream.id % 2 === 1) === (this.role === 'server');
    if (peerInitiated) this.#peerStreams--;
    else this.#localStreams--;
    if (!this.#closedRecently.has(stream.id)) this.#closedRecently.remember(stream.id, 'peer');
    if (keepInput && (stream.inQueue !== undefined || stream.inEndQueued)) {
      // A clean close waits until the held-back DATA and END_STREAM are delivered.
      stream.closePending = close;
    } else {
      stream.inQueue = undefined;
      stream.inEndQueued = false;
      stream.closeInfo = close;
      stream.onClose?.(close);
    }
    if (!peerInitiated) this.#handler.onStreamSlot?.();
  }

  #emit(bytes: Uint8Array): void {
    this.#out.push(bytes);
    this.#outBytes += bytes.length;
  }

  #notify(): void {
    if (this.#notified || (this.#out.length === 0 && this.#ready.size === 0)) return;
    this.#notified = true;
    this.#handler.onOutput();
  }
}

const EMPTY = new Uint8Array(0);

/** A monotonic clock in milliseconds (never set back, unlike Date.now). */
function monotonicNow(): number {
  return performance.now();
}
