import type { WebSocket } from 'ws';

/** A message: text arrives as a string, binary as bytes. */
export type WebSocketMessage = string | Uint8Array;

/** How a WebSocket ended (RFC 6455 §7.1.5, §7.1.6). 1006 means no Close frame was received. */
export interface WebSocketCloseInfo {
  /** The close code (RFC 6455 §7.4). */
  readonly closeCode: number;
  /** The close reason, possibly empty. */
  readonly reason: string;
}

/** What `close()` takes, as the WHATWG WebSocketStream does. */
export interface WebSocketCloseOptions {
  /** The close code to send; default 1000. */
  readonly closeCode?: number;
  /** The close reason to send; default empty. */
  readonly reason?: string;
}

/** Messages kept for a reader that is not reading, before the peer is paused. */
const READ_HIGH_WATER_MESSAGES = 16;

/**
 * One open WebSocket as Web Streams, in the shape of the WHATWG `WebSocketStream`:
 * `readable` yields messages, `writable` takes them, `closed` settles with the close code and
 * reason, and `close()` starts the closing handshake.
 *
 * Backpressure runs end to end: when the reader falls behind, the socket is paused, so over
 * HTTP/2 the stream's flow-control window closes and the peer stops (RFC 9113 §5.2); a
 * writer waits while more than `writeHighWater` bytes are queued for the peer.
 *
 * `closed` never rejects: an abnormal end resolves with 1006, so a handler that ignores it
 * cannot bring the process down with an unhandled rejection.
 */
export class WebSocketStream {
  /** The URL the client asked for. */
  readonly url: string;
  /** The subprotocol chosen in the handshake, or "". */
  readonly protocol: string;
  /** The extensions agreed in the handshake, or "". */
  readonly extensions: string;
  /** The messages the peer sends. */
  readonly readable: ReadableStream<WebSocketMessage>;
  /** Each chunk written goes out as one message: a string as text, bytes as binary. */
  readonly writable: WritableStream<WebSocketMessage | ArrayBuffer>;
  /** Settles once the socket has closed; never rejects (an abnormal end gives 1006). */
  readonly closed: Promise<WebSocketCloseInfo>;
  /** Resolves at once: a server-side stream is handed over already open. */
  readonly opened: Promise<{ readonly readable: ReadableStream<WebSocketMessage>; readonly writable: WritableStream<WebSocketMessage | ArrayBuffer>; readonly protocol: string; readonly extensions: string }>;
  readonly #ws: WebSocket;

  /** Wraps an open `ws` WebSocket; h2ws makes these, applications receive them. */
  constructor(ws: WebSocket, url: string, writeHighWater = 1024 * 1024) {
    this.#ws = ws;
    this.url = url;
    this.protocol = ws.protocol;
    this.extensions = ws.extensions;
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => resolve({ closeCode: code, reason: reason.toString() }));
    });
    let reading: ReadableStreamDefaultController<WebSocketMessage>;
    this.readable = new ReadableStream<WebSocketMessage>(
      {
        start(controller) {
          reading = controller;
          ws.on('message', (data: Buffer, isBinary: boolean) => {
            controller.enqueue(isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data.toString('utf8'));
            if ((controller.desiredSize ?? 1) <= 0) ws.pause();
          });
        },
        pull() {
          if (ws.isPaused) ws.resume();
        },
        cancel: () => this.close(),
      },
      { highWaterMark: READ_HIGH_WATER_MESSAGES },
    );
    void this.closed.then(({ closeCode }) => {
      try {
        if (closeCode === 1000 || closeCode === 1001 || closeCode === 1005) reading.close();
        else reading.error(new Error(`WebSocket closed with ${closeCode}`));
      } catch {
        // already closed or cancelled by the reader
      }
    });
    this.writable = new WritableStream<WebSocketMessage | ArrayBuffer>({
      write(chunk) {
        return new Promise<void>((resolve, reject) => {
          if (ws.readyState !== ws.OPEN) {
            reject(new Error('the WebSocket is closing; nothing more can be sent'));
            return;
          }
          const binary = typeof chunk !== 'string';
          let settled = false;
          ws.send(chunk, { binary }, (err) => {
            if (settled) return;
            settled = true;
            if (err) reject(err);
            else resolve();
          });
          // Below the high-water mark the next message need not wait for this one to leave.
          if (!settled && ws.bufferedAmount < writeHighWater) {
            settled = true;
            resolve();
          }
        });
      },
      close: () => this.close(),
      abort: () => this.close({ closeCode: 1011, reason: 'writer aborted' }),
    });
    this.opened = Promise.resolve({ readable: this.readable, writable: this.writable, protocol: this.protocol, extensions: this.extensions });
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2); `closed` settles once it completes.
   * Takes the WHATWG `{ closeCode, reason }` or, like `WebSocket.close`, a code and a reason.
   */
  close(codeOrOptions?: number | WebSocketCloseOptions, reason?: string): void {
    const options = typeof codeOrOptions === 'number' ? { closeCode: codeOrOptions, reason } : (codeOrOptions ?? {});
    if (this.#ws.readyState === this.#ws.CLOSED) return;
    this.#ws.close(options.closeCode ?? 1000, options.reason);
  }
}
