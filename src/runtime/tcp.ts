import net from 'node:net';
import tls from 'node:tls';
import type { BackendTarget } from '../routing/route-table.ts';

/** Refused, DNS failure, connect timeout or cancelled: all answered 502 (design table). */
export type DialFailure = { readonly message: string };

/**
 * Opens a TCP (or TLS, for wss://) connection to a backend. Half-open is allowed so that a
 * client's END_STREAM can become a FIN while the backend keeps sending (RFC 9113 §8.5).
 */
export function dial(target: BackendTarget, timeoutMs: number, signal: AbortSignal): Promise<net.Socket | DialFailure> {
  return new Promise((resolve) => {
    // The client reset its stream before the dial began: no connection is opened at all.
    if (signal.aborted) {
      resolve({ message: 'client went away' });
      return;
    }
    const socket: net.Socket = target.secure
      ? tls.connect({ host: target.host, port: target.port, servername: net.isIP(target.host) ? undefined : target.host, ALPNProtocols: ['http/1.1'], allowHalfOpen: true } as tls.ConnectionOptions)
      : net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    // A permanent listener: a late error on a socket nobody reads must never crash the process.
    socket.on('error', ignore);
    const done = (result: net.Socket | DialFailure) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      socket.removeListener(target.secure ? 'secureConnect' : 'connect', onConnect);
      if (result !== socket) socket.destroy();
      resolve(result);
    };
    const onConnect = () => {
      socket.setNoDelay(true);
      done(socket);
    };
    const onError = (err: NodeJS.ErrnoException) =>
      done({ message: `cannot connect to backend ${target.url}: ${err.code ?? err.message}` });
    const onAbort = () => done({ message: 'client went away' });
    const timer = setTimeout(
      () => done({ message: `backend ${target.url} did not accept the connection within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once(target.secure ? 'secureConnect' : 'connect', onConnect);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function ignore(): void {}

/**
 * Aborts a TCP connection with RST rather than FIN, so the peer sees an abort
 * (RFC 8441 §4 maps RST_STREAM to a TCP reset). Falls back to destroy() (FIN) where a
 * runtime lacks resetAndDestroy, or after h2ws has already sent a FIN.
 */
export function resetSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  // Once a FIN has been queued, libuv refuses to reset (uv_tcp_close_reset: EINVAL) and the
  // handle would never close; a plain close is all that is left.
  if (socket.writableEnded) {
    socket.destroy();
    return;
  }
  const withReset = socket as net.Socket & { resetAndDestroy?: () => void };
  if (typeof withReset.resetAndDestroy === 'function') {
    try {
      withReset.resetAndDestroy();
      return;
    } catch {
      // Not a TCP handle underneath (a TLS wrapper on some runtimes): fall through to destroy.
    }
  }
  socket.destroy();
}
