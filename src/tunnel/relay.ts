import { H2ErrorCode } from '../h2/error-codes.ts';
import { CloseGrace, closingHandshakeDone } from './close-grace.ts';
import { closeFrame, FrameBoundary } from './frame-boundary.ts';
import type { OpenTunnel } from './open-tunnel.ts';

/** What a tunnel end reports to the relay. */
export interface EndEvents {
  data(chunk: Uint8Array): void;
  /** This side's clean end of sending (END_STREAM or FIN). */
  end(): void;
  /** This side is closed; `clean` when both directions ended without a reset or an error. */
  close(clean: boolean): void;
}

/**
 * One side of a tunnel (the client's h2 stream or HTTP/1.1 socket, or the backend), driven
 * by callbacks: no Duplex is needed, so an h2 stream stays a small object.
 */
export interface TunnelEnd {
  /** Starts delivering this side's bytes and events (once). */
  start(events: EndEvents): void;
  pause(): void;
  resume(): void;
  /** Queues bytes toward this side; false when its buffer is above its high-water mark. */
  write(chunk: Uint8Array): boolean;
  /** Calls `callback` once when the buffer has drained after a write returned false. */
  onceDrain(callback: () => void): void;
  /** Bytes queued toward this side. */
  readonly writableLength: number;
  /** Can bytes still be written (not ended, not closed)? */
  readonly canWrite: boolean;
  /** FIN or END_STREAM after what is queued (RFC 9113 §8.5). */
  end(): void;
  /** Gathers the writes of one tick into one (sockets); a no-op where the transport does it. */
  cork(): void;
  uncork(): void;
  /**
   * Aborts this side: RST_STREAM to an h2 stream (with `code`, the other side's reset code,
   * when both sides are HTTP/2; CONNECT_ERROR or CANCEL otherwise), a TCP RST to a socket.
   */
  abort(code?: number): void;
  /** HTTP/2 only: the RST_STREAM code the stream closed with, if any. */
  resetCode?(): number | undefined;
  /**
   * HTTP/2 clients only: ends a stream whose WebSocket closing handshake is complete and
   * whose END_STREAM h2ws has sent, although the peer sent none: RST_STREAM NO_ERROR
   * (RFC 9113 §8.1). The end then closes as clean.
   */
  release?(): void;
  /** HTTP/2 clients only: until then, a new stream that needs this one's slot releases it at once. */
  yieldSlot?(): void;
}

/** How a tunnel ended, for logs and metrics. */
export interface TunnelSummary {
  /** Bytes carried from the client to the backend (or to the in-process handler). */
  readonly bytesToBackend: number;
  /** Bytes carried to the client. */
  readonly bytesToClient: number;
  /** How long the tunnel stayed open, in whole milliseconds. */
  readonly durationMs: number;
  /** Which side aborted first, if any. */
  readonly aborted: 'client' | 'backend' | undefined;
  /** True when h2ws closed it (drain deadline or idle timeout). */
  readonly closedByGateway: boolean;
  /** In-process WebSockets: the close code (RFC 6455 §7.1.5); 1006 when no Close frame came. */
  readonly closeCode?: number;
  /** HTTP/2 clients: the RST_STREAM code, when the stream was reset (either way). */
  readonly resetCode?: number;
  /**
   * HTTP/2 clients: the client sent no END_STREAM after the WebSocket closing handshake, so
   * h2ws ended its stream with RST_STREAM NO_ERROR after `timeouts.closeGraceMs` (a clean end).
   */
  readonly resetAfterClose?: boolean;
}

/** The byte relay for one direction, with backpressure and FIN/END_STREAM forwarding. */
class Direction {
  bytes = 0;
  readonly boundary = new FrameBoundary();
  #stopped = false;
  #corked = false;

  constructor(
    readonly from: TunnelEnd,
    readonly to: TunnelEnd,
    readonly highWater: number,
    /** Frames toward the backend are masked (RFC 6455 §5.3). */
    readonly towardServer: boolean,
  ) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    // Still tracked once stopped: the peer's answer to an injected Close completes the handshake.
    this.boundary.push(chunk);
    if (this.#stopped) return;
    this.bytes += chunk.length;
    // Chunks that arrive in one tick (several DATA frames from one read, or a message split
    // into 16 KiB frames) leave in one write: cork now, uncork once the tick is done.
    if (!this.#corked) {
      this.#corked = true;
      this.to.cork();
      process.nextTick(uncork, this);
    }
    // Backpressure: stop reading the source while the destination holds more than its share.
    // Pausing an h2 stream stops its WINDOW_UPDATEs, so the peer's flow-control window closes
    // (RFC 9113 §5.2); pausing a socket stops reading it, so TCP's window closes.
    if (!this.to.write(chunk) && this.to.writableLength >= this.highWater) {
      this.from.pause();
      this.to.onceDrain(() => this.from.resume());
    }
  }

  uncork(): void {
    this.#corked = false;
    this.to.uncork();
  }

  // RFC 9113 §8.5 / RFC 8441 §4: END_STREAM and FIN map onto each other. end() flushes what
  // is queued first, so every byte sent before the close is delivered. A reset never comes
  // here: the close handler aborts the other side instead.
  finish(): void {
    if (this.#stopped || !this.to.canWrite) return;
    this.to.end();
  }

  /**
   * Stops relaying and, where a frame boundary is known, sends a Close frame and half-closes
   * (an orderly WebSocket close). In the middle of a frame there is no orderly close: no
   * END_STREAM or FIN, which would claim one; the tunnel's grace timer resets this side.
   */
  closeWith(code: number, reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.to.canWrite && this.boundary.atBoundary) {
      this.to.write(closeFrame(code, reason, this.towardServer));
      this.boundary.closeSeen = true;
      this.to.end();
    }
    this.from.resume(); // discard what still arrives until the peer's FIN
  }
}

