import net from 'node:net';
import tls from 'node:tls';
import { H2ErrorCode } from './error-codes.ts';
import type { HeaderRecord } from './field-validation.ts';
import { H2Session } from './session.ts';
import type { H2Stream } from './stream.ts';
import type { FlowControlWindows } from './windows.ts';

/** Receive windows for a pool's sessions (RFC 9113 §6.9); either one left out keeps 65,535. */
export type PoolWindows = Partial<FlowControlWindows>;

/** TLS options for connections h2ws opens as a client. */
export interface ClientTlsOptions {
  /** Extra trusted CA certificates (PEM), e.g. for a self-signed server. */
  readonly ca?: string | readonly string[];
  /** Verify the server's certificate. Default true. */
  readonly rejectUnauthorized?: boolean;
}

/**
 * How opening an RFC 8441 stream went. On 'open' and 'status' the stream is paused: what
 * arrives after the response head waits until its new owner sets its callbacks and calls
 * `resume()`.
 */
export type TunnelOpen =
  | { readonly kind: 'open'; readonly stream: H2Stream; readonly headers: HeaderRecord }
  /** The server answered with a non-2xx status (its body is still on `stream`). */
  | { readonly kind: 'status'; readonly stream: H2Stream; readonly status: number; readonly headers: HeaderRecord }
  /** The origin does not offer RFC 8441 (no h2, or no SETTINGS_ENABLE_CONNECT_PROTOCOL): use HTTP/1.1. */
  | { readonly kind: 'no-rfc8441'; readonly reason: string }
  | { readonly kind: 'error'; readonly message: string };

/** One connection of the pool. */
interface Pooled {
  readonly session: H2Session;
}

interface Origin {
  /** The session new streams go to; undefined once it received GOAWAY or closed. */
  current: Pooled | undefined;
  connecting: Promise<Pooled | TunnelOpen> | undefined;
  /** Learnt once: this origin does not do RFC 8441, so every socket goes over HTTP/1.1. */
  noRfc8441: string | undefined;
  /** Every open session, the current one and those draining after a GOAWAY. */
  readonly sessions: Set<Pooled>;
  /** Callers waiting for a stream slot (SETTINGS_MAX_CONCURRENT_STREAMS) or a new session. */
  readonly waiting: Set<() => void>;
}

/** Streams refused before any processing are safe to retry (RFC 9113 §8.7); this many times. */
const MAX_RETRIES = 3;

/**
 * One HTTP/2 connection per origin, on h2ws's own engine, carrying every WebSocket to that
 * origin as an extended CONNECT stream (RFC 8441 §4). It waits for the server's SETTINGS and
 * uses the connection only if SETTINGS_ENABLE_CONNECT_PROTOCOL is 1 (§3); otherwise it says
 * so, and the caller falls back to HTTP/1.1. Opening respects SETTINGS_MAX_CONCURRENT_STREAMS
 * by queueing, and retries only what RFC 9113 §8.7 says is safe: a stream refused with
 * REFUSED_STREAM, or one above the last stream id of a GOAWAY, which the server never
 * processed. Idle connections do not keep the process alive.
 */
export class H2SessionPool {
  readonly #origins = new Map<string, Origin>();
  readonly #tls: ClientTlsOptions;
  readonly #connectTimeoutMs: number;
  readonly #windows: PoolWindows;
  #closed = false;

  /**
   * Makes an empty pool; connections open on first use, one per origin.
   *
   * @param options.windows receive windows for what the server sends (RFC 9113 §6.9): `stream`
   *   as SETTINGS_INITIAL_WINDOW_SIZE, `connection` raised with a WINDOW_UPDATE in the
   *   connection preface. Default: the protocol's 65,535 for both.
   */
  constructor(options: { tls?: ClientTlsOptions; connectTimeoutMs?: number; windows?: PoolWindows } = {}) {
    this.#tls = options.tls ?? {};
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#windows = options.windows ?? {};
  }

