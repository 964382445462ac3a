import http from 'node:http';
import https from 'node:https';
import { ErrorCode } from '../errors.ts';
import { type ForwardedFor, forwardingFields } from '../handshake/backend-request.ts';
import { endToEndFields, endToEndLines } from '../handshake/hop-by-hop.ts';
import type { Logger } from '../log/logger.ts';
import type { UpstreamTarget } from '../routing/http-routes.ts';
import { readableBody } from './readable-body.ts';

/**
 * The reverse proxy for plain HTTP requests (docs/http-proxy.md). A WHATWG Request from the
 * fetch adapter (HTTP/2 or HTTP/1.1 client) goes to the upstream with node:http's client and
 * comes back as a Response, both bodies streamed with backpressure.
 *
 * node:http rather than the runtime's fetch (bench/http-client/measure.mjs): fetch decodes
 * `Content-Encoding` itself on Node, Deno and Bun and keeps the header, so a gzip body would
 * reach the client decoded but labelled gzip; and on Node 20 a streamed fetch upload was held
 * in memory whole.
 */
export interface ProxyPeer extends ForwardedFor {
  /** The protocol the request arrived with, for Via. */
  readonly transport: 'h2' | 'h1';
  /** The peer is in `trustedProxies`: its forwarding fields are kept and extended. */
  readonly trustedProxy: boolean;
}

export interface ProxyTimeouts {
  /** TCP (and TLS) connect to the upstream; past it, 502. */
  readonly connectMs: number;
  /** The upstream neither takes request bytes nor starts its response for this long: 504. */
  readonly responseMs: number;
}

export interface ProxyRequest {
  readonly request: Request;
  readonly upstream: UpstreamTarget;
  /** The request target to send (path and query). */
  readonly target: string;
  readonly rewriteHost: boolean;
  readonly peer: ProxyPeer;
}

/** Idle keep-alive connections kept per upstream (RFC 9112 §9.3 persistence). */
const MAX_FREE_SOCKETS = 64;

export class HttpProxy {
  /** Read per request, so a reload's new timeouts apply to the next request. */
  timeouts: ProxyTimeouts;
  readonly #logger: Logger;
  readonly #http = new http.Agent({ keepAlive: true, maxFreeSockets: MAX_FREE_SOCKETS, scheduling: 'lifo' });
  readonly #https = new https.Agent({ keepAlive: true, maxFreeSockets: MAX_FREE_SOCKETS, scheduling: 'lifo' });

  constructor(timeouts: ProxyTimeouts, logger: Logger) {
    this.timeouts = timeouts;
    this.#logger = logger;
  }

