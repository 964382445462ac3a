/**
 * One server, three kinds of handler: `/bridged` is relayed to a plain `ws` backend over
 * HTTP/1.1 (started here on a free loopback port), `/local` is handled in-process with Web
 * Streams, and the Hono app answers plain HTTP. A client can use all of them on one HTTP/2
 * connection.
 *
 *   deno run -A examples/mixed.ts
 *   bun examples/mixed.ts
 *   npm run build:examples && node dist/examples/mixed.js
 *
 * Environment: PORT (default 8080), HOST (default 127.0.0.1).
 */
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { serve } from '../mod.ts';

// A tiny "legacy" echo backend that only speaks HTTP/1.1 WebSockets.
const backend = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise((resolve) => backend.once('listening', resolve));
backend.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
const backendPort = (backend.address() as AddressInfo).port;

const app = new Hono();
app.get('/', (c) => c.text('h2ws: try the WebSockets /bridged and /local\n'));

const server = await serve({
  listen: `${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? 8080}`,
  fetch: app.fetch,
  routes: {
    '/bridged': `ws://127.0.0.1:${backendPort}`,
    '/local': async (socket) => {
      await socket.readable.pipeTo(socket.writable);
    },
  },
});
console.log(`mixed listening on ${server.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    await server.close();
    backend.close();
    process.exit(0);
  });
}
