import { H2ErrorCode } from './error-codes.ts';
import { encodeGoaway, encodeRstStream } from './frame/encoder.ts';
import { HpackDecoder } from './hpack/decoder.ts';
import { HpackEncoder } from './hpack/encoder.ts';
import { RecentlyClosed } from './closed-streams.ts';
import type { ConnectionHandler, ConnectionOptions, Role } from './connection-options.ts';
import { Defences } from './defences.ts';
import type { FieldBlock } from './field-block.ts';
import { H2ConnectionError } from './protocol-error.ts';
import { defaultSettings, type Settings } from './settings.ts';
import type { H2Stream, StreamClose, StreamHost } from './stream.ts';
import { ON_RECEIVE, type ReceivedKindValue, type StreamEventValue, StreamState, transition, type Verdict } from './stream-state.ts';
import { DEFAULT_WINDOW } from './windows.ts';

/** A GOAWAY's last stream id and error code (RFC 9113 §6.8). */
export interface GoawayInfo {
  lastStreamId: number;
  code: number;
}

/**
 * The state of one HTTP/2 connection that its parts share (the nghttp2_session of h2ws): the
 * streams, the windows, the write queue, GOAWAY either way, and the few steps every part takes
 * (queue a frame, close a stream, answer an error). Internal: H2Connection is the public face,
 * and the frame handlers (receive-*.ts, flow-control.ts, shutdown.ts) and the sending side
 * (output.ts) are functions over this object.
 */
export class ConnectionCore {
  readonly role: Role;
  readonly local: Readonly<Settings>;
  readonly remote: Settings = defaultSettings();
  readonly handler: ConnectionHandler;
  /** What the streams call back into (the H2Connection). */
  readonly host: StreamHost;
  readonly hpackIn: HpackDecoder;
  readonly hpackOut = new HpackEncoder();
  readonly streams = new Map<number, H2Stream>();
  readonly closedRecently = new RecentlyClosed();
  /** Streams with DATA, trailers or END_STREAM to send, in round-robin order (output.ts). */
  readonly ready = new Set<H2Stream>();
  /** Peer streams whose owner gave their slot up (H2Stream.yieldSlot), oldest first. */
  readonly yielded = new Set<H2Stream>();
  readonly highWater: number;
  readonly defences: Defences;

  /** Frames queued for takeOutput, and their size. */
  out: Uint8Array[] = [];
  outBytes = 0;
  /** onOutput was called and takeOutput has not run since. */
  notified = false;
  sawSettings = false;
  settingsAcksPending = 0;
  /** A field block waiting for its CONTINUATION frames (RFC 9113 §6.10). */
  block: FieldBlock | undefined = undefined;
  /** Highest stream id the peer opened (server) — the last stream id of our GOAWAY. */
  lastPeerStreamId = 0;
  nextStreamId: number;
  peerStreams = 0;
  localStreams = 0;
  /** Connection-level windows (RFC 9113 §6.9, flow-control.ts). */
  sendWindow = DEFAULT_WINDOW;
  recvWindow = DEFAULT_WINDOW;
  recvTarget = DEFAULT_WINDOW;
  recvUnacked = 0;
  goawaySent: GoawayInfo | undefined = undefined;
  goawayReceived: GoawayInfo | undefined = undefined;
  shutdownPingSent = false;
  closed = false;
  /** New peer streams to hand to the owner at the end of the read (receive-headers.ts). */
  announce: H2Stream[] = [];

  constructor(options: ConnectionOptions, handler: ConnectionHandler, host: StreamHost) {
    this.role = options.role;
    this.handler = handler;
    this.host = host;
    this.local = Object.freeze({ ...defaultSettings(), enablePush: false, ...options.settings });
    this.highWater = options.streamHighWater ?? 65_536;
    this.defences = new Defences(options, handler);
    this.hpackIn = new HpackDecoder({ maxTableSize: this.local.headerTableSize, maxHeaderListSize: this.local.maxHeaderListSize });
    this.nextStreamId = this.role === 'client' ? 1 : 2;
  }

  // ---------------------------------------------------------------------------------------
  // The write queue.

  emit(bytes: Uint8Array): void {
    this.out.push(bytes);
    this.outBytes += bytes.length;
  }

  notify(): void {
    if (this.notified || (this.out.length === 0 && this.ready.size === 0)) return;
    this.notified = true;
    this.handler.onOutput();
  }

  // ---------------------------------------------------------------------------------------
  // Stream states (RFC 9113 §5.1).

  /** Did the peer open `id` (odd ids are the client's, RFC 9113 §5.1.1)? */
  peerInitiated(id: number): boolean {
    return (id % 2 === 1) === (this.role === 'server');
  }

  /** Has `id` never been opened (RFC 9113 §5.1 idle)? */
  isIdle(id: number): boolean {
    return this.peerInitiated(id) ? id > this.lastPeerStreamId : id >= this.nextStreamId;
  }

