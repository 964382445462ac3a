import { ConnectionCore, type GoawayInfo } from './connection-core.ts';
import type { ConnectionHandler, ConnectionOptions, Role } from './connection-options.ts';
import { H2ErrorCode } from './error-codes.ts';
import { creditStream, onWindowUpdate, openConnectionWindow } from './flow-control.ts';
import { FrameDecoder } from './frame/decoder.ts';
import { encodePing, encodeSettings } from './frame/encoder.ts';
import { type Frame, FrameType, MAX_WINDOW_SIZE, type SettingsFrame } from './frame/types.ts';
import { sendHeaders, takeOutput } from './output.ts';
import { H2ConnectionError, H2StreamError } from './protocol-error.ts';
import { onPing, onRstStream, onSettings } from './receive-control.ts';
import { onData } from './receive-data.ts';
import { announceStreams, onContinuation, onHeaders } from './receive-headers.ts';
import { type Settings, settingsPairs } from './settings.ts';
import { finishShutdown, onGoaway, shutdown, shutdownPending } from './shutdown.ts';
import { H2Stream, type StreamHost } from './stream.ts';

export { type ConnectionHandler, type ConnectionOptions, DEFENCES, type Role } from './connection-options.ts';

/** RFC 9113 §3.4: what a client sends first. */
export const CONNECTION_PREFACE = new Uint8Array([
  0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a,
]);

/**
 * One HTTP/2 connection, sans-IO (RFC 9113): bytes go in through receive(), frames come out
 * through takeOutput(); the owner is told what happened through a handler. No sockets, no
 * timers: the adapter (socket.ts) binds it to node:net or node:tls and runs the timers
 * (SETTINGS ACK timeout, PING liveness, the shutdown's second step).
 *
 * The state its parts share is a ConnectionCore (connection-core.ts); each frame type's
 * handling is in receive-data.ts, receive-headers.ts, receive-control.ts, flow-control.ts and
 * shutdown.ts, the sending side in output.ts, the defences' budgets in defences.ts.
 */
export class H2Connection implements StreamHost {
  readonly role: Role;
  readonly local: Readonly<Settings>;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly #c: ConnectionCore;
  readonly #decoder: FrameDecoder;
  #prefaceLeft: number;