  /** Connections currently open (one per origin at most, plus draining ones). */
  get sessions(): number {
    let n = 0;
    for (const o of this.#origins.values()) for (const p of o.sessions) if (!p.session.closed) n++;
    return n;
  }

  /**
   * Opens an extended CONNECT stream to `origin` ("https://host:port" or "http://host:port"
   * for h2c prior knowledge) with the given request fields (pseudo-headers are added).
   */
  async openTunnel(origin: string, path: string, authority: string, fields: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<TunnelOpen> {
    const scheme = new URL(origin).protocol === 'https:' ? 'https' : 'http';
    let retries = 0;
    for (;;) {
      if (this.#closed) return { kind: 'error', message: 'the client pool is closed' };
      if (signal?.aborted) return { kind: 'error', message: 'aborted' };
      const entry = this.#entry(origin);
      if (entry.noRfc8441 !== undefined) return { kind: 'no-rfc8441', reason: entry.noRfc8441 };
      const pooled = await raceAbort(this.#session(origin, entry), signal);
      if (pooled === undefined) return { kind: 'error', message: 'aborted' };
      if (isOutcome(pooled)) return pooled;
      const { connection } = pooled.session;
      if (!connection.canOpenStream) {
        // At the server's SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §5.1.2): wait for a slot.
        // A session that went away wakes the waiters too; the loop then takes a new one.
        if (usable(pooled)) await wait(entry, signal);
        continue;
      }
      const result = await this.#request(pooled, path, authority, scheme, fields, signal);
      if (result !== 'retry') return result;
      if (++retries >= MAX_RETRIES) return { kind: 'error', message: `the server refused the stream ${MAX_RETRIES} times` };
    }
  }

  /** GOAWAY(NO_ERROR) to every connection; open streams finish, then the connections close. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#origins.values()) {
      entry.current = undefined;
      for (const p of entry.sessions) p.session.shutdown();
      wakeAll(entry);
    }
  }

  /** Closes every connection now, and the streams on them. */
  destroy(): void {
    this.#closed = true;
    for (const entry of this.#origins.values()) {
      entry.current = undefined;
      wakeAll(entry);
      for (const p of [...entry.sessions]) p.session.destroy();
    }
  }

  #entry(origin: string): Origin {
    let entry = this.#origins.get(origin);
    if (entry === undefined) {
      entry = { current: undefined, connecting: undefined, noRfc8441: undefined, sessions: new Set(), waiting: new Set() };
      this.#origins.set(origin, entry);
    }
    return entry;
  }

  /** The origin's usable connection, connecting when there is none (one connect at a time). */
  #session(origin: string, entry: Origin): Promise<Pooled | TunnelOpen> {
    const current = entry.current;
    if (current !== undefined && usable(current)) return Promise.resolve(current);
    entry.connecting ??= this.#connect(origin, entry).finally(() => (entry.connecting = undefined));
    return entry.connecting;
  }

  #connect(origin: string, entry: Origin): Promise<Pooled | TunnelOpen> {
    return new Promise((resolve) => {
      const url = new URL(origin);
      const secure = url.protocol === 'https:';
      // URL keeps the brackets of an IPv6 literal; sockets want the bare address.
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
      const ca = this.#tls.ca;
      const socket: net.Socket = secure
        ? tls.connect({
            host,
            port,
            // RFC 9113 §3.2: "h2" over TLS is chosen with ALPN.
            ALPNProtocols: ['h2'],
            ...(net.isIP(host) === 0 && { servername: host }),
            ...(ca !== undefined && { ca: typeof ca === 'string' ? ca : [...ca] }),
            ...(this.#tls.rejectUnauthorized === false && { rejectUnauthorized: false }),
          })
        : net.connect({ host, port });
      let settled = false;
      let session: H2Session | undefined;
      const finish = (value: Pooled | TunnelOpen) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      };
      const notH2 = (why: string) => {
        if (settled) return;
        entry.noRfc8441 = `${origin} ${why}`;
        if (session === undefined) socket.destroy();
        else session.shutdown();
        finish({ kind: 'no-rfc8441', reason: entry.noRfc8441 });
      };
      const timer = setTimeout(() => {
        if (session === undefined) socket.destroy();
        else session.destroy();
        finish({ kind: 'error', message: `no HTTP/2 SETTINGS from ${origin} within ${this.#connectTimeoutMs} ms` });
      }, this.#connectTimeoutMs);
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (settled || session !== undefined) return;
        // Refused, unreachable or untrusted: HTTP/1.1 would fail the same way. Anything else
        // before the TLS handshake finished (a server that hangs up) means "use HTTP/1.1".
        if (unreachable(err)) finish({ kind: 'error', message: `cannot connect to ${origin}: ${describe(err)}` });
        // RFC 7301 §3.2: a server that has none of the offered protocols answers with this alert.
        else if (/NO_APPLICATION_PROTOCOL|no application protocol/i.test(`${err.code} ${err.message}`)) notH2('does not speak HTTP/2 (ALPN: the server refused h2)');
        else notH2(`hung up before HTTP/2 (${describe(err)})`);
      });
      socket.once('close', () => {
        if (session === undefined) notH2('closed the connection before HTTP/2');
      });
      const start = () => {
        if (settled) return;
        // RFC 9113 §3.2: without "h2" from ALPN this is not an HTTP/2 server.
        if (secure && (socket as tls.TLSSocket).alpnProtocol !== 'h2') return notH2('does not speak HTTP/2 (ALPN did not select h2)');
        const pooled = this.#open(entry, socket, (settings) => {
          // RFC 8441 §3: extended CONNECT only once the peer has sent the setting with value 1.
          if (!settings.enableConnectProtocol) return notH2('speaks HTTP/2 but does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)');
          if (this.#closed) {
            pooled.session.shutdown();
            return finish({ kind: 'error', message: 'the client pool is closed' });
          }
          entry.current = pooled;
          finish(pooled);
        }, () => notH2('closed the connection before its HTTP/2 SETTINGS'));
        session = pooled.session;
      };
      if (secure) socket.once('secureConnect', start);
      else socket.once('connect', start);
    });
  }

  /** Binds an H2Session (client role) to a connected socket. */
  #open(entry: Origin, socket: net.Socket, onSettings: (settings: { readonly enableConnectProtocol: boolean }) => void, onEarlyClose: () => void): Pooled {
    const windows = this.#windows;
    let pooled: Pooled;
    const refresh = () => {
      // Idle connections do not keep the process alive; ones carrying streams do.
      if (pooled.session.connection.activeStreams === 0) socket.unref();
      else socket.ref();
    };
    const session = new H2Session(
      socket,
      {
        role: 'client',
        // RFC 9113 §6.5.2, §8.4: no server push.
        settings: { enablePush: false, ...(windows.stream !== undefined && { initialWindowSize: windows.stream }) },
        ...(windows.connection !== undefined && { connectionWindow: windows.connection }),
        // Bytes queued per stream before write() says "wait": the stream window, as toward clients.
        ...(windows.stream !== undefined && { streamHighWater: Math.max(16_384, windows.stream) }),
      },
      {
        onRemoteSettings: (settings, first) => {
          if (first) onSettings(settings);
        },
        onGoaway: () => {
          // RFC 9113 §6.8: no new streams here; the next socket opens a new connection.
          if (entry.current === pooled) entry.current = undefined;
          wakeAll(entry);
        },
        onStreamSlot: () => {
          refresh();
          wakeAll(entry);
        },
        onClose: () => {
          entry.sessions.delete(pooled);
          if (entry.current === pooled) entry.current = undefined;
          wakeAll(entry);
          onEarlyClose();
        },
      },
    );
    pooled = { session };
    entry.sessions.add(pooled);
    return pooled;
  }

  #request(
    pooled: Pooled,
    path: string,
    authority: string,
    scheme: 'http' | 'https',
    extra: Readonly<Record<string, string>>,
    signal: AbortSignal | undefined,
  ): Promise<TunnelOpen | 'retry'> {
    return new Promise((resolve) => {
      // RFC 8441 §4: the extended CONNECT; the pseudo-headers first (RFC 9113 §8.3).
      const fields = [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', scheme, ':path', path, ':authority', authority];
      for (const name in extra) fields.push(name.toLowerCase(), extra[name]!);
      const { session } = pooled;
      const stream = session.connection.request(fields, false);
      session.socket.ref();
      let done = false;
      const onAbort = () => stream.reset(H2ErrorCode.CANCEL);
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (value: TunnelOpen | 'retry') => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      stream.onResponse = (head) => {
        // Held until the caller has set its own callbacks: DATA in the same read must not be lost.
        stream.pause();
        stream.onResponse = undefined;
        stream.onClose = undefined;
        // RFC 8441 §5: a 2xx opens the tunnel.
        if (head.status >= 200 && head.status < 300) settle({ kind: 'open', stream, headers: head.headers });
        else settle({ kind: 'status', stream, status: head.status, headers: head.headers });
      };
      stream.onClose = (close) => {
        if (signal?.aborted) settle({ kind: 'error', message: 'aborted' });
        // RFC 9113 §8.7: REFUSED_STREAM, or above a GOAWAY's last stream id: never processed.
        else if (close.unprocessed) settle('retry');
        else settle({ kind: 'error', message: `the stream closed before a response (${close.code === undefined ? 'END_STREAM' : `RST_STREAM ${codeName(close.code)}`})` });
      };
    });
  }
}