/**
 * Relays bytes between a client and a backend until both are closed, mapping half-close and
 * abort across (design table: END_STREAM ↔ FIN, RST_STREAM ↔ TCP RST).
 */
export class Tunnel implements OpenTunnel {
  readonly #toBackend: Direction;
  readonly #toClient: Direction;
  readonly #started = Date.now();
  #clientClosed = false;
  #backendClosed = false;
  #aborted: 'client' | 'backend' | undefined;
  #closedByGateway = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** How long a closed WebSocket waits for the client's END_STREAM; undefined: for ever. */
  readonly #closeGraceMs: number | undefined;
  #closeGrace: CloseGrace | undefined;
  #resolveClosed!: (s: TunnelSummary) => void;
  readonly closed: Promise<TunnelSummary>;

  constructor(
    readonly client: TunnelEnd,
    readonly backend: TunnelEnd,
    options: { maxBufferedBytes: number; toBackend?: Uint8Array; toClient?: Uint8Array; closeGraceMs?: number },
  ) {
    const half = Math.max(1, Math.floor(options.maxBufferedBytes / 2));
    const toBackend = (this.#toBackend = new Direction(client, backend, half, true));
    const toClient = (this.#toClient = new Direction(backend, client, half, false));
    this.#closeGraceMs = client.release === undefined ? undefined : options.closeGraceMs;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    if (options.toBackend !== undefined) toBackend.push(options.toBackend);
    if (options.toClient !== undefined) toClient.push(options.toClient);
    client.start({
      data: (chunk) => {
        toBackend.push(chunk);
        if (toBackend.boundary.closeSeen) this.#closing();
      },
      end: () => toBackend.finish(),
      close: (clean) => {
        this.#clientClosed = true;
        this.#closeGrace?.cancel();
        // Client RST_STREAM (any code) or a dead connection: reset the backend, never answer
        // the RST_STREAM with one of our own (RFC 9113 §5.4.2).
        if (!clean) {
          this.#aborted ??= 'client';
          if (!this.#backendClosed) backend.abort(client.resetCode?.());
        } else {
          // Released after the closing handshake (no END_STREAM came): FIN to the backend.
          toBackend.finish();
        }
        this.#maybeDone();
      },
    });
    backend.start({
      data: (chunk) => toClient.push(chunk),
      end: () => {
        toClient.finish();
        this.#closing();
      },
      close: (clean) => {
        this.#backendClosed = true;
        // Backend reset or error mid-tunnel: RST_STREAM CONNECT_ERROR (RFC 9113 §8.5).
        if (!clean) {
          this.#aborted ??= 'backend';
          if (!this.#clientClosed) client.abort(backend.resetCode?.());
        }
        this.#maybeDone();
      },
    });
  }

  /**
   * Starts the close grace (close-grace.ts) once the closing handshake has completed both
   * ways and h2ws has ended the client's stream; the client's END_STREAM cancels it.
   */
  #closing(): void {
    if (this.#closeGraceMs === undefined || this.#closeGrace !== undefined || this.#clientClosed) return;
    if (!closingHandshakeDone(this.#toBackend.boundary, this.#toClient.boundary, !this.client.canWrite)) return;
    this.#closeGrace = new CloseGrace(this.#closeGraceMs, () => this.client.release!());
    this.client.yieldSlot?.();
  }

  #maybeDone(): void {
    if (!this.#clientClosed || !this.#backendClosed) return;
    clearTimeout(this.#graceTimer);
    // Released by the grace, or earlier for a new stream's slot: h2ws's only NO_ERROR resets.
    const resetAfterClose = this.#closeGrace !== undefined && this.client.resetCode?.() === H2ErrorCode.NO_ERROR;
    this.#resolveClosed({
      bytesToBackend: this.#toBackend.bytes,
      bytesToClient: this.#toClient.bytes,
      durationMs: Date.now() - this.#started,
      aborted: this.#aborted,
      closedByGateway: this.#closedByGateway,
      ...resetCodeOf(this.client),
      ...(resetAfterClose && { resetAfterClose }),
    });
  }

  get bytesToBackend(): number {
    return this.#toBackend.bytes;
  }

  get bytesToClient(): number {
    return this.#toClient.bytes;
  }

  /**
   * Closes the tunnel from the middle: a Close frame (RFC 6455 §7.4.1, e.g. 1001 "going
   * away") to each side where the frame boundary is known, then FIN/END_STREAM both ways.
   * Whatever is still open after `graceMs` is aborted.
   */
  shutdown(code: number, reason: string, graceMs: number): void {
    if (this.#closedByGateway) return;
    this.#closedByGateway = true;
    this.#toClient.closeWith(code, reason);
    this.#toBackend.closeWith(code, reason);
    this.#closing();
    this.#graceTimer = setTimeout(() => {
      if (!this.#clientClosed) this.client.abort();
      if (!this.#backendClosed) this.backend.abort();
    }, graceMs);
  }
}

function resetCodeOf(end: TunnelEnd): { resetCode?: number } {
  const code = end.resetCode?.();
  return code === undefined || code === 0 ? {} : { resetCode: code };
}

/** Shared by every Direction, so that an idle tunnel holds no closure for it. */
function uncork(direction: Direction): void {
  direction.uncork();
}
