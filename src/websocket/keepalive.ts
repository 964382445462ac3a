import type { WebSocket } from 'ws';

/**
 * Ping/pong keepalive (RFC 6455 §5.5.2, §5.5.3). After an interval in which nothing arrived,
 * a Ping goes out; if the next interval passes in silence too, the peer is gone (a dead NAT
 * entry, a laptop lid) and the connection is dropped, which closes it with 1006 locally.
 */
export function keepAlive(ws: WebSocket, intervalMs: number): void {
  if (!(intervalMs > 0)) return;
  let heard = false;
  let pinged = false;
  const hear = () => {
    heard = true;
    pinged = false;
  };
  ws.on('message', hear);
  ws.on('ping', hear);
  ws.on('pong', hear);
  const timer = setInterval(() => {
    if (heard) {
      heard = false;
      return;
    }
    if (pinged) {
      ws.terminate();
      return;
    }
    pinged = true;
    ws.ping();
  }, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  ws.once('close', () => clearInterval(timer));
}
