/**
 * The smallest h2ws app: a Hono app whose every path echoes WebSocket messages (text stays
 * text, binary stays binary), plus `GET /health`. Clients reach it over HTTP/2 extended
 * CONNECT (RFC 8441) or HTTP/1.1 `Upgrade: websocket`, on one cleartext port.
 *
 *   deno run -A examples/echo-server.ts
 *   bun examples/echo-server.ts
 *   npm run build:examples && node dist/examples/echo-server.js
 *
 * Environment: PORT (default 8080; 0 picks a free one), HOST (default 127.0.0.1).
 */
import { Hono } from 'hono';
import { serve, upgradeWebSocket } from '../mod.ts';

const app = new Hono();
// A WebSocket handshake on any path is claimed here; other requests fall through.
app.get(
  '*',
  upgradeWebSocket(() => ({
    onMessage(event, ws) {
      ws.send(event.data as string | ArrayBuffer);
    },
  })),
);
app.get('/health', (c) => c.text('ok'));

const server = await serve({
  listen: `${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? 8080}`,
  fetch: app.fetch,
});
console.log(`echo server listening on ${server.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    await server.close(); // GOAWAY, let open WebSockets finish, then close
    process.exit(0);
  });
}
