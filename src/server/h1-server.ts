import http from 'node:http';
import type net from 'node:net';
import { h1ErrorResponse } from '../handshake/client-response.ts';
import { runtimeName } from '../runtime/detect.ts';

export interface H1Handlers {
  /** A plain request. */
  request(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** An `Upgrade` request; the socket is the caller's from here on. */
  upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void;
}

export interface H1Server {
  readonly server: http.Server;
  /** Serves a connection the front listener accepted and sniffed as HTTP/1.1. */
  accept(socket: net.Socket): void;
}

/**
 * The HTTP/1.1 side of the listener: plain requests, WebSocket upgrades, and the answers the
 * design table gives to what h2ws does not serve (501 for CONNECT, 431 or 400 for heads it
 * cannot parse). The server never listens itself; the front listener hands it connections.
 */
export function createH1Server(limits: { maxHeaderListSize: number }, handshakeMs: number, handlers: H1Handlers): H1Server {
  // Slowloris: node's headersTimeout is driven by a timer that only runs on a listening server,
  // and this one is fed with emit('connection'), so the first request head is timed here.
  const headDeadlines = new WeakMap<net.Socket, () => void>();
  const headArrived = (socket: net.Socket) => headDeadlines.get(socket)?.();
  const server = http.createServer({ maxHeaderSize: limits.maxHeaderListSize }, (req, res) => {
    headArrived(req.socket);
    handlers.request(req, res);
  });
  if (runtimeName() === 'deno') keepAliveWithoutListening(server);
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    headArrived(socket);
    handlers.upgrade(req, socket, head);
  });
  // HTTP/1.1 CONNECT: h2ws is not a forward proxy (design table: 501).
  server.on('connect', (_req: http.IncomingMessage, socket: net.Socket) => {
    headArrived(socket);
    socket.on('error', noop);
    socket.end(h1ErrorResponse(501, {}, 'h2ws is not a forward proxy\n'));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // RFC 6585 §5: a head over limits.maxHeaderListSize is 431; anything else unparsable is 400.
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    if (socket.writable) socket.end(tooLarge ? h1ErrorResponse(431, {}, 'request header fields too large\n') : h1ErrorResponse(400, {}, 'malformed HTTP/1.1 request\n'));
    else socket.destroy();
  });
  return {
    server,
    accept(socket) {
      const timer = setTimeout(() => socket.destroy(), handshakeMs);
      const clear = () => {
        clearTimeout(timer);
        headDeadlines.delete(socket);
      };
      headDeadlines.set(socket, clear);
      socket.once('close', clear);
      server.emit('connection', socket);
    },
  };
}

/**
 * HTTP/1.1 keep-alive (RFC 9112 §9.3) on Deno. Deno's node:http destroys a connection after
 * each response when its server is not listening (its resOnFinish checks `server.listening`;
 * Node and Bun do not), so this server, which never listens itself, served one request per
 * connection in cleartext and reset the next one over TLS. It says it listens: the front
 * listener does, for it. Nothing else in Deno's node:http reads the flag for a server fed
 * with emit('connection').
 */
function keepAliveWithoutListening(server: http.Server): void {
  Object.defineProperty(server, 'listening', { configurable: true, get: () => true });
}

function noop(): void {}
