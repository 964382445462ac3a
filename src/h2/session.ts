import type net from 'node:net';
import { H2Connection, type ConnectionHandler, type ConnectionOptions } from './connection.ts';
import { H2ErrorCode } from './error-codes.ts';
import type { H2ConnectionError } from './protocol-error.ts';

/** Timers and limits the socket adapter runs for a connection (the sans-IO core has none). */
export interface SessionTimers {
  /** SETTINGS must be acknowledged within this (RFC 9113 §6.5.3). Default 10 s. */
  readonly settingsTimeoutMs?: number;
  /** PING every this often; a peer that has not answered the previous one is dropped. 0: off. */
  readonly pingIntervalMs?: number;
  /** How long the graceful shutdown waits for its PING before the final GOAWAY (RFC 9113 §6.8). Default 1 s. */
  readonly shutdownPingMs?: number;
  /** Reading pauses while more than this waits in the socket's write buffer. Default 1 MiB. */
  readonly maxBufferedOutput?: number;
}

/** What the owner of a session hears: the connection's events, and the end of the transport. */
export type SessionHandler = Omit<ConnectionHandler, 'onOutput'> & {
  /** The socket closed; every stream has been closed before this. */
  onClose?(): void;
  /** An exception escaped a handler: the connection was ended with INTERNAL_ERROR. */
  onInternalError?(error: unknown): void;
};

/** Above this, a tick's frames go out as several writes (corked) rather than one concatenation. */
const CONCAT_LIMIT = 16 * 1024;
/** After our GOAWAY for a connection error, the peer gets this long to read it before the socket is destroyed. */
const LINGER_MS = 1000;

/**
 * The socket adapter: binds one sans-IO H2Connection to a node:net or node:tls socket, the
 * same on Node, Deno and Bun. Frames produced during a tick leave in one write; reading
 * pauses while the socket's write buffer is over its limit (a peer that never reads cannot
 * make h2ws buffer without bound); the timers the protocol needs live here.
 */
export class H2Session {
  readonly connection: H2Connection;
  readonly socket: net.Socket;
  readonly #handler: SessionHandler;
  readonly #maxBuffered: number;
  #scheduled = false;
  #waitingDrain = false;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #settingsTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #awaitingPing = false;
  #ending = false;
  #closed = false;

