import http2 from 'node:http2';
import { type FlowControlWindows, raiseConnectionWindow } from './windows.ts';
import { H2ErrorCode } from './error-codes.ts';

/** Receive windows for a pool's sessions (RFC 9113 §6.9); either one left out keeps 65,535. */
export type PoolWindows = Partial<FlowControlWindows>;

/** TLS options for connections h2ws opens as a client. */
export interface ClientTlsOptions {
  /** Extra trusted CA certificates (PEM), e.g. for a self-signed server. */
  readonly ca?: string | readonly string[];
  /** Verify the server's certificate. Default true. */
  readonly rejectUnauthorized?: boolean;
}

/** How opening an RFC 8441 stream went. */
export type TunnelOpen =
  | { readonly kind: 'open'; readonly stream: http2.ClientHttp2Stream; readonly headers: http2.IncomingHttpHeaders }
  /** The server answered with a non-2xx status (its body is still on `stream`). */
  | { readonly kind: 'status'; readonly stream: http2.ClientHttp2Stream; readonly status: number; readonly headers: http2.IncomingHttpHeaders }
  /** The origin does not offer RFC 8441 (no h2, or no SETTINGS_ENABLE_CONNECT_PROTOCOL): use HTTP/1.1. */
  | { readonly kind: 'no-rfc8441'; readonly reason: string }
  | { readonly kind: 'error'; readonly message: string };

interface Origin {
  session: http2.ClientHttp2Session | undefined;
  connecting: Promise<http2.ClientHttp2Session | TunnelOpen> | undefined;
  /** Learnt once: this origin does not do RFC 8441, so every socket goes over HTTP/1.1. */
  noRfc8441: string | undefined;
  active: number;
  waiting: Array<() => void>;
}

/** Streams refused before any processing are safe to retry (RFC 9113 §8.7); this many times. */
const MAX_RETRIES = 3;

/**
 * One HTTP/2 session per origin, carrying every WebSocket to that origin as an extended
 * CONNECT stream (RFC 8441 §4). It waits for the server's SETTINGS and uses the session only
 * if SETTINGS_ENABLE_CONNECT_PROTOCOL is 1 (§3); otherwise it says so, and the caller falls
 * back to HTTP/1.1. Opening respects SETTINGS_MAX_CONCURRENT_STREAMS by queueing, and retries
 * only what RFC 9113 §8.7 says is safe: a stream refused with REFUSED_STREAM, or one above the
 * last stream id of a GOAWAY, which the server never processed.
 */
export class H2SessionPool {
  readonly #origins = new Map<string, Origin>();
  readonly #tls: ClientTlsOptions;
  readonly #connectTimeoutMs: number;
  readonly #streamsPerSession: number;
  readonly #windows: PoolWindows | undefined;
  #closed = false;

  /**
   * @param options.streamsPerSession after this many streams a session takes no new ones and
   *   is closed with its own GOAWAY once its streams end; the next socket opens a new session.
   *   Default: unlimited.
   * @param options.windows receive windows for what the server sends (RFC 9113 §6.9): `stream`
   *   as SETTINGS_INITIAL_WINDOW_SIZE, `connection` raised with a WINDOW_UPDATE once the server's
   *   SETTINGS arrive. Default: the protocol's 65,535 for both.
   */
  constructor(options: { tls?: ClientTlsOptions; connectTimeoutMs?: number; streamsPerSession?: number; windows?: PoolWindows } = {}) {
    this.#tls = options.tls ?? {};
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#streamsPerSession = options.streamsPerSession ?? Number.POSITIVE_INFINITY;
    this.#windows = options.windows;
  }

