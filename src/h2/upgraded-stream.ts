import { Duplex } from 'node:stream';
import { h2AcceptHeaders } from '../handshake/client-response.ts';
import { parseResponseHead } from '../handshake/backend-response.ts';
import { passThroughHeaders } from '../handshake/client-response.ts';
import { H2ErrorCode } from './error-codes.ts';
import { resetStream } from './resets.ts';
import type { ServerHttp2Stream } from './server.ts';

/** What the first write (the HTTP/1.1 response head) turned into on the h2 stream. */
export interface H2Answer {
  readonly status: number;
}

/**
 * An extended CONNECT stream seen as an HTTP/1.1 upgraded socket, so code written for
 * `Upgrade: websocket` (ws's `handleUpgrade`) serves RFC 8441 clients unchanged.
 *
 * RFC 8441 §5: after a 2xx the stream carries the WebSocket bytes exactly as an upgraded
 * TCP connection would. The first write is the HTTP/1.1 response head; it becomes the
 * stream's response: 101 becomes 200 with the negotiated subprotocol and extensions, any
 * other status is sent as is with its body. Later writes are DATA; `end()` is END_STREAM;
 * `destroy()` before a clean end is RST_STREAM CANCEL (RFC 9113 §8.5, abort).
 */
export class H2UpgradedStream extends Duplex {
  readonly stream: ServerHttp2Stream;
  /** Set once the first write has been answered on the stream. */
  answer: H2Answer | undefined;
  bytesRead = 0;
  bytesWritten = 0;
  #onAnswer: ((answer: H2Answer) => void) | undefined;

  constructor(stream: ServerHttp2Stream, onAnswer?: (answer: H2Answer) => void) {
    // allowHalfOpen: END_STREAM from the client must not end our side (RFC 9113 §8.5).
    super({ allowHalfOpen: true, readableHighWaterMark: stream.readableHighWaterMark, writableHighWaterMark: stream.writableHighWaterMark });
    this.stream = stream;
    this.#onAnswer = onAnswer;
    stream.pause();
    stream.on('data', (chunk: Buffer) => {
      this.bytesRead += chunk.length;
      // Backpressure: a paused h2 stream stops WINDOW_UPDATEs, so the peer's window closes.
      if (!this.push(chunk)) stream.pause();
    });
    stream.once('end', () => this.push(null));
    stream.once('close', () => {
      const clean = (stream.rstCode ?? 0) === H2ErrorCode.NO_ERROR && !stream.aborted;
      if (!clean || !this.writableFinished) this.destroy();
    });
  }

  get remoteAddress(): string | undefined {
    return this.stream.session?.socket?.remoteAddress;
  }

  override _read(): void {
    if (!this.stream.destroyed) this.stream.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.answer === undefined) {
      this.#answer(chunk);
      callback();
      return;
    }
    if (this.stream.destroyed || this.stream.closed) {
      callback();
      return;
    }
    this.bytesWritten += chunk.length;
    this.stream.write(chunk, (err) => callback(err ?? null));
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.stream.destroyed || this.stream.closed || this.stream.writableEnded) callback();
    else this.stream.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const { stream } = this;
    // Both directions ended (autoDestroy after a clean close): the stream closes by itself.
    const clean = this.writableFinished && this.readableEnded;
    // A rejected handshake has ended its response already; anything else still open is an abort.
    const rejected = this.answer !== undefined && this.answer.status !== 101;
    if (!clean && !rejected) resetStream(stream, H2ErrorCode.CANCEL);
    callback(error);
  }

  #answer(bytes: Buffer): void {
    const head = parseResponseHead(bytes);
    const { stream } = this;
    if (head === undefined || head instanceof Error) {
      this.answer = { status: 500 };
      resetStream(stream, H2ErrorCode.INTERNAL_ERROR);
    } else if (head.status === 101) {
      this.answer = { status: 101 };
      const protocol = head.headers['sec-websocket-protocol'];
      const extensions = head.headers['sec-websocket-extensions'];
      stream.respond(h2AcceptHeaders({ protocol: typeof protocol === 'string' ? protocol : undefined, extensions: typeof extensions === 'string' ? extensions : undefined }));
      // Frames written together with the head belong to the tunnel.
      const rest = bytes.subarray(head.length);
      if (rest.length > 0) {
        this.bytesWritten += rest.length;
        stream.write(rest);
      }
    } else {
      this.answer = { status: head.status };
      const body = bytes.subarray(head.length);
      if (!stream.headersSent && !stream.closed) {
        stream.respond({ ':status': head.status, ...(passThroughHeaders(head.headers) as Record<string, string | string[]>), 'content-length': body.length });
        stream.end(body);
      }
    }
    this.#onAnswer?.(this.answer);
  }
}
