import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { WebSocketServerLike } from './endpoint.ts';

/**
 * Completes a server handshake with ws's own `handleUpgrade`, so negotiation
 * (subprotocol, permessage-deflate, RFC 7692) and framing (RFC 6455 §5) are ws's, not
 * re-written here. `socket` is the upgraded byte stream: a TCP socket for HTTP/1.1, or an
 * h2 stream seen as one (h2/upgraded-stream.ts).
 *
 * `onOpen` runs synchronously with the open WebSocket, before any message can be emitted,
 * so handlers attached there miss nothing. Resolves true once open, or false when ws turned
 * the handshake down (it has answered the client itself) or the client went away.
 */
export function acceptWebSocket(server: WebSocketServerLike, message: object, socket: Duplex, head: Buffer, onOpen: (ws: WebSocket) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = () => resolve(false);
    socket.once('close', onClose);
    server.handleUpgrade(message as never, socket, head, (ws) => {
      socket.removeListener('close', onClose);
      onOpen(ws);
      resolve(true);
    });
  });
}
