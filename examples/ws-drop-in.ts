/**
 * Existing `ws` handler code, unchanged, now reachable over HTTP/2 (RFC 8441) as well as
 * HTTP/1.1. `/h2ws` uses h2ws's WebSocketServer (ws's own, with h2ws owning the listener);
 * `/ws` shows that a server from the `ws` package made with `{ noServer: true }` works too.
 *
 *   deno run -A examples/ws-drop-in.ts
 *   bun examples/ws-drop-in.ts
 *   npm run build:examples && node dist/examples/ws-drop-in.js
 *
 * Environment: PORT (default 8080), HOST (default 127.0.0.1).
 */
import type { IncomingMessage } from 'node:http';
import { type WebSocket, WebSocketServer as WsWebSocketServer } from 'ws';
import { serve, WebSocketServer } from '../mod.ts';

// The handler as it was written for ws: greet, then echo.
function onConnection(ws: WebSocket, req: IncomingMessage): void {
  ws.send(`hello, you asked for ${req.url}`);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

const wss = new WebSocketServer();
wss.on('connection', onConnection);

const plain = new WsWebSocketServer({ noServer: true });
plain.on('connection', onConnection);

const server = await serve({
  listen: `${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? 8080}`,
  routes: { '/h2ws': wss, '/ws': plain },
});
console.log(`ws drop-in listening on ${server.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    await server.close();
    process.exit(0);
  });
}
