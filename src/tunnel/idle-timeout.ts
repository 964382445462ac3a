import type { OpenTunnel } from './open-tunnel.ts';

/**
 * Idle timeout: a tunnel that carried no bytes either way during one `idleMs` interval is
 * closed with 1001 "idle timeout" (RFC 6455 §7.4.1), so it ends between `idleMs` and twice
 * that after its last byte. WebSocket pings count as traffic.
 */
export function watchIdle(tunnel: OpenTunnel, idleMs: number, graceMs: number): void {
  let last = tunnel.bytesToBackend + tunnel.bytesToClient;
  const timer = setInterval(() => {
    const now = tunnel.bytesToBackend + tunnel.bytesToClient;
    if (now === last) tunnel.shutdown(1001, 'idle timeout', graceMs);
    last = now;
  }, idleMs);
  void tunnel.closed.then(() => clearInterval(timer));
}