  constructor(socket: net.Socket, options: ConnectionOptions & SessionTimers, handler: SessionHandler) {
    this.socket = socket;
    this.#handler = handler;
    this.#maxBuffered = options.maxBufferedOutput ?? 1024 * 1024;
    const self = this;
    const forward: ConnectionHandler = {
      onOutput: () => self.#schedule(),
      onStream: handler.onStream?.bind(handler),
      onRemoteSettings: handler.onRemoteSettings?.bind(handler),
      onGoaway: handler.onGoaway?.bind(handler),
      onGoawaySent: handler.onGoawaySent?.bind(handler),
      onPingAck: (opaque) => {
        self.#awaitingPing = false;
        handler.onPingAck?.(opaque);
      },
      onReset: handler.onReset?.bind(handler),
      onConnectionError: (error: H2ConnectionError) => handler.onConnectionError?.(error),
      onDefence: handler.onDefence?.bind(handler),
      onStreamSlot: handler.onStreamSlot?.bind(handler),
    };
    this.connection = new H2Connection({ ...options, remoteAddress: options.remoteAddress ?? socket.remoteAddress, remotePort: options.remotePort ?? socket.remotePort }, forward);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('error', () => this.#teardown());
    socket.on('close', () => this.#teardown());
    socket.on('drain', () => this.#onDrain());
    socket.resume(); // a socket handed over after sniffing may still be paused
    const settingsMs = options.settingsTimeoutMs ?? 10_000;
    this.#settingsTimer = setTimeout(() => {
      this.connection.settingsTimeout();
      this.#flush();
    }, settingsMs);
    unref(this.#settingsTimer);
    const pingMs = options.pingIntervalMs ?? 0;
    if (pingMs > 0) {
      this.#pingTimer = setInterval(() => this.#liveness(), pingMs);
      unref(this.#pingTimer);
    }
    this.#flush();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Graceful shutdown: GOAWAY (two steps on a server, RFC 9113 §6.8); the socket closes once the streams are done. */
  shutdown(): void {
    if (this.#closed) return;
    this.connection.shutdown();
    const timer = setTimeout(() => {
      this.connection.finishShutdown();
      this.#flush();
    }, 1000);
    unref(timer);
    this.#flush();
  }

  /** GOAWAY with `code` at once, then the socket closes (e.g. ENHANCE_YOUR_CALM). */
  abort(code: number, message: string): void {
    this.connection.abort(code, message);
    this.#flush();
  }

  /** Closes the socket now; every open stream ends as reset by the connection. */
  destroy(): void {
    this.connection.transportClosed();
    this.socket.destroy();
    this.#teardown();
  }

  #onData(chunk: Buffer): void {
    try {
      this.connection.receive(chunk);
    } catch (err) {
      // An exception from a handler (a bug, not the peer's doing): end this connection
      // with INTERNAL_ERROR rather than the process.
      this.connection.abort(H2ErrorCode.INTERNAL_ERROR, 'internal error');
      this.#handler.onInternalError?.(err);
    }
    if (this.connection.settingsAckPending === false && this.#settingsTimer !== undefined) {
      clearTimeout(this.#settingsTimer);
      this.#settingsTimer = undefined;
    }
    this.#flush();
  }

  #onEnd(): void {
    // The peer's FIN: no more frames can come; what is open can never finish.
    this.connection.transportClosed();
    this.#flush();
    this.socket.end();
  }

  #onDrain(): void {
    if (!this.#waitingDrain) return;
    this.#waitingDrain = false;
    this.socket.resume();
    this.#schedule();
  }

  #liveness(): void {
    if (this.#awaitingPing) {
      // RFC 9113 §6.7: no answer to the last PING within an interval: the peer is gone.
      this.destroy();
      return;
    }
    this.#awaitingPing = true;
    this.connection.ping();
    this.#flush();
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    // setImmediate, not nextTick: output from every socket read of this I/O phase goes
    // out together (a tunnel's backend data and the client's WINDOW_UPDATEs alike).
    setImmediate(flushSession, this);
  }

  /** Writes what the connection has; exposed for the shared immediate callback. */
  flushNow(): void {
    this.#scheduled = false;
    this.#flush();
  }

  #flush(): void {
    if (this.#closed) return;
    const { socket } = this;
    const backedUp = socket.writableLength > this.#maxBuffered;
    const out = this.connection.takeOutput(!backedUp);
    if (out !== undefined && socket.writable) {
      if (out.length === 1) {
        socket.write(out[0]!);
      } else {
        let total = 0;
        for (const chunk of out) total += chunk.length;
        if (total <= CONCAT_LIMIT) {
          socket.write(Buffer.concat(out, total));
        } else {
          socket.cork();
          for (const chunk of out) socket.write(chunk);
          socket.uncork();
        }
      }
    }
    if (!this.#waitingDrain && socket.writableLength > this.#maxBuffered) {
      // A peer that does not read: stop reading it too, so its frames cannot pile up answers.
      this.#waitingDrain = true;
      socket.pause();
    }
    if (this.connection.closed) {
      this.#finish(true);
    } else if (this.connection.finished && !this.#ending) {
      this.#finish(false);
    }
  }

  /** Ends the transport once the connection is done: after a connection error, or after GOAWAY with no streams left. */
  #finish(error: boolean): void {
    if (this.#ending) return;
    this.#ending = true;
    clearInterval(this.#pingTimer);
    this.socket.end();
    // A peer that does not close its side within the linger time is cut off.
    this.#lingerTimer = setTimeout(() => this.socket.destroy(), error ? LINGER_MS : LINGER_MS * 5);
    unref(this.#lingerTimer);
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pingTimer);
    clearTimeout(this.#settingsTimer);
    clearTimeout(this.#lingerTimer);
    this.connection.transportClosed();
    if (!this.socket.destroyed) this.socket.destroy();
    this.#handler.onClose?.();
  }
}

function flushSession(session: H2Session): void {
  session.flushNow();
}

function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}
