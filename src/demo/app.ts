import { Hono } from 'hono';
import { DEMO_PAGE } from './page.ts';

/** The demo's HTTP side: the page at "/". WebSocket paths under /ws are routed by the gateway. */
export function demoApp(): Hono {
  const app = new Hono();
  app.get('/', (c) => c.html(DEMO_PAGE));
  return app;
}
