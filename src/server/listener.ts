import net from 'node:net';
import tls from 'node:tls';

/** The HTTP/2 connection preface a client sends first (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface ConnectionSink {
  /** Hands an accepted connection to the HTTP/2 server. */
  h2(socket: net.Socket): void;
  /** Hands an accepted connection to the HTTP/1.1 server. */
  h1(socket: net.Socket): void;
}

/**
 * One port, both protocols. TLS: ALPN picks h2 or http/1.1 (RFC 7301). Cleartext: the
 * first bytes decide, the h2c preface (prior knowledge, RFC 9113 §3.3) or an HTTP/1.1
 * request line. A connection that says nothing within `handshakeMs` is closed.
 */
export function createFrontListener(
  tlsOptions: { cert: string; key: string } | undefined,
  sink: ConnectionSink,
  handshakeMs: number,
): net.Server {
  const pending = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    pending.add(socket);
    socket.on('error', noop);
    const timer = setTimeout(() => socket.destroy(), handshakeMs);
    const release = () => {
      clearTimeout(timer);
      pending.delete(socket);
    };
    socket.once('close', release);
    return release;
  };
  let server: net.Server;
  if (tlsOptions !== undefined) {
    server = tls.createServer({
      cert: tlsOptions.cert,
      key: tlsOptions.key,
      ALPNProtocols: ['h2', 'http/1.1'],
      minVersion: 'TLSv1.2',
      handshakeTimeout: handshakeMs,
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      socket.on('error', noop);
      socket.setNoDelay(true);
      if (socket.alpnProtocol === 'h2') sink.h2(socket);
      else sink.h1(socket);
    });
    server.on('tlsClientError', noop);
  } else {
    server = net.createServer({ allowHalfOpen: false }, (socket) => {
      socket.setNoDelay(true);
      const release = track(socket);
      sniff(socket, (isH2) => {
        release();
        socket.removeListener('close', release);
        if (isH2) sink.h2(socket);
        else sink.h1(socket);
      });
    });
  }
  server.on('close', () => {
    for (const socket of pending) socket.destroy();
  });
  return server;
}

/**
 * Reads the first bytes, puts them back, and decides: h2c preface or HTTP/1.1. Uses
 * 'readable' + read() rather than 'data', so the socket is never switched to flowing mode
 * before its new owner takes it (the h2 session reads the native handle directly).
 */
function sniff(socket: net.Socket, decide: (isH2: boolean) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    if (seen.length === 0) return;
    const n = Math.min(seen.length, PREFACE.length);
    const matches = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (matches && n < PREFACE.length) return; // a prefix of the preface: wait for more
    socket.removeListener('readable', onReadable);
    socket.unshift(seen);
    decide(matches);
  };
  socket.on('readable', onReadable);
}

function noop(): void {}
