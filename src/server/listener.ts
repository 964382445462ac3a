import net from 'node:net';
import tls from 'node:tls';

/** The HTTP/2 connection preface a client sends first (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** ECDHE with AES-GCM or ChaCha20-Poly1305: the TLS 1.2 suites RFC 9113 §9.2.2 allows and browsers offer. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The longest delay a timer takes (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ConnectionSink {
  /** Hands an accepted connection to the HTTP/2 server. */
  h2(socket: net.Socket): void;
  /** Hands an accepted connection to the HTTP/1.1 server. */
  h1(socket: net.Socket): void;
}

export interface FrontListener {
  readonly server: net.Server;
  /** Destroys every connection still open (the last step of a shutdown). */
  destroyAll(): void;
  /**
   * For connections accepted from now on (a reload): a new certificate and key, a new
   * handshake deadline. Connections already open keep theirs. Throws if the TLS stack refuses
   * the pair; the caller checks it first (tls-credentials.ts).
   */
  update(next: { tls?: { cert: string; key: string }; handshakeMs: number }): void;
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
): FrontListener {
  const open = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    open.add(socket);
    socket.on('error', noop);
    socket.once('close', () => open.delete(socket));
  };
  // Slowloris: a connection that has not said which protocol it speaks in time is dropped.
  const deadline = (socket: net.Socket) => {
    const timer = setTimeout(() => socket.destroy(), handshakeMs);
    const release = () => clearTimeout(timer);
    socket.once('close', release);
    return () => {
      release();
      socket.removeListener('close', release);
    };
  };
  let server: net.Server;
  if (tlsOptions !== undefined) {
    // The TLS handshake deadline is kept here rather than as the server's handshakeTimeout,
    // which no runtime lets a reload change (that one is set out of the way). The TLS socket
    // of a raw connection is found by its peer's address and port: the runtimes link the two
    // objects differently.
    server = tls.createServer({ ...secureOptions(tlsOptions), handshakeTimeout: MAX_TIMER_MS });
    const handshaking = new Map<string, ReturnType<typeof setTimeout>>();
    const peer = (socket: net.Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
    server.on('connection', (socket: net.Socket) => {
      track(socket);
      const key = peer(socket);
      handshaking.set(key, setTimeout(() => socket.destroy(), handshakeMs));
      socket.once('close', () => {
        clearTimeout(handshaking.get(key));
        handshaking.delete(key);
      });
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const key = peer(socket);
      clearTimeout(handshaking.get(key));
      handshaking.delete(key);
      track(socket);
      socket.setNoDelay(true);
      if (socket.alpnProtocol === 'h2') sink.h2(socket);
      else sink.h1(socket);
    });
    // A failed handshake, or the deadline above destroying the raw socket.
    server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => socket.destroy());
  } else {
    server = net.createServer({ allowHalfOpen: false }, (socket) => {
      socket.setNoDelay(true);
      track(socket);
      const release = deadline(socket);
      sniff(socket, (isH2) => {
        release();
        if (isH2) sink.h2(socket);
        else sink.h1(socket);
      });
    });
  }
  return {
    server,
    destroyAll() {
      for (const socket of open) socket.destroy();
    },
    update(next) {
      if (next.tls !== undefined && server instanceof tls.Server) server.setSecureContext(secureOptions(next.tls));
      handshakeMs = next.handshakeMs;
    },
  };
}

/**
 * The listener's TLS settings. RFC 9113 §9.2: TLS 1.2 or later, and with TLS 1.2 only
 * ephemeral key exchange and AEAD ciphers (none of the §9.2.2 block list); TLS 1.3 suites
 * are all AEAD. A reload hands the same set to setSecureContext, which Node, Deno and Bun
 * all apply to the next handshake.
 */
function secureOptions(pair: { cert: string; key: string }): tls.TlsOptions {
  return {
    cert: pair.cert,
    key: pair.key,
    ALPNProtocols: ['h2', 'http/1.1'],
    minVersion: 'TLSv1.2',
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
  };
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
