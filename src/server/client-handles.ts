import type http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import type { H2Stream } from '../h2/stream.ts';
import { H2UpgradedStream } from '../h2/upgraded-stream.ts';
import { h1AcceptHead, h1ErrorResponse, h2AcceptHeaders, type ResponseFields } from '../handshake/client-response.ts';
import type { WebSocketRequest } from '../handshake/websocket-request.ts';
import { upgradeMessage } from '../websocket/upgrade-request.ts';
import type { ClientHandle } from './bridge.ts';
import { h2StreamEnd, socketEnd } from './tunnel-ends.ts';

/** The upgraded byte stream handed to ws: a TCP socket for HTTP/1.1, an h2 stream view for RFC 8441. */
export interface UpgradedClient {
  readonly socket: Duplex;
  /** Bytes the client sent after its handshake (HTTP/1.1 only). */
  readonly head: Buffer;
  /** The handshake as node's IncomingMessage: the real one on HTTP/1.1, rebuilt on HTTP/2. */
  readonly message: object;
}

/**
 * The client's side of a validated handshake, whichever transport it came over: how to
 * answer it (200 on h2, 101 on HTTP/1.1), refuse it, or hand its connection to ws in-process.
 */
export interface InProcessClient extends ClientHandle {
  /** Takes over the client's connection; `key` fills Sec-WebSocket-Key where HTTP/2 has none. */
  upgrade(key: string): UpgradedClient;
}

const EMPTY = Buffer.alloc(0);

/** An error answer on an h2 stream that has not responded yet: status, plain-text body, END_STREAM. */
export function respondH2(stream: H2Stream, status: number, headers: ResponseFields, body: Uint8Array | string): void {
  if (stream.closed || stream.headersSent) return;
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', ...headers, 'content-length': payload.length });
  stream.end(payload);
}

/** An error answer on an HTTP/1.1 connection that asked to upgrade, then the connection closes. */
export function refuseH1(socket: net.Socket, status: number, headers: ResponseFields, body: Uint8Array | string): void {
  if (socket.writable) socket.end(h1ErrorResponse(status, headers, body));
  socket.destroySoon?.();
}

/**
 * The client's abort signal: it fires when the client goes away (RST_STREAM, a closed
 * connection) before its handshake is answered, and is detached once it is.
 */
function abortOnClose(stream: Duplex): { signal: AbortSignal; answered(): void } {
  const controller = new AbortController();
  const onClose = () => controller.abort();
  stream.once('close', onClose);
  return { signal: controller.signal, answered: () => stream.removeListener('close', onClose) };
}

/**
 * The client's abort signal for an h2 stream: it fires when the client resets the stream or
 * its connection goes, before the handshake is answered. The stream stays paused meanwhile:
 * what the client sends early waits for the tunnel.
 */
function abortOnReset(stream: H2Stream): { signal: AbortSignal; answered(): void } {
  const controller = new AbortController();
  stream.pause();
  stream.onClose = () => controller.abort();
  if (stream.closed) controller.abort();
  return { signal: controller.signal, answered: () => (stream.onClose = undefined) };
}

/**
 * An extended CONNECT stream (RFC 8441 §4) as a client handle. `closeGraceMs`: how long an
 * in-process WebSocket waits for the client's END_STREAM after its closing handshake
 * (bridged tunnels get it from the relay; see tunnel/close-grace.ts).
 */
export function h2Client(stream: H2Stream, request: WebSocketRequest, options: { secure: boolean; closeGraceMs: number }): InProcessClient {
  const { signal, answered } = abortOnReset(stream);
  const { secure, closeGraceMs } = options;
  const { remoteAddress, remotePort } = stream;
  return {
    forwarded: { clientAddress: remoteAddress ?? 'unknown', proto: secure ? 'https' : 'http' },
    signal,
    accept: (negotiated) => {
      answered();
      stream.respond(h2AcceptHeaders(negotiated));
      return h2StreamEnd(stream);
    },
    refuse: (status, headers, body) => {
      answered();
      respondH2(stream, status, headers, body);
    },
    upgrade: (key) => {
      answered();
      const peer = { remoteAddress, remotePort, encrypted: secure };
      return { socket: new H2UpgradedStream(stream, undefined, closeGraceMs), head: EMPTY, message: upgradeMessage(request, key, peer) };
    },
  };
}

/** An HTTP/1.1 Upgrade (RFC 6455 §4.2) as a client handle; `head` is what the client sent after it. */
export function h1Client(req: http.IncomingMessage, socket: net.Socket, head: Buffer, request: WebSocketRequest): InProcessClient {
  const { signal, answered } = abortOnClose(socket);
  const clientKey = request.clientKey!;
  return {
    forwarded: { clientAddress: socket.remoteAddress ?? 'unknown', proto: (socket as tls.TLSSocket).encrypted ? 'https' : 'http' },
    signal,
    initial: head,
    accept: (negotiated) => {
      answered();
      socket.write(h1AcceptHead(clientKey, negotiated), 'latin1');
      return socketEnd(socket);
    },
    refuse: (status, headers, body) => refuseH1(socket, status, headers, body),
    upgrade: () => {
      answered();
      return { socket, head, message: req };
    },
  };
}
