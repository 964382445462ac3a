/**
 * WebSockets as Web Streams: each socket is a `WebSocketStream` (the WHATWG shape) whose
 * `readable` yields messages and whose `writable` sends them, with backpressure reaching the
 * client (over HTTP/2, its flow-control window). `/echo` pipes one into the other; `/upper`
 * puts a TransformStream in between.
 *
 *   deno run -A examples/web-streams-echo.ts
 *   bun examples/web-streams-echo.ts
 *   npm run build:examples && node dist/examples/web-streams-echo.js
 *
 * Environment: PORT (default 8080), HOST (default 127.0.0.1).
 */
import { serve, type WebSocketMessage } from '../mod.ts';

const upperCase = () =>
  new TransformStream<WebSocketMessage, WebSocketMessage>({
    transform: (message, controller) => controller.enqueue(typeof message === 'string' ? message.toUpperCase() : message),
  });

const server = await serve({
  listen: `${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? 8080}`,
  routes: {
    '/echo': async (socket) => {
      await socket.readable.pipeTo(socket.writable);
    },
    '/upper': async (socket) => {
      await socket.readable.pipeThrough(upperCase()).pipeTo(socket.writable);
    },
  },
});
console.log(`web streams echo listening on ${server.url} (WebSockets on /echo and /upper)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    await server.close();
    process.exit(0);
  });
}
