/**
 * Put h2ws in front of an unchanged `ws` server.
 *
 * Browsers speak WebSocket over HTTP/2 (RFC 8441) to h2ws; the legacy server keeps speaking
 * HTTP/1.1 and never knows. Run it with any of:
 *
 *   deno run -A examples/bridge-legacy-ws.ts
 *   bun examples/bridge-legacy-ws.ts
 *   (Node: import { createGateway } from 'h2ws' in your own .js/.ts build)
 */
import { WebSocketServer } from 'ws';
import { createGateway, type Gateway } from '../mod.ts';

export async function start(listen = '127.0.0.1:0'): Promise<{ gateway: Gateway; stop(): Promise<void> }> {
  // The "legacy" server: plain ws on loopback, HTTP/1.1 only.
  const legacy = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => legacy.once('listening', () => resolve()));
  legacy.on('connection', (socket, req) => {
    socket.send(`hello from the legacy server; you came via ${req.headers.via}`);
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  const { port } = legacy.address() as { port: number };

  // The gateway: cleartext h2c + HTTP/1.1 on one port (add `selfSigned: true` or `tls` for TLS).
  const gateway = await createGateway({
    listen,
    routes: { '/chat': `ws://127.0.0.1:${port}` },
    onTunnel: (event) => console.log(`${event.transport} ${event.path}: ${event.outcome}`),
  });
  return {
    gateway,
    async stop() {
      await gateway.close();
      legacy.close();
    },
  };
}

if ((import.meta as ImportMeta & { main?: boolean }).main) {
  const { gateway, stop } = await start('127.0.0.1:8080');
  console.log(`h2ws bridge listening on ${gateway.url}chat`);
  const shutdown = () => void stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
