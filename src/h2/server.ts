import type net from 'node:net';
import type { Limits } from '../config/options.ts';
import { Budget } from './budget.ts';
import { DEFENCES } from './connection.ts';
import { H2ErrorCode } from './error-codes.ts';
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
  /**
   * A client address spent its {@link CLIENT_RAPID_RESET} budget across its connections: each of
   * its connections got GOAWAY ENHANCE_YOUR_CALM, and new ones are refused for a cool-down.
   */
  rapidResetClient?(remoteAddress: string): void;
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

/**
 * Rapid reset per client address, across all its connections (a client that reconnects after
 * each GOAWAY starts a fresh per-connection budget, but not a fresh one of these). Spent by
 * every stream the client resets before h2ws answered it; resets of established tunnels (after
 * the 200) cost nothing. When an address's bucket is empty, its connections get GOAWAY
 * ENHANCE_YOUR_CALM and its new connections are refused (GOAWAY ENHANCE_YOUR_CALM at once)
 * for `burst / perSecond` seconds, the time the bucket takes to refill. At most
 * `maxAddresses` addresses are tracked; idle ones (bucket full again, no cool-down) are evicted.
 */
export const CLIENT_RAPID_RESET = Object.freeze({ burst: 1000, perSecond: 200, maxAddresses: 10_000 });

interface AddressEntry {
  readonly budget: Budget;
  /** Refused until then (the clock's milliseconds); 0 when not cut off. */
  blockedUntil: number;
  last: number;
}

/**
 * The per-address rapid-reset budgets ({@link CLIENT_RAPID_RESET}), kept by the H2Server.
 * Exported for its unit tests.
 */
export class ClientResetBudgets {
  readonly #entries = new Map<string, AddressEntry>();
  readonly #burst: number;
  readonly #perSecond: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;

  constructor(options: { burst: number; perSecond: number; maxAddresses: number } = CLIENT_RAPID_RESET, now: () => number = Date.now) {
    this.#burst = options.burst;
    this.#perSecond = options.perSecond;
    this.#maxAddresses = Math.max(1, options.maxAddresses);
    this.#now = now;
  }