  constructor(options: ConnectionOptions, handler: ConnectionHandler) {
    const c = (this.#c = new ConnectionCore(options, handler, this));
    this.role = c.role;
    this.local = c.local;
    this.remoteAddress = options.remoteAddress;
    this.remotePort = options.remotePort;
    this.#decoder = new FrameDecoder(Math.max(this.local.maxFrameSize, 16_384));
    this.#prefaceLeft = this.role === 'server' ? CONNECTION_PREFACE.length : 0;
    // RFC 9113 §3.4: the connection preface: the client's magic, then SETTINGS from both.
    if (this.role === 'client') c.emit(CONNECTION_PREFACE);
    c.emit(encodeSettings(settingsPairs(this.local)));
    c.settingsAcksPending++;
    openConnectionWindow(c, options.connectionWindow);
  }

  // ---------------------------------------------------------------------------------------
  // State for owners.

  get remoteSettings(): Readonly<Settings> {
    return this.#c.remote;
  }

  get closed(): boolean {
    return this.#c.closed;
  }

  /** Streams open or half-closed, either side's. */
  get activeStreams(): number {
    return this.#c.streams.size;
  }

  get lastPeerStreamId(): number {
    return this.#c.lastPeerStreamId;
  }

  get goawaySent(): Readonly<GoawayInfo> | undefined {
    return this.#c.goawaySent;
  }

  get goawayReceived(): Readonly<GoawayInfo> | undefined {
    return this.#c.goawayReceived;
  }

  /** Our SETTINGS went unacknowledged so far (the adapter's SETTINGS_TIMEOUT, §6.5.3). */
  get settingsAckPending(): boolean {
    return this.#c.settingsAcksPending > 0;
  }

  /** The peer's preface SETTINGS have arrived. */
  get ready(): boolean {
    return this.#c.sawSettings;
  }

  /** Client: may a new stream be opened now (§5.1.2, §6.8)? */
  get canOpenStream(): boolean {
    const c = this.#c;
    return !c.closed && c.sawSettings && c.goawayReceived === undefined && c.goawaySent === undefined && c.localStreams < c.remote.maxConcurrentStreams && c.nextStreamId <= MAX_WINDOW_SIZE;
  }

  /** Nothing left to do: a GOAWAY went either way and no stream is open (or a connection error). */
  get finished(): boolean {
    const c = this.#c;
    return c.closed || ((c.goawaySent !== undefined || c.goawayReceived !== undefined) && c.streams.size === 0 && !shutdownPending(c));
  }

  // ---------------------------------------------------------------------------------------
  // Input.

  /** Feeds bytes read from the transport. */
  receive(chunk: Uint8Array): void {
    const c = this.#c;
    if (c.closed) return;
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
          c.streamError(err.streamId, err.h2Code);
        }
        if (c.closed) break;
      }
    } catch (err) {
      if (!(err instanceof H2ConnectionError)) throw err;
      c.connectionError(err);
    }
    announceStreams(c);
    c.notify();
  }

  /** The transport closed (or failed): every stream still open ends as reset by the connection. */
  transportClosed(): void {
    const c = this.#c;
    if (c.closed) return;
    c.closed = true;
    c.closeAll(H2ErrorCode.CANCEL);
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
    const c = this.#c;
    // RFC 9113 §6.10: a field block is contiguous; anything else in between is a connection error.
    if (c.block !== undefined && frame.type !== FrameType.CONTINUATION) {
      throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'a field block was interrupted by another frame (RFC 9113 §6.10)');
    }
    // RFC 9113 §3.4: the peer's preface starts with SETTINGS.
    if (!c.sawSettings && (frame.type !== FrameType.SETTINGS || (frame as SettingsFrame).ack)) {
      throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'the connection preface must start with a SETTINGS frame (RFC 9113 §3.4)');
    }
    if ('unknown' in frame) return; // RFC 9113 §5.5: unknown frame types are ignored
    switch (frame.type) {
      case FrameType.DATA:
        return onData(c, frame);
      case FrameType.HEADERS:
        return onHeaders(c, frame);
      case FrameType.PRIORITY:
        // RFC 9113 §5.3.2: priority signals are ignored (the decoder checked their shape).
        return;
      case FrameType.RST_STREAM:
        return onRstStream(c, frame);
      case FrameType.SETTINGS:
        return onSettings(c, frame);
      case FrameType.PUSH_PROMISE:
        // RFC 9113 §6.6, §8.4: h2ws says SETTINGS_ENABLE_PUSH = 0, and clients never push.
        throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE although push is disabled (RFC 9113 §6.6)');
      case FrameType.PING:
        return onPing(c, frame);
      case FrameType.GOAWAY:
        return onGoaway(c, frame);
      case FrameType.WINDOW_UPDATE:
        return onWindowUpdate(c, frame);
      case FrameType.CONTINUATION:
        return onContinuation(c, frame);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Commands.

  /** Client: opens a stream with a request head (flat [name, value, …]); check canOpenStream first. */
  request(fields: readonly string[], endStream = false): H2Stream {
    if (!this.canOpenStream) throw new H2ConnectionError(H2ErrorCode.REFUSED_STREAM, 'this connection takes no new streams (GOAWAY, closed, or at SETTINGS_MAX_CONCURRENT_STREAMS)');
    const c = this.#c;
    const id = c.nextStreamId;
    c.nextStreamId += 2;
    const stream = new H2Stream(id, this, this.local.initialWindowSize, c.remote.initialWindowSize, c.highWater);
    c.streams.set(id, stream);
    c.localStreams++;
    sendHeaders(c, stream, fields, endStream);
    return stream;
  }

  sendHeaders(stream: H2Stream, fields: readonly string[], endStream: boolean): void {
    sendHeaders(this.#c, stream, fields, endStream);
  }

  sendData(stream: H2Stream): void {
    const c = this.#c;
    if (c.closed) return;
    c.ready.add(stream);
    c.notify();
  }

  sendReset(stream: H2Stream, code: number): void {
    this.#c.resetStream(stream, code);
  }

  yieldSlot(stream: H2Stream): void {
    const c = this.#c;
    if (c.peerInitiated(stream.id) && c.streams.has(stream.id)) c.yielded.add(stream);
  }

  /** Credits `bytes` the owner consumed back to the peer (RFC 9113 §6.9), in batches. */
  credit(stream: H2Stream, bytes: number): void {
    creditStream(this.#c, stream, bytes);
  }

  /** PING (RFC 9113 §6.7); the answer comes to onPingAck. */
  ping(opaque: Uint8Array = new Uint8Array(8)): void {
    const c = this.#c;
    if (c.closed) return;
    c.emit(encodePing(opaque, false));
    c.notify();
  }

  /** Graceful shutdown in two steps (RFC 9113 §6.8; shutdown.ts). Open streams finish; new ones are refused. */
  shutdown(): void {
    shutdown(this.#c);
  }

  /** The shutdown's second step: GOAWAY with the last stream id processed (the adapter's timer calls this if the PING never returns). */
  finishShutdown(): void {
    finishShutdown(this.#c);
  }

  /** GOAWAY with `code` now and the connection error that follows (e.g. ENHANCE_YOUR_CALM). */
  abort(code: number, message: string): void {
    const c = this.#c;
    if (c.closed) return;
    c.connectionError(new H2ConnectionError(code, message));
    c.notify();
  }

  /** The adapter's SETTINGS timer ran out (RFC 9113 §6.5.3). */
  settingsTimeout(): void {
    if (this.#c.settingsAcksPending > 0) this.abort(H2ErrorCode.SETTINGS_TIMEOUT, 'the peer did not acknowledge SETTINGS in time (RFC 9113 §6.5.3)');
  }

  // ---------------------------------------------------------------------------------------
  // Output (output.ts).

  /**
   * Everything to write now: control frames, then DATA as the windows allow, round-robin
   * over the streams one frame at a time. `withData` false sends control frames only (the
   * transport is backed up).
   */
  takeOutput(withData = true): Uint8Array[] | undefined {
    return takeOutput(this.#c, withData);
  }

  /** Bytes queued in takeOutput's next answer, control frames included. */
  get pendingOutput(): number {
    return this.#c.outBytes;
  }
}