function isOutcome(value: Pooled | TunnelOpen): value is TunnelOpen {
  return 'kind' in value;
}

/** Can new streams still go on this connection (no GOAWAY either way, not closed)? */
function usable(pooled: Pooled): boolean {
  const { session } = pooled;
  const { connection } = session;
  return !session.closed && !connection.closed && connection.goawayReceived === undefined && connection.goawaySent === undefined;
}

/** Waits until a slot may have freed (or the connection went away), or the signal aborts. */
function wait(entry: Origin, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      entry.waiting.delete(wake);
      signal?.removeEventListener('abort', wake);
      resolve();
    };
    entry.waiting.add(wake);
    signal?.addEventListener('abort', wake, { once: true });
  });
}

function wakeAll(entry: Origin): void {
  if (entry.waiting.size === 0) return;
  for (const wake of [...entry.waiting]) wake();
}

/** `promise`, or undefined as soon as `signal` aborts (the promise itself goes on). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}

/** Errors where HTTP/1.1 would fail the same way: no fallback, the caller hears of it. */
function unreachable(err: NodeJS.ErrnoException): boolean {
  const code = err.code ?? '';
  return (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    code === 'ETIMEDOUT' ||
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) ||
    /certificate|self.signed|refused/i.test(err.message)
  );
}

function describe(err: NodeJS.ErrnoException): string {
  return err.code !== undefined && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
}

const CODE_NAMES = Object.fromEntries(Object.entries(H2ErrorCode).map(([name, code]) => [code, name])) as Record<number, string>;

function codeName(code: number): string {
  return CODE_NAMES[code] ?? `0x${code.toString(16)}`;
}
