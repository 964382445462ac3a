import { WebSocket } from 'ws';
import { ErrorCode, H2wsError } from '../errors.ts';
import { H2ErrorCode } from '../h2/error-codes.ts';
import { type ClientTlsOptions, H2SessionPool } from '../h2/client-pool.ts';
import { WEBSOCKET_VERSION } from '../handshake/extended-connect.ts';
import { HOP_BY_HOP, isToken } from '../handshake/headers.ts';
import { DEFAULT_MAX_PAYLOAD } from '../websocket/options.ts';
import { WebSocketStream } from '../websocket/stream.ts';
import { H2Socket } from './h2-socket.ts';

/** Options for `connect` and `connectStream`. */
export interface ConnectOptions extends ClientTlsOptions {
  /** Subprotocols to offer (RFC 6455 §4.1), most preferred first. */
  readonly protocols?: string | readonly string[];
  /** Extra request fields (e.g. `authorization`, `origin`, `cookie`). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * "auto" (the default): RFC 8441 over HTTP/2 when the server advertises
   * SETTINGS_ENABLE_CONNECT_PROTOCOL, else an HTTP/1.1 upgrade. "h2": RFC 8441 or fail.
   * "h1": always HTTP/1.1.
   */
  readonly transport?: 'auto' | 'h2' | 'h1';
  /** The largest message accepted; a bigger one closes with 1009. Default 16 MiB. */
  readonly maxPayload?: number;
  /** Aborts the handshake. */
  readonly signal?: AbortSignal;
  /** The HTTP/2 sessions to share. Default: one pool per process, one session per origin. */
  readonly pool?: H2SessionPool;
  /** Gives up on the handshake after this long. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

/** A `ws` WebSocket (client side) that says which transport carries it. */
export type ClientWebSocket = WebSocket & { readonly transport: 'h2' | 'h1' };

/** A WebSocketStream (client side) that says which transport carries it. */
export type ClientWebSocketStream = WebSocketStream & { readonly transport: 'h2' | 'h1' };

let sharedPool: H2SessionPool | undefined;

/** The process-wide pool `connect` uses by default; its idle sessions do not keep the process alive. */
export function defaultPool(): H2SessionPool {
  sharedPool ??= new H2SessionPool();
  return sharedPool;
}

const EMPTY = Buffer.alloc(0);

/** One pool per set of TLS options, so sockets given the same `ca` still share a connection. */
const tlsPools = new Map<string, H2SessionPool>();

function poolFor(options: ClientTlsOptions): H2SessionPool {
  if (options.ca === undefined && options.rejectUnauthorized !== false) return defaultPool();
  const key = JSON.stringify([options.ca ?? null, options.rejectUnauthorized !== false]);
  let pool = tlsPools.get(key);
  if (pool === undefined) {
    pool = new H2SessionPool({ tls: { ...(options.ca !== undefined && { ca: options.ca }), ...(options.rejectUnauthorized === false && { rejectUnauthorized: false }) } });
    tlsPools.set(key, pool);
  }
  return pool;
}

/**
 * Opens a WebSocket as a client. Over HTTP/2 every socket to one origin shares one
 * connection (RFC 8441): the first `connect` to an origin opens it, the rest add streams.
 * Resolves once open with a `ws` WebSocket (`on('message')`, `send`, `close`), or rejects
 * with an H2wsError (`code` H2WS_ERR_HANDSHAKE, and `status` when the server answered).
 *
 * @example
 * ```ts
 * import { connect } from './mod.ts';
 * const ws = await connect('wss://example.com/chat', { protocols: ['chat'] });
 * ws.on('message', (data) => console.log(String(data)));
 * ws.send('hello');
 * console.log(ws.transport); // "h2" when the server offers RFC 8441
 * ```
 */
export async function connect(url: string | URL, options: ConnectOptions = {}): Promise<ClientWebSocket> {
  const target = parseTarget(url);
  const protocols = typeof options.protocols === 'string' ? [options.protocols] : [...(options.protocols ?? [])];
  for (const p of protocols) if (!isToken(p)) throw new H2wsError(ErrorCode.HANDSHAKE, `subprotocol "${p}" is not a token (RFC 6455 §4.1)`);
  const transport = options.transport ?? 'auto';
  const timeout = AbortSignal.timeout(options.handshakeTimeoutMs ?? 10_000);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
  if (transport !== 'h1') {
    const ws = await connectH2(target, protocols, options, signal);
    if (ws !== undefined) return ws;
    if (transport === 'h2') throw new H2wsError(ErrorCode.HANDSHAKE, `${target.origin} does not offer WebSocket over HTTP/2 (RFC 8441)`);
  }
  return connectH1(target, protocols, options, signal);
}

/** Like `connect`, with the socket as Web Streams (the WHATWG WebSocketStream shape). */
export async function connectStream(url: string | URL, options: ConnectOptions = {}): Promise<ClientWebSocketStream> {
  const ws = await connect(url, options);
  return Object.assign(new WebSocketStream(ws, ws.url), { transport: ws.transport });
}

interface Target {
  readonly url: URL;
  /** "https://host:port" or "http://host:port" */
  readonly origin: string;
  readonly authority: string;
  readonly path: string;
}

function parseTarget(input: string | URL): Target {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new H2wsError(ErrorCode.HANDSHAKE, `"${String(input)}" is not a URL; expected ws://, wss://, http:// or https://`);
  }
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  if (!secure && url.protocol !== 'ws:' && url.protocol !== 'http:') throw new H2wsError(ErrorCode.HANDSHAKE, `"${url.href}": the scheme must be ws:, wss:, http: or https:`);
  if (url.hash !== '') throw new H2wsError(ErrorCode.HANDSHAKE, `"${url.href}": a WebSocket URL has no fragment (RFC 6455 §3)`);
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const authority = url.port === '' ? url.host : `${url.hostname}:${port}`;
  return { url, origin: `${secure ? 'https' : 'http'}://${url.hostname}:${port}`, authority, path: `${url.pathname}${url.search}` };
}

