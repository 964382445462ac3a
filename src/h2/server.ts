import http2 from 'node:http2';
import type { Limits } from '../config/options.ts';
import { H2ErrorCode } from './error-codes.ts';
import { observeResets, type ResetReport, type ResetSide } from './resets.ts';
import { raiseConnectionWindow } from './windows.ts';

export type { Http2Server, Http2Session, ServerHttp2Stream, IncomingHttpHeaders } from 'node:http2';

/**
 * The HTTP/2 side: the only code that creates node:http2 objects. Sessions arrive through
 * `connection` events from the front listener, whether TLS (ALPN h2) or cleartext h2c.
 *
 * @param initialWindowSize SETTINGS_INITIAL_WINDOW_SIZE (RFC 9113 §6.5.2); undefined keeps 65,535.
 */
export function createH2Server(limits: Limits, initialWindowSize?: number): http2.Http2Server {
  return http2.createServer({
    settings: {
      // RFC 8441 §3: without this setting clients must not send extended CONNECT.
      enableConnectProtocol: true,
      maxConcurrentStreams: limits.maxStreamsPerConnection,
      maxHeaderListSize: limits.maxHeaderListSize,
      ...(initialWindowSize !== undefined && { initialWindowSize }),
    },
    maxHeaderListSize: limits.maxHeaderListSize,
    // Node's defaults end a session with GOAWAY after 1000 resets at 33/s. Browsers and
    // dev servers that reset often stay well under this rate; a rapid-reset flood does not.
    streamResetBurst: 1000,
    streamResetRate: 100,
  } as http2.ServerOptions);
}

/** What a session registry reports, for metrics. */
export interface SessionObserver {
  sessionOpened(): void;
  sessionClosed(): void;
  goaway(code: number, side: ResetSide): void;
  reset: ResetReport;
  /** A client reset streams faster than `RAPID_RESET` allows and was sent GOAWAY ENHANCE_YOUR_CALM. */
  rapidReset?(remoteAddress: string | undefined): void;
}

/**
 * Rapid reset (CVE-2023-44487): a client that opens and resets streams in a loop makes the
 * server start work it never finishes. Each session gets a bucket of resets that refills at
 * `perSecond`; a browser cancelling a page's requests, or a dev server reloading, resets
 * tens at once and stays far below. A client that empties it gets GOAWAY
 * ENHANCE_YOUR_CALM (RFC 9113 §7) and is disconnected. The runtimes' own limits (node's
 * streamResetBurst, 1000) are a backstop above this one.
 */
export const RAPID_RESET = Object.freeze({ burst: 400, perSecond: 100 });

/** Every live session, so shutdown can send GOAWAY to each. */
export class SessionRegistry {
  readonly #sessions = new Set<http2.Http2Session>();
  readonly #observer: SessionObserver | undefined;

  /**
   * @param streamsPerSession after this many streams a session gets GOAWAY(NO_ERROR): its
   *   open streams go on and the client opens a new connection for more (a runtime
   *   workaround, see runtime/capabilities.ts).
   * @param connectionWindow the receive window to raise each connection to; undefined keeps 65,535.
   */
  constructor(server: http2.Http2Server, pingIntervalMs: number, streamsPerSession: number, observer?: SessionObserver, connectionWindow?: number) {
    this.#observer = observer;
    server.on('session', (session) => {
      this.#sessions.add(session);
      if (connectionWindow !== undefined) raiseConnectionWindow(session, connectionWindow);
      if (observer !== undefined) {
        observer.sessionOpened();
        observeResets(session, observer.reset);
        // RFC 9113 §6.8: the peer's GOAWAY and its error code.
        session.on('goaway', (code: number) => observer.goaway(code, 'received'));
      }
      this.#limitResets(session);
      if (Number.isFinite(streamsPerSession)) {
        let streams = 0;
        session.on('stream', () => {
          if (++streams === streamsPerSession) this.#goAway(session);
        });
      }
      // A connection error (nghttp2 has sent GOAWAY with its code): close the TCP connection.
      session.on('error', () => session.destroy());
      const timer = pingIntervalMs > 0 ? keepAlive(session, pingIntervalMs) : undefined;
      session.once('close', () => {
        clearInterval(timer);
        this.#sessions.delete(session);
        observer?.sessionClosed();
      });
    });
  }

  get size(): number {
    return this.#sessions.size;
  }

  /**
   * GOAWAY(NO_ERROR, last stream id) to every session (RFC 9113 §6.8): streams already
   * accepted go on, new ones are refused; each session ends when its streams do.
   */
  goAwayAll(): void {
    for (const session of this.#sessions) this.#goAway(session);
  }

  #limitResets(session: http2.Http2Session): void {
    let tokens: number = RAPID_RESET.burst;
    let last = Date.now();
    let tripped = false;
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      stream.on('aborted', () => {
        if (tripped) return; // once per connection, however long the flood goes on
        const now = Date.now();
        tokens = Math.min(RAPID_RESET.burst, tokens + ((now - last) / 1000) * RAPID_RESET.perSecond) - 1;
        last = now;
        if (tokens >= 0 || session.destroyed) return;
        tripped = true;
        try {
          session.goaway(H2ErrorCode.ENHANCE_YOUR_CALM);
        } catch {
          // the session is already going
        }
        this.#observer?.goaway(H2ErrorCode.ENHANCE_YOUR_CALM, 'sent');
        this.#observer?.rapidReset?.(session.socket?.remoteAddress);
        // Let the GOAWAY reach the wire, then drop the connection and everything on it.
        setTimeout(() => session.destroy(), 50).unref?.();
      });
    });
  }

  /** GOAWAY(NO_ERROR) through session.close(): open streams finish, new ones are refused. */
  #goAway(session: http2.Http2Session): void {
    if (session.closed || session.destroyed) return;
    session.close();
    this.#observer?.goaway(0, 'sent');
  }

  destroyAll(): void {
    for (const session of this.#sessions) session.destroy();
  }
}

/** HTTP/2 PING liveness (RFC 9113 §6.7): a peer that stops answering is dropped. */
function keepAlive(session: http2.Http2Session, intervalMs: number): ReturnType<typeof setInterval> {
  let waiting = false;
  const timer = setInterval(() => {
    if (waiting) {
      session.destroy();
      return;
    }
    waiting = true;
    try {
      session.ping(() => (waiting = false));
    } catch {
      session.destroy();
    }
  }, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
