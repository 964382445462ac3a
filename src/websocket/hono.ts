import { routePath } from 'hono/route';
import { defineWebSocketHelper, type UpgradeWebSocket, WSContext, type WSEvents } from 'hono/ws';
import type { WebSocket } from 'ws';
import type { WebSocketOptions } from './options.ts';

/** What `upgradeWebSocket` takes besides the events: the subprotocol to pick, and h2ws's WebSocket options. */
export interface UpgradeWebSocketOptions extends Omit<WebSocketOptions, 'handleProtocols'> {
  /** The subprotocol to accept (RFC 6455 §4.2.2). Default: the first one the client offered. */
  readonly protocol?: string;
}

/** A handshake that the app claimed with `upgradeWebSocket`. */
export interface WebSocketClaim {
  readonly events: WSEvents<WebSocket>;
  readonly options: UpgradeWebSocketOptions | undefined;
  /** The app's route pattern that claimed it (e.g. "/rooms/:id"), for logs and metrics. */
  readonly route: string;
}

/** Handshakes handed to a fetch handler, waiting to be claimed; keyed by the Request object. */
const offered = new WeakMap<Request, { claim?: WebSocketClaim }>();

/** Marks a handshake Request as upgradable by `upgradeWebSocket`; read the claim after the app answers. */
export function offerUpgrade(request: Request): () => WebSocketClaim | undefined {
  const slot: { claim?: WebSocketClaim } = {};
  offered.set(request, slot);
  return () => slot.claim;
}

/**
 * Hono's WebSocket helper for h2ws, built on `defineWebSocketHelper` like `hono/deno` and
 * `hono/bun`. The same route serves browsers arriving over HTTP/2 extended CONNECT (RFC 8441)
 * and over HTTP/1.1 `Upgrade: websocket`:
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { serve, upgradeWebSocket } from './mod.ts';
 *
 * const app = new Hono();
 * app.get('/ws', upgradeWebSocket(() => ({
 *   onMessage(event, ws) { ws.send(`echo: ${event.data}`); },
 * })));
 * await serve({ listen: '127.0.0.1:8080', fetch: app.fetch });
 * ```
 *
 * Text messages arrive as strings and binary ones as ArrayBuffers. A request that is not a
 * WebSocket handshake falls through to the next handler.
 */
export const upgradeWebSocket: UpgradeWebSocket<WebSocket, UpgradeWebSocketOptions> = defineWebSocketHelper<WebSocket, UpgradeWebSocketOptions>(
  (c, events, options) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return;
    const slot = offered.get(c.req.raw);
    if (slot === undefined) {
      throw new TypeError('upgradeWebSocket from h2ws only works for apps served by h2ws (serve({ fetch: app.fetch }))');
    }
    slot.claim = { events, options, route: routePath(c) };
    // Never sent: h2ws answers the handshake itself (200 on HTTP/2, 101 on HTTP/1.1).
    return new Response(null);
  },
);

/** Hands an open WebSocket to the app's event handlers, as Hono's WSEvents describe them. */
export function runWebSocketEvents(ws: WebSocket, url: string, events: WSEvents<WebSocket>, onFailure: (error: unknown) => void): void {
  const context = new WSContext<WebSocket>({
    raw: ws,
    url,
    protocol: ws.protocol,
    get readyState() {
      return ws.readyState as 0 | 1 | 2 | 3;
    },
    send: (data, options) => ws.send(data, { binary: typeof data !== 'string', ...(options.compress !== undefined && { compress: options.compress }) }),
    close: (code, reason) => ws.close(code, reason),
  });
  let failed = false;
  // An exception in app code closes this socket with 1011 (RFC 6455 §7.4.1) and is reported;
  // it never reaches the process.
  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    onFailure(error);
    if (events.onError) {
      const event = new Event('error') as Event & { error?: unknown };
      event.error = error;
      try {
        events.onError(event, context);
      } catch {
        // an onError that throws has nothing left to tell
      }
    }
    if (ws.readyState === ws.OPEN) ws.close(1011, 'internal error');
  };
  const run = (handler: () => unknown) => {
    try {
      const result = handler();
      if (result instanceof Promise) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!events.onMessage) return;
    const payload = isBinary ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data.toString('utf8');
    run(() => events.onMessage!(new MessageEvent('message', { data: payload }), context));
  });
  ws.once('close', (code: number, reason: Buffer) => {
    if (events.onClose) run(() => events.onClose!(closeEvent(code, reason.toString()), context));
  });
  ws.on('error', (error: Error) => {
    if (!events.onError) return;
    const event = new Event('error') as Event & { error?: unknown };
    event.error = error;
    run(() => events.onError!(event, context));
  });
  if (events.onOpen) run(() => events.onOpen!(new Event('open'), context));
}

/** CloseEvent where the runtime has one (Deno, Bun, Node 23+), an Event with the same fields elsewhere. */
function closeEvent(code: number, reason: string): CloseEvent {
  const init = { code, reason, wasClean: code !== 1006 };
  const Native = (globalThis as { CloseEvent?: typeof CloseEvent }).CloseEvent;
  if (Native !== undefined) return new Native('close', init);
  return Object.assign(new Event('close'), init) as CloseEvent;
}