  /** Sessions currently open (one per origin at most, plus draining ones). */
  get sessions(): number {
    let n = 0;
    for (const o of this.#origins.values()) if (o.session !== undefined && !o.session.destroyed) n++;
    return n;
  }

  /**
   * Opens an extended CONNECT stream to `origin` ("https://host:port" or "http://host:port"
   * for h2c prior knowledge) with the given request fields (pseudo-headers are added).
   */
  async openTunnel(origin: string, path: string, authority: string, fields: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<TunnelOpen> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) return { kind: 'error', message: 'the client pool is closed' };
      const entry = this.#entry(origin);
      if (entry.noRfc8441 !== undefined) return { kind: 'no-rfc8441', reason: entry.noRfc8441 };
      const session = await this.#session(origin, entry);
      if (isOutcome(session)) return session;
      await this.#slot(entry, session);
      if (signal?.aborted) {
        this.#release(entry, session);
        return { kind: 'error', message: 'aborted' };
      }
      const result = await this.#request(entry, session, path, authority, new URL(origin).protocol === 'https:' ? 'https' : 'http', fields, signal);
      if (result !== 'retry') return result;
      if (attempt + 1 >= MAX_RETRIES) return { kind: 'error', message: `the server refused the stream ${MAX_RETRIES} times` };
    }
  }

  /** GOAWAY(NO_ERROR) to every session; open streams finish. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#origins.values()) {
      if (entry.session !== undefined && !entry.session.closed) entry.session.close();
      for (const wake of entry.waiting.splice(0)) wake();
    }
  }

  /** Destroys every session and the streams on them. */
  destroy(): void {
    this.#closed = true;
    for (const entry of this.#origins.values()) {
      for (const wake of entry.waiting.splice(0)) wake();
      entry.session?.destroy();
    }
  }

  #entry(origin: string): Origin {
    let entry = this.#origins.get(origin);
    if (entry === undefined) {
      entry = { session: undefined, connecting: undefined, noRfc8441: undefined, active: 0, waiting: [] };
      this.#origins.set(origin, entry);
    }
    return entry;
  }

  /** The origin's usable session, connecting when there is none (one connect at a time). */
  #session(origin: string, entry: Origin): Promise<http2.ClientHttp2Session | TunnelOpen> {
    const current = entry.session;
    if (current !== undefined && usable(current)) return Promise.resolve(current);
    entry.connecting ??= this.#connect(origin, entry).finally(() => (entry.connecting = undefined));
    return entry.connecting;
  }

  #connect(origin: string, entry: Origin): Promise<http2.ClientHttp2Session | TunnelOpen> {
    return new Promise((resolve) => {
      const ca = this.#tls.ca;
      const stream = this.#windows?.stream;
      const session = http2.connect(origin, {
        settings: { enablePush: false, ...(stream !== undefined && { initialWindowSize: stream }) },
        ...(ca !== undefined && { ca: typeof ca === 'string' ? ca : [...ca] }),
        ...(this.#tls.rejectUnauthorized === false && { rejectUnauthorized: false }),
      });
      let settled = false;
      const finish = (value: http2.ClientHttp2Session | TunnelOpen) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        session.destroy();
        finish({ kind: 'error', message: `no HTTP/2 SETTINGS from ${origin} within ${this.#connectTimeoutMs} ms` });
      }, this.#connectTimeoutMs);
      session.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        // Refused or unreachable: HTTP/1.1 would fail the same way. Anything else (a server
        // that does not speak h2 and hangs up on the preface) means "use HTTP/1.1".
        if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EHOSTUNREACH' || err.code === 'ETIMEDOUT' || /certificate|self.signed/i.test(err.message)) {
          finish({ kind: 'error', message: `cannot connect to ${origin}: ${err.code ?? err.message}` });
        } else {
          entry.noRfc8441 = `${origin} does not speak HTTP/2 (${err.code ?? err.message})`;
          finish({ kind: 'no-rfc8441', reason: entry.noRfc8441 });
        }
      });
      session.once('close', () => {
        if (entry.session === session) entry.session = undefined;
        for (const wake of entry.waiting.splice(0)) wake();
        if (!settled) {
          entry.noRfc8441 = `${origin} closed the connection before its HTTP/2 SETTINGS`;
          finish({ kind: 'no-rfc8441', reason: entry.noRfc8441 });
        }
      });
      session.on('goaway', (_code: number, lastStreamId: number) => {
        // RFC 9113 §6.8: no new streams on this session; the next socket opens a new one.
        // Streams above lastStreamId were never processed, so they may be retried.
        goawayLastStream.set(session, lastStreamId);
        if (entry.session === session) entry.session = undefined;
      });
      session.once('remoteSettings', (settings: http2.Settings) => {
        // RFC 8441 §3: extended CONNECT only once the peer has sent the setting with value 1.
        if (settings.enableConnectProtocol !== true) {
          entry.noRfc8441 = `${origin} speaks HTTP/2 but does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL`;
          // Closed from a later task: Deno 2.9's node:http2 crashes (SIGSEGV) when a client
          // session is closed from inside its 'remoteSettings' callback.
          setTimeout(() => session.close(), 0);
          finish({ kind: 'no-rfc8441', reason: entry.noRfc8441 });
          return;
        }
        entry.session = session;
        const connection = this.#windows?.connection;
        if (connection !== undefined) raiseConnectionWindow(session, connection);
        session.unref();
        finish(session);
      });
    });
  }

  /** Waits for a stream slot under the server's SETTINGS_MAX_CONCURRENT_STREAMS. */
  async #slot(entry: Origin, session: http2.ClientHttp2Session): Promise<void> {
    for (;;) {
      const max = session.remoteSettings.maxConcurrentStreams ?? Infinity;
      if (entry.active < max || !usable(session)) break;
      await new Promise<void>((resolve) => entry.waiting.push(resolve));
    }
    entry.active++;
    if (entry.active === 1) session.ref();
  }

  #release(entry: Origin, session: http2.ClientHttp2Session): void {
    entry.active--;
    if (entry.active === 0 && !session.destroyed) session.unref();
    entry.waiting.shift()?.();
  }

  #request(
    entry: Origin,
    session: http2.ClientHttp2Session,
    path: string,
    authority: string,
    scheme: 'http' | 'https',
    fields: Readonly<Record<string, string>>,
    signal: AbortSignal | undefined,
  ): Promise<TunnelOpen | 'retry'> {
    return new Promise((resolve) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': scheme, ':path': path, ':authority': authority, ...fields }, { endStream: false });
      } catch (err) {
        this.#release(entry, session);
        // The session went away between the check and the request: nothing was sent.
        resolve(usable(session) ? { kind: 'error', message: (err as Error).message } : 'retry');
        return;
      }
      // After `streamsPerSession` streams the session takes no more, and says so with its own
      // GOAWAY once its last stream ends (the gateway's Deno workaround, runtime/capabilities.ts).
      const carried = (streamCounts.get(session) ?? 0) + 1;
      streamCounts.set(session, carried);
      if (carried >= this.#streamsPerSession && entry.session === session) {
        entry.session = undefined;
        setTimeout(() => session.close(), 0);
      }
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.#release(entry, session);
      };
      stream.once('close', release);
      stream.on('error', () => {});
      const onAbort = () => stream.close(H2ErrorCode.CANCEL);
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.once('response', (headers) => {
        signal?.removeEventListener('abort', onAbort);
        const status = Number(headers[':status']);
        // RFC 8441 §5: a 2xx opens the tunnel.
        if (status >= 200 && status < 300) resolve({ kind: 'open', stream, headers });
        else resolve({ kind: 'status', stream, status, headers });
      });
      stream.once('close', () => {
        signal?.removeEventListener('abort', onAbort);
        const refused = stream.rstCode === H2ErrorCode.REFUSED_STREAM;
        const goawayLast = goawayLastStream.get(session);
        const unprocessed = goawayLast !== undefined && stream.id !== undefined && stream.id > goawayLast;
        const neverSent = stream.id === undefined;
        if (signal?.aborted) resolve({ kind: 'error', message: 'aborted' });
        else if (refused || unprocessed || neverSent) resolve('retry');
        else resolve({ kind: 'error', message: `the stream closed before a response (RST_STREAM ${stream.rstCode ?? 'none'})` });
      });
    });
  }
}

/** Streams opened on each session. */
const streamCounts = new WeakMap<http2.ClientHttp2Session, number>();

/** The last stream id of the GOAWAY each session received. */
const goawayLastStream = new WeakMap<http2.ClientHttp2Session, number>();

function isOutcome(value: http2.ClientHttp2Session | TunnelOpen): value is TunnelOpen {
  return typeof (value as { kind?: unknown }).kind === 'string';
}

function usable(session: http2.ClientHttp2Session): boolean {
  return !session.closed && !session.destroyed;
}