/** Request fields a caller may add: no pseudo-headers, no hop-by-hop fields, nothing the handshake sets. */
function extraFields(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower.startsWith(':') || HOP_BY_HOP.has(lower) || lower === 'host' || lower.startsWith('sec-websocket-')) continue;
    out[lower] = value;
  }
  return out;
}

/** RFC 8441 §4-5 as the client: extended CONNECT, then a 2xx opens the stream as the WebSocket. */
async function connectH2(target: Target, protocols: readonly string[], options: ConnectOptions, signal: AbortSignal): Promise<ClientWebSocket | undefined> {
  const pool = options.pool ?? poolFor(options);
  const fields: Record<string, string> = { ...extraFields(options.headers), 'sec-websocket-version': WEBSOCKET_VERSION };
  if (protocols.length > 0) fields['sec-websocket-protocol'] = protocols.join(', ');
  const opened = await pool.openTunnel(target.origin, target.path, target.authority, fields, signal);
  if (opened.kind === 'no-rfc8441') return undefined;
  if (opened.kind === 'error') {
    throw new H2wsError(ErrorCode.HANDSHAKE, signal.aborted ? `the WebSocket handshake with ${target.url.href} did not finish in time` : `cannot open a WebSocket to ${target.url.href}: ${opened.message}`);
  }
  if (opened.kind === 'status') {
    opened.stream.reset(H2ErrorCode.CANCEL);
    throw new H2wsError(ErrorCode.HANDSHAKE, `${target.url.href} answered the WebSocket handshake with ${opened.status}`, { status: opened.status });
  }
  const { stream, headers } = opened;
  // RFC 6455 §4.1 (the client's checks, as RFC 8441 §5 keeps them): a subprotocol the client
  // did not offer, or any extension (none was offered), fails the connection.
  const protocol = typeof headers['sec-websocket-protocol'] === 'string' ? headers['sec-websocket-protocol'] : undefined;
  const fail = (why: string): never => {
    stream.reset(H2ErrorCode.CANCEL);
    throw new H2wsError(ErrorCode.HANDSHAKE, `${target.url.href}: ${why}`);
  };
  if (protocol !== undefined && !protocols.includes(protocol)) fail(`the server chose the subprotocol "${protocol}", which was not offered`);
  if (headers['sec-websocket-extensions'] !== undefined) fail(`the server accepted extensions "${String(headers['sec-websocket-extensions'])}", which were not offered`);
  // ws aborts with socket.destroy(): RST_STREAM(CANCEL) alone (RFC 9113 §8.7), see H2Socket.
  const socket = new H2Socket(stream);
  const ws = new WebSocket(null as never, undefined, { autoPong: true, maxPendingAutoPongs: 60, closeTimeout: 30_000 } as never);
  // ws runs a server-side socket when it has no URL; this one is the client: it masks what it
  // sends and expects unmasked frames (RFC 6455 §5.1).
  Object.assign(ws, { _isServer: false, _bufferedAmount: 0, _url: target.url.href, _protocol: protocol ?? '' });
  (ws as unknown as { setSocket(socket: unknown, head: Buffer, options: object): void }).setSocket(socket, EMPTY, {
    allowSynchronousEvents: true,
    maxBufferedChunks: 256 * 1024,
    maxFragments: 16 * 1024,
    maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
    skipUTF8Validation: false,
  });
  holdMessages(ws);
  return Object.assign(ws, { transport: 'h2' as const });
}

/**
 * Messages can arrive together with the handshake's answer. The socket is paused until the
 * caller's `await connect(…)` has run, so listeners attached right after it miss nothing.
 */
function holdMessages(ws: WebSocket): void {
  ws.pause();
  setImmediate(() => ws.resume());
}

/** RFC 6455 §4.1 over HTTP/1.1, by ws's own client (which also offers permessage-deflate). */
function connectH1(target: Target, protocols: readonly string[], options: ConnectOptions, signal: AbortSignal): Promise<ClientWebSocket> {
  return new Promise((resolve, reject) => {
    const url = new URL(target.url);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    if (url.protocol === 'https:') url.protocol = 'wss:';
    const ca = options.ca;
    const ws = new WebSocket(url, [...protocols], {
      headers: extraFields(options.headers),
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      ...(ca !== undefined && { ca: typeof ca === 'string' ? ca : [...ca] }),
      ...(options.rejectUnauthorized === false && { rejectUnauthorized: false }),
    });
    const onAbort = () => ws.terminate();
    signal.addEventListener('abort', onAbort, { once: true });
    ws.once('open', () => {
      holdMessages(ws);
      signal.removeEventListener('abort', onAbort);
      ws.removeListener('error', onError);
      ws.on('error', () => {});
      resolve(Object.assign(ws, { transport: 'h1' as const }));
    });
    let status: number | undefined;
    ws.once('unexpected-response', (_req, res) => {
      status = res.statusCode;
      res.resume();
      ws.terminate();
    });
    const onError = (err: Error) => {
      signal.removeEventListener('abort', onAbort);
      const why = signal.aborted ? 'did not finish in time' : status !== undefined ? `was answered with ${status}` : `failed: ${err.message}`;
      reject(new H2wsError(ErrorCode.HANDSHAKE, `the WebSocket handshake with ${target.url.href} ${why}`, status === undefined ? { cause: err } : { status, cause: err }));
    };
    ws.once('error', onError);
    ws.once('close', () => onError(new Error('closed')));
  });
}
