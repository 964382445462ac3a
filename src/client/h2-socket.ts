import { Duplex } from 'node:stream';
import { H2ErrorCode } from '../h2/error-codes.ts';
import type { H2Stream } from '../h2/stream.ts';

/**
 * A client's extended CONNECT stream (RFC 8441 §5) as the Duplex socket `ws` runs a WebSocket
 * on: DATA is read, END_STREAM is the end of reading (a FIN, RFC 9113 §8.5); writes are DATA,
 * `end()` is END_STREAM, and `destroy()` before both directions ended cleanly is RST_STREAM
 * CANCEL alone (RFC 9113 §8.7: "the stream is no longer needed"), never END_STREAM first,
 * which a gateway would pass on as a clean half-close. A reset from the peer, or the
 * connection going away, destroys the socket.
 */
export class H2Socket extends Duplex {
  readonly stream: H2Stream;
  #pendingWrite: ((error?: Error | null) => void) | undefined;
  /** The peer's END_STREAM was delivered. */
  #remoteEnded = false;

  constructor(stream: H2Stream) {
    // allowHalfOpen: the peer's END_STREAM must not end our side (RFC 9113 §8.5).
    super({ allowHalfOpen: true });
    this.stream = stream;
    stream.pause();
    stream.onData = (chunk) => {
      try {
        // Backpressure: a paused stream sends no WINDOW_UPDATE, so the peer's window closes (§5.2).
        if (!this.push(asBuffer(chunk))) stream.pause();
      } catch (err) {
        // A 'data' or 'message' listener threw. On a net.Socket that is an uncaught exception;
        // here it must not end the shared connection (and every other socket on it) instead.
        this.destroy();
        process.nextTick(rethrow, err);
      }
    };
    stream.onEnd = () => {
      this.#remoteEnded = true;
      this.push(null);
    };
    stream.onDrain = () => this.#drained();
    stream.onClose = (close) => {
      // A clean close needs our END_STREAM, so the writable side is done; reading may go on.
      if (close.code === undefined) return;
      if (this.#stoppedWithoutError) {
        // What we still write is dropped, as the peer asked; the socket ends as usual.
        this.#drained();
        return;
      }
      this.destroy();
    };
    // Reset before this socket existed (between the response and now).
    if (stream.closed && stream.closeInfo?.code !== undefined) queueMicrotask(() => this.destroy());
  }

  /** The RST_STREAM code the stream closed with, if it was reset. */
  get rstCode(): number | undefined {
    return this.stream.closeInfo?.code;
  }

  get remoteAddress(): string | undefined {
    return this.stream.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.stream.remotePort;
  }

  // What `ws` calls on a net.Socket; timeouts and Nagle belong to the connection, not a stream.
  setTimeout(_ms: number, _callback?: () => void): this {
    return this;
  }

  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }

  override _read(): void {
    this.stream.resume();
  }

  /**
   * RFC 9113 §8.1: RST_STREAM(NO_ERROR) after the server's END_STREAM (nghttpx sends it once
   * its backend closed) asks the client to stop sending, without error: not an abort.
   */
  get #stoppedWithoutError(): boolean {
    return this.#remoteEnded && this.stream.closeInfo?.code === H2ErrorCode.NO_ERROR;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const { stream } = this;
    if (stream.closed || stream.localEnded) {
      callback(this.#stoppedWithoutError ? null : new Error('the HTTP/2 stream is closed'));
      return;
    }
    if (stream.write(chunk)) callback();
    else this.#pendingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    // RFC 9113 §8.5: END_STREAM after what is queued.
    this.stream.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Both directions ended (autoDestroy after a clean close): END_STREAM closes the stream.
    const clean = this.writableFinished && this.readableEnded;
    if (!clean) this.stream.reset(H2ErrorCode.CANCEL);
    this.#drained();
    callback(error);
  }

  #drained(): void {
    const callback = this.#pendingWrite;
    this.#pendingWrite = undefined;
    callback?.();
  }
}

function rethrow(err: unknown): never {
  throw err;
}

/** ws wants Buffers; a view of the same bytes, no copy. */
function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
