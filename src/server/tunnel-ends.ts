import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { H2ErrorCode } from '../h2/error-codes.ts';
import type { H2Stream, StreamClose } from '../h2/stream.ts';
import { resetSocket } from '../runtime/tcp.ts';
import type { EndEvents, TunnelEnd } from '../tunnel/relay.ts';

// Classes rather than object literals of closures: an idle tunnel holds two ends for its
// whole life, and prototype methods cost nothing per tunnel.

/**
 * An h2ws HTTP/2 stream (a client's extended CONNECT, or an RFC 8441 backend's) as a tunnel
 * end. It is driven by the stream's callbacks directly: no Duplex in between.
 */
export class H2StreamEnd implements TunnelEnd {
  constructor(
    readonly stream: H2Stream,
    /** The code an abort sends when the other side gave none. */
    readonly defaultAbortCode: number,
  ) {}

  start(events: EndEvents): void {
    const { stream } = this;
    stream.onData = events.data;
    stream.onEnd = events.end;
    stream.onClose = (close) => events.close(closedCleanly(close));
    stream.resume();
    // Closed before the relay started (a reset during the handshake): report it now.
    if (stream.closed && stream.closeInfo !== undefined) {
      const clean = closedCleanly(stream.closeInfo);
      queueMicrotask(() => events.close(clean));
    }
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  write(chunk: Uint8Array): boolean {
    return this.stream.write(chunk);
  }

  onceDrain(callback: () => void): void {
    this.stream.onDrain = () => {
      this.stream.onDrain = undefined;
      callback();
    };
  }

  get writableLength(): number {
    return this.stream.bufferedAmount;
  }

  get canWrite(): boolean {
    return !this.stream.localEnded && !this.stream.closed;
  }

  end(): void {
    this.stream.end();
  }

  // The session gathers each tick's frames into one write already.
  cork(): void {}
  uncork(): void {}

  // A socket backend's reset becomes CONNECT_ERROR (RFC 9113 §8.5); an RFC 8441 backend's
  // RST_STREAM code is passed on as it came. A bare RST_STREAM: never END_STREAM first.
  abort(code?: number): void {
    this.stream.reset(code === undefined || code === H2ErrorCode.NO_ERROR ? this.defaultAbortCode : code);
  }

  resetCode(): number | undefined {
    return this.stream.closeInfo?.code;
  }

  // RFC 9113 §8.1: after a complete response, RST_STREAM NO_ERROR ends the stream without
  // claiming an error (close-grace.ts); queued DATA and END_STREAM go out before it.
  release(): void {
    this.stream.reset(H2ErrorCode.NO_ERROR);
  }

  yieldSlot(): void {
    this.stream.yieldSlot();
  }
}

/**
 * Both END_STREAMs, or h2ws's own RST_STREAM NO_ERROR (only a release sends one on a tunnel,
 * from `release` or for a yielded slot: `abort` never does).
 */
function closedCleanly(close: StreamClose): boolean {
  return close.code === undefined || (close.code === H2ErrorCode.NO_ERROR && close.by === 'local');
}

/** A Duplex (a TCP socket, or a stream of another HTTP/2 implementation) as a tunnel end. */
export abstract class DuplexEnd<S extends Duplex = Duplex> implements TunnelEnd {
  constructor(readonly stream: S) {}

  start(events: EndEvents): void {
    const { stream } = this;
    // Errors are reported through 'close'; a listener keeps them from being thrown.
    stream.on('error', noop);
    stream.on('data', events.data);
    stream.on('end', events.end);
    stream.on('close', (hadError?: boolean) => events.close(this.closedCleanly(hadError === true)));
    stream.resume(); // an explicitly paused source stays paused when a 'data' listener is added
    if (stream.destroyed && stream.closed) queueMicrotask(() => events.close(this.closedCleanly(false)));
  }

  /** Did both directions end with FIN/END_STREAM rather than a reset? */
  abstract closedCleanly(hadError: boolean): boolean;
  abstract abort(code?: number): void;

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  write(chunk: Uint8Array): boolean {
    return this.stream.write(chunk);
  }

  onceDrain(callback: () => void): void {
    this.stream.once('drain', callback);
  }

  get writableLength(): number {
    return this.stream.writableLength;
  }

  get canWrite(): boolean {
    return this.stream.writable && !this.stream.writableEnded;
  }

  end(): void {
    this.stream.end();
  }

  cork(): void {
    this.stream.cork();
  }

  uncork(): void {
    this.stream.uncork();
  }
}

/** A TCP socket (backend, or an HTTP/1.1 client) as a tunnel end. Aborting it sends a TCP RST. */
class SocketEnd extends DuplexEnd<net.Socket> {
  /**
   * A peer's reset can surface as a plain end of input: when its RST arrives right behind data
   * the socket is still reading, the kernel may answer the next read with EOF rather than
   * ECONNRESET (seen on Linux with Node). Relaying that as END_STREAM would tell the client
   * the backend closed cleanly. So an 'end' is confirmed first with an
   * empty write: on a connection the peer half-closed (CLOSE_WAIT) it succeeds; on one it
   * reset the kernel refuses it (ECONNRESET or EPIPE), the socket closes with an error, and
   * the relay sends RST_STREAM CONNECT_ERROR instead. After our own FIN there is nothing to
   * probe with, and the end is taken as it came.
   */
  override start(events: EndEvents): void {
    const socket = this.stream;
    super.start({
      data: events.data,
      close: events.close,
      end: () => {
        if (socket.destroyed || socket.writableEnded || !socket.writable) {
          events.end();
          return;
        }
        socket.write(EMPTY, (err) => {
          if (err === undefined || err === null) {
            events.end();
            return;
          }
          // The 'close' that follows reports the reset (hadError), and the relay aborts the other side.
          if (!socket.destroyed) socket.destroy(err);
        });
      },
    });
  }

  abort(): void {
    resetSocket(this.stream);
  }

  // A TCP reset surfaces as 'error' (hadError), never as 'end'.
  closedCleanly(hadError: boolean): boolean {
    return !hadError && this.stream.readableEnded && this.stream.writableFinished;
  }
}

export function h2StreamEnd(stream: H2Stream): TunnelEnd {
  return new H2StreamEnd(stream, H2ErrorCode.CONNECT_ERROR);
}

export function socketEnd(socket: net.Socket): TunnelEnd {
  return new SocketEnd(socket);
}

function noop(): void {}

const EMPTY = new Uint8Array(0);
