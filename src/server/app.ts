import { Hono } from 'hono';

/** The default HTTP side of a gateway: every plain request that is not a WebSocket handshake gets 404. */
export function defaultApp(): Hono {
  const app = new Hono();
  app.notFound((c) => c.text('not found: h2ws serves WebSockets here\n', 404));
  return app;
}