  /** How long an emptied bucket keeps its address cut off: the time it takes to refill. */
  get coolDownMs(): number {
    return (this.#burst / this.#perSecond) * 1000;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Is this address in its cool-down (new connections refused)? */
  blocked(address: string): boolean {
    const entry = this.#entries.get(normalize(address));
    return entry !== undefined && entry.blockedUntil > this.#now();
  }

  /**
   * One stream reset before it was answered. True when this spend emptied the address's
   * bucket (the address is now cut off); false otherwise, including while already cut off.
   */
  spend(address: string): boolean {
    const key = normalize(address);
    const now = this.#now();
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      if (this.#entries.size >= this.#maxAddresses) this.#evict(now);
      entry = { budget: new Budget(this.#burst, this.#perSecond, this.#now), blockedUntil: 0, last: now };
      this.#entries.set(key, entry);
    }
    entry.last = now;
    if (entry.blockedUntil > now) return false;
    if (entry.budget.spend()) return false;
    entry.blockedUntil = now + this.coolDownMs;
    return true;
  }

  /** Drops idle addresses (bucket refilled, not cut off); if none is idle, the least recently seen one. */
  #evict(now: number): void {
    const refillMs = this.coolDownMs;
    for (const [key, entry] of this.#entries) {
      if (entry.blockedUntil <= now && now - entry.last >= refillMs) this.#entries.delete(key);
    }
    if (this.#entries.size < this.#maxAddresses) return;
    // Still full: the least recently seen one that is not cut off goes.
    let oldest: string | undefined;
    let oldestAt = Infinity;
    for (const [key, entry] of this.#entries) {
      if (entry.blockedUntil > now) continue;
      if (entry.last < oldestAt) {
        oldestAt = entry.last;
        oldest = key;
      }
    }
    this.#entries.delete(oldest ?? this.#entries.keys().next().value!);
  }
}

function sameAddress(a: string, b: string): boolean {
  return normalize(a) === normalize(b);
}

/** An IPv4 client seen through a dual-stack socket ("::ffff:1.2.3.4") is the same client. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export interface H2ServerOptions {
  readonly limits: Limits;
  /** SETTINGS_INITIAL_WINDOW_SIZE (RFC 9113 §6.5.2). */
  readonly initialWindowSize: number;
  /** The connection's receive window (RFC 9113 §6.9.2). */
  readonly connectionWindow: number;
  /** PING liveness interval (RFC 9113 §6.7); 0 turns it off. */
  readonly pingIntervalMs: number;
  readonly observer?: SessionObserver;
  /** The per-address rapid-reset budget; defaults to {@link CLIENT_RAPID_RESET}. */
  readonly clientRapidReset?: { readonly burst: number; readonly perSecond: number; readonly maxAddresses: number };
  /** A new request on any connection. */
  readonly onStream: (stream: H2Stream, head: RequestHead, endStream: boolean) => void;
}

/**
 * The HTTP/2 side of the gateway, on h2ws's own engine: one H2Session per connection the
 * front listener hands over (TLS with ALPN h2, or h2c prior knowledge).
 */
export class H2Server {
  readonly #sessions = new Set<H2Session>();
  #options: H2ServerOptions;
  readonly #addresses: ClientResetBudgets;

  constructor(options: H2ServerOptions) {
    this.#options = options;
    this.#addresses = new ClientResetBudgets(options.clientRapidReset ?? CLIENT_RAPID_RESET);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /**
   * New settings for connections accepted from now on (a reload). Open connections keep the
   * SETTINGS they advertised: changing them mid-connection would need a SETTINGS exchange per
   * connection (RFC 9113 §6.5.3), and their streams were admitted under the old ones.
   */
  reconfigure(next: Pick<H2ServerOptions, 'limits' | 'initialWindowSize' | 'connectionWindow' | 'pingIntervalMs'>): void {
    this.#options = { ...this.#options, ...next };
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
        onReset: (stream, code, side) => {
          observer?.reset(code, side);
          // The same streams the connection's own rapid-reset budget counts: reset by the
          // client before h2ws answered them (RFC 9113 §5.4.2 / CVE-2023-44487).
          if (side === 'received' && stream !== undefined && !stream.headersSent && remoteAddress !== undefined) {
            if (this.#addresses.spend(remoteAddress)) this.#cutOff(remoteAddress);
          }
        },
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
    // An address in its rapid-reset cool-down: refused at once, before any stream.
    if (remoteAddress !== undefined && this.#addresses.blocked(remoteAddress)) {
      session.abort(H2ErrorCode.ENHANCE_YOUR_CALM, 'this address reset too many streams before they were answered (CVE-2023-44487); try again later');
    }
  }

  /** An address emptied its budget: every connection from it gets GOAWAY ENHANCE_YOUR_CALM. */
  #cutOff(remoteAddress: string): void {
    this.#options.observer?.rapidResetClient?.(remoteAddress);
    // After the current read: this runs inside a connection's frame handler.
    queueMicrotask(() => {
      for (const session of this.#sessions) {
        if (session.socket.remoteAddress !== undefined && sameAddress(session.socket.remoteAddress, remoteAddress)) {
          session.abort(H2ErrorCode.ENHANCE_YOUR_CALM, 'this address reset too many streams before they were answered (CVE-2023-44487)');
        }
      }
    });
  }

  /**
   * GOAWAY(NO_ERROR) to every session, in the two steps of RFC 9113 §6.8: streams already
   * accepted go on, new ones are refused; each session ends when its streams do.
   */
  goAwayAll(): void {
    for (const session of this.#sessions) session.shutdown();
  }

  /**
   * Closes every session now. What a session still has queued (the RST_STREAMs of tunnels the
   * drain just aborted) is written first: a tunnel ended by h2ws is reset on the wire, not
   * left to look like a dead connection.
   */
  destroyAll(): void {
    for (const session of [...this.#sessions]) {
      session.flushNow();
      session.destroy();
    }
  }
}
