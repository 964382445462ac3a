import type http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * The embedded demo backend: a plain `ws` server on loopback, exactly the kind of legacy
 * HTTP/1.1 WebSocket server h2ws bridges to. "/ws/echo" echoes; "/ws/chat" broadcasts.
 * Each socket is first told how it reached the gateway (from the Via header h2ws adds).
 */
export async function startDemoBackend(): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: true,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const chat = new Set<WebSocket>();
  wss.on('connection', (socket: WebSocket, req: http.IncomingMessage) => {
    const via = String(req.headers.via ?? '');
    const transport = via.startsWith('2 ') ? 'HTTP/2 extended CONNECT (RFC 8441)' : 'HTTP/1.1 Upgrade (RFC 6455)';
    const room = (req.url ?? '').startsWith('/ws/chat') ? 'chat' : 'echo';
    socket.send(JSON.stringify({ type: 'welcome', room, transport, via, protocol: socket.protocol, extensions: req.headers['sec-websocket-extensions'] ?? '' }));
    if (room === 'chat') chat.add(socket);
    socket.on('message', (data, isBinary) => {
      if (room === 'echo') socket.send(data, { binary: isBinary });
      else for (const peer of chat) peer.send(data, { binary: isBinary });
    });
    socket.on('close', () => chat.delete(socket));
    socket.on('error', () => chat.delete(socket));
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
