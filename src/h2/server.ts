import type net from 'node:net';
import type { Limits } from '../config/options.ts';
import { DEFENCES } from './connection.ts';
import type { RequestHead } from './field-validation.ts';
import { H2Session } from './session.ts';
import type { H2Stream } from './stream.ts';

export type ResetSide = 'sent' | 'received';
export type ResetReport = (code: number, side: ResetSide) => void;

/** What the server reports, for metrics and logs. */
export interface SessionObserver {
  sessionOpened(): void;
  sessionClosed(): void;
  goaway(code: number, side: ResetSide): void;
  reset: ResetReport;
  /** A client reset streams faster than `RAPID_RESET` allows and was sent GOAWAY ENHANCE_YOUR_CALM. */
  rapidReset?(remoteAddress: string | undefined): void;
  /** Another defence's budget ran out (glitches, an oversized field block). */
  defence?(kind: string, remoteAddress: string | undefined): void;
  /** A handler threw while serving this connection (it was ended with INTERNAL_ERROR). */
  internalError?(error: unknown): void;
}

/**
 * Rapid reset (CVE-2023-44487): streams reset before h2ws answered them; a client that
 * empties the bucket gets GOAWAY ENHANCE_YOUR_CALM (RFC 9113 §7) and is disconnected.
 * Resets of established tunnels are not counted.
 */
export const RAPID_RESET = DEFENCES.rapidReset;

export interface H2ServerOptions {
  readonly limits: Limits;
  /** SETTINGS_INITIAL_WINDOW_SIZE (RFC 9113 §6.5.2). */
  readonly initialWindowSize: number;
  /** The connection's receive window (RFC 9113 §6.9.2). */
  readonly connectionWindow: number;
  /** PING liveness interval (RFC 9113 §6.7); 0 turns it off. */
  readonly pingIntervalMs: number;
  readonly observer?: SessionObserver;
  /** A new request on any connection. */
  readonly onStream: (stream: H2Stream, head: RequestHead, endStream: boolean) => void;
}

/**
 * The HTTP/2 side of the gateway, on h2ws's own engine: one H2Session per connection the
 * front listener hands over (TLS with ALPN h2, or h2c prior knowledge).
 */
export class H2Server {
  readonly #sessions = new Set<H2Session>();
  readonly #options: H2ServerOptions;

  constructor(options: H2ServerOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Serves HTTP/2 on an accepted socket. */
  accept(socket: net.Socket): void {
    const { limits, observer } = this.#options;
    const remoteAddress = socket.remoteAddress;
    // Each GOAWAY decision is counted once per code, however many frames carry it (the
    // graceful shutdown sends two, RFC 9113 §6.8).
    const goawayCodes = new Set<number>();
    const session: H2Session = new H2Session(
      socket,
      {
        role: 'server',
        settings: {
          // RFC 8441 §3: without this setting clients must not send extended CONNECT.
          enableConnectProtocol: true,
          maxConcurrentStreams: limits.maxStreamsPerConnection,
          maxHeaderListSize: limits.maxHeaderListSize,
          initialWindowSize: this.#options.initialWindowSize,
        },
        connectionWindow: this.#options.connectionWindow,
        // Half the tunnel's buffer on each side (see tunnel/relay.ts).
        streamHighWater: Math.max(16_384, limits.maxBufferedBytesPerTunnel >> 1),
        pingIntervalMs: this.#options.pingIntervalMs,
        ...(remoteAddress !== undefined && { remoteAddress }),
      },
      {
        onStream: this.#options.onStream,
        onReset: (_stream, code, side) => observer?.reset(code, side),
        onGoaway: (code) => observer?.goaway(code, 'received'),
        onGoawaySent: (code) => {
          if (goawayCodes.has(code)) return;
          goawayCodes.add(code);
          observer?.goaway(code, 'sent');
        },
        onDefence: (kind) => {
          if (kind === 'rapid-reset') observer?.rapidReset?.(remoteAddress);
          else observer?.defence?.(kind, remoteAddress);
        },
        onInternalError: (error) => observer?.internalError?.(error),
        onClose: () => {
          this.#sessions.delete(session);
          observer?.sessionClosed();
        },
      },
    );
    this.#sessions.add(session);
    observer?.sessionOpened();
  }

  /**
   * GOAWAY(NO_ERROR) to every session, in the two steps of RFC 9113 §6.8: streams already
   * accepted go on, new ones are refused; each session ends when its streams do.
   */
  goAwayAll(): void {
    for (const session of this.#sessions) session.shutdown();
  }

  destroyAll(): void {
    for (const session of [...this.#sessions]) session.destroy();
  }
}
