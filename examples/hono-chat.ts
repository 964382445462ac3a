/**
 * A chat room in Hono: `GET /` serves the page, `/chat` is the WebSocket every message is
 * broadcast on. Browsers only send WebSockets over HTTP/2 (RFC 8441) on a TLS connection,
 * so run with TLS=self-signed to see them share the page's h2 connection; in cleartext they
 * use HTTP/1.1, which the same route serves too.
 *
 *   deno run -A examples/hono-chat.ts
 *   bun examples/hono-chat.ts
 *   npm run build:examples && node dist/examples/hono-chat.js
 *
 * Environment: PORT (default 8080), HOST (default 127.0.0.1), TLS=self-signed.
 */
import { Hono } from 'hono';
import type { WSContext } from 'hono/ws';
import { serve, upgradeWebSocket } from '../mod.ts';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>h2ws chat</title>
<ul id="messages"></ul>
<form id="form"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<script>
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/chat');
  ws.onmessage = (event) => {
    const item = document.createElement('li');
    item.textContent = event.data;
    document.getElementById('messages').append(item);
  };
  document.getElementById('form').onsubmit = (event) => {
    event.preventDefault();
    const text = document.getElementById('text');
    ws.send(text.value);
    text.value = '';
  };
</script>
`;

const clients = new Set<WSContext>();
const app = new Hono();
app.get('/', (c) => c.html(PAGE));
app.get(
  '/chat',
  upgradeWebSocket(() => ({
    onOpen(_event, ws) {
      clients.add(ws);
    },
    onMessage(event) {
      for (const client of clients) client.send(event.data as string | ArrayBuffer);
    },
    onClose(_event, ws) {
      clients.delete(ws);
    },
  })),
);

const server = await serve({
  listen: `${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? 8080}`,
  selfSigned: process.env.TLS === 'self-signed',
  fetch: app.fetch,
});
console.log(`chat listening on ${server.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    await server.close();
    process.exit(0);
  });
}