  /** Which row of the state table a stream id is in, for a stream not in the open map. */
  absentVerdict(id: number, kind: ReceivedKindValue): Verdict {
    const row = this.closedRecently.row(id);
    if (row !== undefined) return ON_RECEIVE[row][kind]!;
    // Never opened, or closed long ago (or skipped, which closes it implicitly, §5.1.1).
    return ON_RECEIVE[this.isIdle(id) ? 'idle' : 'closed (by the peer)'][kind]!;
  }

  transition(stream: H2Stream, event: StreamEventValue): void {
    const next = transition(stream.state, event);
    if (next !== undefined) stream.state = next;
  }

  /** A stream reaches "closed": forget it, free its slot, tell its owner (once). */
  closeStream(stream: H2Stream, close: StreamClose): void {
    if (!this.streams.delete(stream.id)) return;
    this.yielded.delete(stream);
    // RFC 9113 §8.1: RST_STREAM(NO_ERROR) after a complete response only asks the client to stop
    // sending; "clients MUST NOT discard responses as a result of receiving such a RST_STREAM".
    const keepInput = close.code === undefined || (close.code === H2ErrorCode.NO_ERROR && close.by === 'peer' && this.role === 'client' && stream.state === StreamState.HALF_CLOSED_REMOTE);
    stream.state = StreamState.CLOSED;
    this.ready.delete(stream);
    const peerInitiated = this.peerInitiated(stream.id);
    if (peerInitiated) this.peerStreams--;
    else this.localStreams--;
    if (!this.closedRecently.has(stream.id)) this.closedRecently.remember(stream.id, 'peer');
    if (keepInput && (stream.inQueue !== undefined || stream.inEndQueued)) {
      // A clean close waits until the held-back DATA and END_STREAM are delivered.
      stream.closePending = close;
    } else {
      stream.inQueue = undefined;
      stream.inEndQueued = false;
      stream.closeInfo = close;
      stream.onClose?.(close);
    }
    if (!peerInitiated) this.handler.onStreamSlot?.();
  }

  /** RST_STREAM from h2ws on `stream` (H2Connection.sendReset). */
  resetStream(stream: H2Stream, code: number): void {
    if (stream.state === StreamState.CLOSED) return;
    // RFC 9113 §8.1: a complete response may be followed by RST_STREAM(NO_ERROR) to stop the
    // request body; the response's queued DATA and END_STREAM go out first.
    if (code === H2ErrorCode.NO_ERROR && stream.endQueued) {
      stream.resetAfterEnd = true;
      return;
    }
    if (!this.closed) this.emit(encodeRstStream(stream.id, code));
    stream.outQueue = [];
    stream.outBytes = 0;
    this.closedRecently.remember(stream.id, 'us');
    this.handler.onReset?.(stream, code, 'sent');
    this.closeStream(stream, { code, by: 'local', unprocessed: false });
    this.notify();
  }

  closeAll(code: number): void {
    this.announce = [];
    for (const stream of [...this.streams.values()]) this.closeStream(stream, { code, by: 'connection', unprocessed: false });
    this.ready.clear();
  }

  // ---------------------------------------------------------------------------------------
  // Errors (RFC 9113 §5.4).

  /** A stream error h2ws detected (RFC 9113 §5.4.2): RST_STREAM; the peer caused it, so it is a glitch. */
  streamError(id: number, code: number): void {
    const stream = this.streams.get(id);
    // RFC 9113 §6.4: "RST_STREAM frames MUST NOT be sent for a stream in the idle state", so
    // a stream error on an idle stream (a bad PRIORITY or WINDOW_UPDATE) is a connection error.
    if (stream === undefined && !this.closedRecently.has(id) && this.isIdle(id)) {
      throw new H2ConnectionError(code, `a stream error on idle stream ${id} (RFC 9113 §5.1, §6.4)`);
    }
    this.emit(encodeRstStream(id, code));
    this.closedRecently.remember(id, 'us');
    if (stream !== undefined) {
      stream.outQueue = [];
      stream.outBytes = 0;
      this.closeStream(stream, { code, by: 'local', unprocessed: false });
    }
    this.handler.onReset?.(stream, code, 'sent');
    this.defences.glitch();
  }

  /** RFC 9113 §5.4.1: GOAWAY with the code and the last stream id, then the connection ends. */
  connectionError(error: H2ConnectionError): void {
    if (this.closed) return;
    const debug = Buffer.from(error.message.slice(0, 256), 'latin1');
    const lastStreamId = this.goawaySent === undefined ? this.lastPeerStreamId : Math.min(this.goawaySent.lastStreamId, this.lastPeerStreamId);
    this.emit(encodeGoaway(lastStreamId, error.h2Code, debug));
    this.goawaySent = { lastStreamId, code: error.h2Code };
    this.handler.onGoawaySent?.(error.h2Code, lastStreamId);
    this.closed = true;
    this.block = undefined;
    this.closeAll(error.h2Code);
    this.handler.onConnectionError?.(error);
  }
}