  /** Forwards one request; resolves with the upstream's response, or 502/504 when there is none. */
  forward(proxied: ProxyRequest): Promise<Response> {
    return new Promise<Response>((resolve) => this.#attempt(proxied, resolve, true));
  }

  /**
   * One try. A request without a body that fails on a reused keep-alive connection before any
   * response is tried once more on a fresh one: the upstream closed that connection as the
   * request went out (RFC 9112 §9.3.1 allows retrying then), which is no fault of the upstream.
   */
  #attempt({ request, upstream, target, rewriteHost, peer }: ProxyRequest, resolve: (response: Response) => void, mayRetry: boolean): void {
    const { connectMs, responseMs } = this.timeouts;
    let answered = false;
    let clientGone = false;
    const upstreamRequest = (upstream.secure ? https : http).request({
      host: upstream.host,
      port: upstream.port,
      method: request.method,
      path: target,
      headers: upstreamFields(request, upstream, rewriteHost, peer),
      agent: upstream.secure ? this.#https : this.#http,
      ...(upstream.secure && { servername: upstream.host }),
    });
    // Connect and response deadlines; the latter restarts whenever the upstream takes
    // request bytes, so a long upload is not cut while it moves.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (ms: number, status: 502 | 504, message: string) => {
      clearTimeout(timer);
      if (!answered) timer = setTimeout(() => fail(status, message), ms);
    };
    const waitForResponse = () => arm(responseMs, 504, `upstream ${upstream.url} did not answer within ${responseMs} ms`);
    const fail = (status: 502 | 504, message: string) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      upstreamRequest.destroy();
      if (clientGone) {
        this.#logger.debug('upstream', { path: target, upstream: upstream.url, end: 'cancelled by client' });
      } else {
        const code = status === 504 ? ErrorCode.BACKEND_TIMEOUT : ErrorCode.BACKEND_UNREACHABLE;
        this.#logger.warn('upstream_error', { path: target.split('?')[0], upstream: upstream.url, status, code, message });
      }
      resolve(new Response(`${message}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } }));
    };
    upstreamRequest.on('socket', (socket) => {
      if (!socket.connecting) return waitForResponse();
      arm(connectMs, 502, `upstream ${upstream.url} did not accept the connection within ${connectMs} ms`);
      socket.once(upstream.secure ? 'secureConnect' : 'connect', waitForResponse);
    });
    upstreamRequest.on('error', (err: NodeJS.ErrnoException) => {
      if (!answered && mayRetry && request.body === null && upstreamRequest.reusedSocket) {
        answered = true;
        clearTimeout(timer);
        this.#attempt({ request, upstream, target, rewriteHost, peer }, resolve, false);
        return;
      }
      fail(502, `cannot reach upstream ${upstream.url}: ${err.code ?? err.message}`);
    });
    upstreamRequest.on('response', (response) => {
      if (answered) return void response.destroy();
      answered = true;
      clearTimeout(timer);
      const status = response.statusCode ?? 502;
      // RFC 9110 §6.4.1: no content after HEAD, 204 or 304, whatever the fields say.
      const bodiless = request.method === 'HEAD' || status === 204 || status === 304;
      if (bodiless) response.resume();
      const headers = new Headers();
      for (const [name, value] of endToEndLines(response.rawHeaders)) headers.append(name, value);
      try {
        resolve(new Response(bodiless ? null : readableBody(response), { status, statusText: response.statusMessage ?? '', headers }));
      } catch (err) {
        response.destroy();
        answered = false;
        fail(502, `upstream ${upstream.url} sent an unusable response: ${(err as Error).message}`);
      }
    });
    void sendBody(request.body, upstreamRequest, waitForResponse).catch(() => {
      // Reading the client's body failed: the client reset or went away.
      clientGone = true;
      fail(502, 'the client went away during its request');
    });
  }

  /** Closes the idle upstream connections (part of the gateway's shutdown). */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}

/**
 * The upstream request's fields: the client's end-to-end fields (hop-by-hop ones and those
 * named in Connection removed, RFC 9110 §7.6.1) with h2ws's hop added as the WebSocket bridge
 * adds it (X-Forwarded-For/-Proto, Forwarded, Via). Host is the client's (`:authority` on
 * HTTP/2) unless `rewriteHost`, which sends the upstream's and X-Forwarded-Host.
 */
function upstreamFields(request: Request, upstream: UpstreamTarget, rewriteHost: boolean, peer: ProxyPeer): Record<string, string> {
  const received: Record<string, string> = {};
  request.headers.forEach((value, name) => (received[name] = value));
  const forwardHeaders = endToEndFields(received);
  const clientHost = forwardHeaders.host ?? new URL(request.url).host;
  delete forwardHeaders.host;
  // A body the fetch adapter does not pass on (GET, HEAD) must not be announced upstream, or
  // the upstream would wait for bytes that never come.
  if (request.body === null) delete forwardHeaders['content-length'];
  const out: Record<string, string> = { host: rewriteHost ? upstream.authority : clientHost };
  for (const [name, value] of forwardingFields({ forwardHeaders, trustedProxy: peer.trustedProxy, transport: peer.transport }, peer)) out[name] = value;
  // The host the client asked for, where Host no longer says it.
  if (rewriteHost) out['x-forwarded-host'] = clientHost;
  return out;
}

/** Streams the request body upstream, waiting for 'drain' whenever the socket's buffer is full. */
async function sendBody(body: ReadableStream<Uint8Array> | null, out: http.ClientRequest, progress: () => void): Promise<void> {
  if (body === null) {
    out.end();
    return;
  }
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (out.destroyed) return void reader.cancel().catch(() => {});
      if (!out.write(value)) {
        await drained(out);
        progress();
      }
    }
  } finally {
    reader.releaseLock();
  }
  out.end();
}

function drained(out: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.removeListener('drain', done);
      out.removeListener('close', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
  });
}
