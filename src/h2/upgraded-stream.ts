import { Duplex } from 'node:stream';
import { h2AcceptHeaders } from '../handshake/client-response.ts';
import { parseResponseHead } from '../handshake/backend-response.ts';
import { passThroughHeaders } from '../handshake/client-response.ts';
import { CloseGrace, closingHandshakeDone } from '../tunnel/close-grace.ts';
import { FrameBoundary } from '../tunnel/frame-boundary.ts';
import { H2ErrorCode } from './error-codes.ts';
import type { H2Stream } from './stream.ts';

/** What the first write (the HTTP/1.1 response head) turned into on the h2 stream. */
export interface H2Answer {
  readonly status: number;
}

/**
 * An extended CONNECT stream seen as an HTTP/1.1 upgraded socket, so code written for
 * `Upgrade: websocket` (ws's `handleUpgrade`) serves RFC 8441 clients unchanged. Only
 * in-process WebSockets pay for this Duplex; bridged tunnels use the stream directly.
 *
 * RFC 8441 §5: after a 2xx the stream carries the WebSocket bytes exactly as an upgraded
 * TCP connection would. The first write is the HTTP/1.1 response head; it becomes the
 * stream's response: 101 becomes 200 with the negotiated subprotocol and extensions, any
 * other status is sent as is with its body. Later writes are DATA; `end()` is END_STREAM;
 * `destroy()` before a clean end is RST_STREAM CANCEL (RFC 9113 §8.5, abort). Once the
 * closing handshake is over and END_STREAM is sent, a client that sends no END_STREAM of its
 * own gets RST_STREAM NO_ERROR after `closeGraceMs`, and the socket ends cleanly
 * (tunnel/close-grace.ts).
 */
export class H2UpgradedStream extends Duplex {
  readonly stream: H2Stream;
  /** Set once the first write has been answered on the stream. */
  answer: H2Answer | undefined;
  bytesRead = 0;
  bytesWritten = 0;
  #onAnswer: ((answer: H2Answer) => void) | undefined;
  /** RFC 6455 frames each way, to see the closing handshake (only Close frames matter). */
  readonly #fromClient = new FrameBoundary();
  readonly #toClient = new FrameBoundary();
  readonly #closeGraceMs: number | undefined;
  #closeGrace: CloseGrace | undefined;

  /** `closeGraceMs` undefined: wait for the client's END_STREAM for ever. */
  constructor(stream: H2Stream, onAnswer?: (answer: H2Answer) => void, closeGraceMs?: number) {
    // allowHalfOpen: END_STREAM from the client must not end our side (RFC 9113 §8.5).
    super({ allowHalfOpen: true });
    this.stream = stream;
    this.#onAnswer = onAnswer;
    this.#closeGraceMs = closeGraceMs;
    stream.pause();
    stream.onData = (chunk) => {
      this.bytesRead += chunk.length;
      this.#fromClient.push(chunk);
      if (this.#fromClient.closeSeen) this.#closing();
      // Backpressure: a paused h2 stream stops WINDOW_UPDATEs, so the peer's window closes.
      if (!this.push(asBuffer(chunk))) stream.pause();
    };
    // END_STREAM after the handlers of the last DATA have run (a Web Streams echo answers in
    // later microtasks): ws ends its side as soon as it reads the end.
    stream.onEnd = () => setImmediate(pushEnd, this);
    stream.onClose = (close) => {
      this.#closeGrace?.cancel();
      // Released after the closing handshake: the client will send nothing more, a clean end.
      if (this.resetAfterClose) setImmediate(pushEnd, this);
      else if (close.code !== undefined || !this.writableFinished) this.destroy();
    };
    stream.onDrain = () => this.#drained();
    if (stream.closed) queueMicrotask(() => this.destroy());
  }

  /** The RST_STREAM code the stream closed with, if it was reset. */
  get rstCode(): number | undefined {
    return this.stream.closeInfo?.code;
  }

  /** The client sent no END_STREAM after the closing handshake; h2ws sent RST_STREAM NO_ERROR. */
  get resetAfterClose(): boolean {
    const close = this.stream.closeInfo;
    return this.#closeGrace !== undefined && close?.code === H2ErrorCode.NO_ERROR && close.by === 'local';
  }

  /** Starts the close grace once a Close frame has passed each way and END_STREAM is queued. */
  #closing(): void {
    const { stream } = this;
    if (this.#closeGraceMs === undefined || this.#closeGrace !== undefined || stream.closed) return;
    if (!closingHandshakeDone(this.#fromClient, this.#toClient, stream.localEnded)) return;
    // RFC 9113 §8.1: RST_STREAM NO_ERROR after the complete response (sent after END_STREAM).
    this.#closeGrace = new CloseGrace(this.#closeGraceMs, () => stream.reset(H2ErrorCode.NO_ERROR));
    stream.yieldSlot();
  }

  get remoteAddress(): string | undefined {
    return this.stream.remoteAddress;
  }

  #pendingWrite: ((error?: Error | null) => void) | undefined;

  #drained(): void {
    const callback = this.#pendingWrite;
    this.#pendingWrite = undefined;
    callback?.();
  }

  override _read(): void {
    this.stream.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.answer === undefined) {
      this.#answer(chunk);
      callback();
      return;
    }
    const { stream } = this;
    if (stream.closed || stream.localEnded) {
      callback();
      return;
    }
    this.bytesWritten += chunk.length;
    this.#toClient.push(chunk);
    if (stream.write(chunk)) callback();
    else this.#pendingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.stream.end();
    this.#closing();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const { stream } = this;
    // Both directions ended (autoDestroy after a clean close): the stream closes by itself.
    const clean = this.writableFinished && this.readableEnded;
    // A rejected handshake has ended its response already; anything else still open is an abort.
    const rejected = this.answer !== undefined && this.answer.status !== 101;
    if (!clean && !rejected) stream.reset(H2ErrorCode.CANCEL);
    this.#drained();
    callback(error);
  }

  #answer(bytes: Buffer): void {
    const head = parseResponseHead(bytes);
    const { stream } = this;
    if (head === undefined || head instanceof Error) {
      this.answer = { status: 500 };
      stream.reset(H2ErrorCode.INTERNAL_ERROR);
    } else if (head.status === 101) {
      this.answer = { status: 101 };
      const protocol = head.headers['sec-websocket-protocol'];
      const extensions = head.headers['sec-websocket-extensions'];
      stream.respond(h2AcceptHeaders({ protocol: typeof protocol === 'string' ? protocol : undefined, extensions: typeof extensions === 'string' ? extensions : undefined }));
      // Frames written together with the head belong to the tunnel.
      const rest = bytes.subarray(head.length);
      if (rest.length > 0) {
        this.bytesWritten += rest.length;
        this.#toClient.push(rest);
        stream.write(rest);
      }
    } else {
      this.answer = { status: head.status };
      const body = bytes.subarray(head.length);
      if (!stream.headersSent && !stream.closed) {
        stream.respond({ ':status': head.status, ...passThroughHeaders(head.headers), 'content-length': body.length });
        stream.end(body);
      }
    }
    this.#onAnswer?.(this.answer);
  }
}

/** ws wants Buffers; a view of the same bytes, no copy. */
function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function pushEnd(socket: H2UpgradedStream): void {
  socket.push(null);
}
