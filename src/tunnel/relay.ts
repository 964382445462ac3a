import type { Duplex } from 'node:stream';
import { closeFrame, FrameBoundary } from './frame-boundary.ts';
import type { OpenTunnel } from './open-tunnel.ts';

/** One side of a tunnel: the client's stream (h2 stream or HTTP/1.1 socket) or the backend socket. */
export interface TunnelEnd {
  readonly stream: Duplex;
  /**
   * Aborts this side: RST_STREAM to an h2 stream (with `code`, the other side's reset code,
   * when both sides are HTTP/2; CONNECT_ERROR or CANCEL otherwise), a TCP RST to a socket.
   */
  abort(code?: number): void;
  /** Called on 'close': did both directions end with FIN/END_STREAM rather than a reset? */
  closedCleanly(hadError: boolean): boolean;
  /** Called on 'end': was the end a reset (some runtimes end the readable side on RST_STREAM)? */
  wasReset(): boolean;
  /** HTTP/2 only: the RST_STREAM code the stream closed with, if any. */
  resetCode?(): number | undefined;
}

/** How a tunnel ended, for logs and metrics. */
export interface TunnelSummary {
  readonly bytesToBackend: number;
  readonly bytesToClient: number;
  readonly durationMs: number;
  /** Which side aborted first, if any. */
  readonly aborted: 'client' | 'backend' | undefined;
  /** True when h2ws closed it (drain deadline or idle timeout). */
  readonly closedByGateway: boolean;
  /** In-process WebSockets: the close code (RFC 6455 §7.1.5); 1006 when no Close frame came. */
  readonly closeCode?: number;
  /** HTTP/2 clients: the RST_STREAM code, when the stream was reset (either way). */
  readonly resetCode?: number;
}

/** The byte relay for one direction, with backpressure and FIN/END_STREAM forwarding. */
class Direction {
  bytes = 0;
  readonly boundary = new FrameBoundary();
  #stopped = false;
  #corked = false;

  constructor(
    readonly from: TunnelEnd,
    readonly dst: Duplex,
    readonly highWater: number,
    /** Frames toward the backend are masked (RFC 6455 §5.3). */
    readonly towardServer: boolean,
  ) {}

  get src(): Duplex {
    return this.from.stream;
  }

  start(initial: Uint8Array | undefined): void {
    if (initial !== undefined && initial.length > 0) this.#onData(initial);
    // 'on', not 'once': 'end' fires once anyway, and once() costs a wrapper and a bound
    // function per listener for as long as the tunnel lives.
    this.src.on('data', this.#onData);
    this.src.on('end', this.#onEnd);
    this.src.resume(); // an explicitly paused source stays paused when a 'data' listener is added
  }

  #onData = (chunk: Uint8Array): void => {
    if (this.#stopped) return;
    this.bytes += chunk.length;
    this.boundary.push(chunk);
    // Chunks that arrive in one tick (several DATA frames from one read, or a message split
    // into 16 KiB frames) leave in one write: cork now, uncork once the tick is done.
    if (!this.#corked) {
      this.#corked = true;
      this.dst.cork();
      process.nextTick(uncork, this);
    }
    // Backpressure: stop reading the source while the destination holds more than its share.
    // Pausing an h2 stream stops WINDOW_UPDATEs, so the peer's flow-control window closes
    // (RFC 9113 §5.2); pausing a socket stops reading it, so TCP's window closes.
    if (!this.dst.write(chunk) && this.dst.writableLength >= this.highWater) {
      this.src.pause();
      this.dst.once('drain', () => this.src.resume());
    }
  };

  uncork(): void {
    this.#corked = false;
    this.dst.uncork();
  }

  // RFC 9113 §8.5 / RFC 8441 §4: END_STREAM and FIN map onto each other. end() flushes what
  // is queued first, so every byte sent before the close is delivered.
  // A reset must not turn into a FIN: the 'close' handler aborts the other side instead.
  #onEnd = (): void => {
    if (this.#stopped || this.dst.writableEnded || this.from.wasReset()) return;
    this.dst.end();
  };

  /** Stops relaying, injects a Close frame where a frame boundary is known, and half-closes. */
  closeWith(code: number, reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.dst.writable && !this.dst.writableEnded) {
      if (this.boundary.atBoundary) this.dst.write(closeFrame(code, reason, this.towardServer));
      this.dst.end();
    }
    this.src.resume(); // discard what still arrives until the peer's FIN
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
  readonly closed: Promise<TunnelSummary>;

  constructor(
    readonly client: TunnelEnd,
    readonly backend: TunnelEnd,
    options: { maxBufferedBytes: number; toBackend?: Uint8Array; toClient?: Uint8Array },
  ) {
    const half = Math.max(1, Math.floor(options.maxBufferedBytes / 2));
    this.#toBackend = new Direction(client, backend.stream, half, true);
    this.#toClient = new Direction(backend, client.stream, half, false);
    let resolveClosed!: (s: TunnelSummary) => void;
    this.closed = new Promise((resolve) => (resolveClosed = resolve));

    const maybeDone = () => {
      if (!this.#clientClosed || !this.#backendClosed) return;
      clearTimeout(this.#graceTimer);
      resolveClosed({
        bytesToBackend: this.#toBackend.bytes,
        bytesToClient: this.#toClient.bytes,
        durationMs: Date.now() - this.#started,
        aborted: this.#aborted,
        closedByGateway: this.#closedByGateway,
        ...resetCodeOf(this.client),
      });
    };
    // Errors are reported through 'close'; a listener keeps them from being thrown.
    client.stream.on('error', noop);
    backend.stream.on('error', noop);
    client.stream.on('close', (hadError?: boolean) => {
      this.#clientClosed = true;
      // Client RST_STREAM (any code) or a dead connection: reset the backend, never answer
      // the RST_STREAM with one of our own (RFC 9113 §5.4.2).
      if (!client.closedCleanly(hadError === true)) {
        this.#aborted ??= 'client';
        if (!this.#backendClosed) backend.abort(client.resetCode?.());
      }
      maybeDone();
    });
    backend.stream.on('close', (hadError?: boolean) => {
      this.#backendClosed = true;
      // Backend reset or error mid-tunnel: RST_STREAM CONNECT_ERROR (RFC 9113 §8.5).
      if (!backend.closedCleanly(hadError === true)) {
        this.#aborted ??= 'backend';
        if (!this.#clientClosed) client.abort(backend.resetCode?.());
      }
      maybeDone();
    });
    this.#toBackend.start(options.toBackend);
    this.#toClient.start(options.toClient);
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

function noop(): void {}

/** Shared by every Direction, so that an idle tunnel holds no closure for it. */
function uncork(direction: Direction): void {
  direction.uncork();
}
