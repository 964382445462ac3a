/** Hono's `upgradeWebSocket` for h2ws: the claim a real Hono app makes, and the events run over a real `ws` pair. */
import { Hono } from 'hono';
import type { WSContext, WSEvents } from 'hono/ws';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { offerUpgrade, runWebSocketEvents, upgradeWebSocket } from '../../src/websocket/hono.ts';
import { clientFrame, eventually, once } from '../helpers/h2-client.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function handshake(path: string): Request {
  return new Request(`http://app.test${path}`, {
    headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': KEY, 'sec-websocket-version': '13' },
  });
}

describe('upgradeWebSocket (the claim)', () => {
  it('a GET that is not a WebSocket handshake falls through to the next handler', async () => {
    const app = new Hono();
    let eventsMade = 0;
    app.get(
      '/ws',
      upgradeWebSocket(() => {
        eventsMade++;
        return {};
      }),
      (c) => c.text('plain page', 203),
    );
    const res = await app.fetch(new Request('http://app.test/ws'));
    expect(res.status).toBe(203);
    expect(await res.text()).toBe('plain page');
    // Upgrade present but for another protocol: also not ours.
    const other = await app.fetch(new Request('http://app.test/ws', { headers: { upgrade: 'h2c' } }));
    expect(other.status).toBe(203);
    expect(eventsMade).toBe(2);
  });

  it('a handshake Request that h2ws did not offer throws the documented TypeError', async () => {
    const app = new Hono();
    let caught: unknown;
    app.onError((err, c) => {
      caught = err;
      return c.text('failed', 500);
    });
    app.get('/ws', upgradeWebSocket(() => ({})));
    const res = await app.fetch(handshake('/ws'));
    expect(res.status).toBe(500);
    expect(caught).toBeInstanceOf(TypeError);
    expect((caught as Error).message).toBe('upgradeWebSocket from h2ws only works for apps served by h2ws (serve({ fetch: app.fetch }))');
  });

  it('an offered handshake is claimed with its events, options and the route pattern', async () => {
    const app = new Hono();
    const options = { protocol: 'chat', maxPayload: 1024 };
    const made: Array<{ events: WSEvents<WebSocket>; id: string | undefined }> = [];
    app.get(
      '/rooms/:id',
      upgradeWebSocket((c) => {
        const events: WSEvents<WebSocket> = { onMessage() {} };
        made.push({ events, id: c.req.param('id') });
        return events;
      }, options),
    );
    const request = handshake('/rooms/42');
    const claimed = offerUpgrade(request);
    expect(claimed()).toBeUndefined();
    const res = await app.fetch(request);
    expect(res.status).toBe(200);
    const claim = claimed();
    expect(claim).toBeDefined();
    expect(made).toHaveLength(1);
    expect(made[0]!.id).toBe('42');
    expect(claim!.events).toBe(made[0]!.events);
    expect(claim!.options).toBe(options);
    expect(claim!.route).toBe('/rooms/:id');
  });

  it('an offered handshake no route claims leaves the claim empty and the app answers', async () => {
    const app = new Hono();
    app.get('/rooms/:id', upgradeWebSocket(() => ({})));
    app.get('/plain', (c) => c.text('no socket here'));
    const request = handshake('/plain');
    const claimed = offerUpgrade(request);
    const res = await app.fetch(request);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('no socket here');
    expect(claimed()).toBeUndefined();

    const missing = handshake('/nowhere');
    const none = offerUpgrade(missing);
    expect((await app.fetch(missing)).status).toBe(404);
    expect(none()).toBeUndefined();
  });

  it('without options the claim carries undefined options', async () => {
    const app = new Hono();
    app.get('/ws', upgradeWebSocket(() => ({})));
    const request = handshake('/ws');
    const claimed = offerUpgrade(request);
    await app.fetch(request);
    expect(claimed()).toMatchObject({ options: undefined, route: '/ws' });
  });
});

interface Served {
  readonly client: WebSocket;
  readonly failures: unknown[];
  /** What the client received from the start: text as strings, binary as Buffers. */
  readonly inbox: Array<string | Buffer>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A real ws pair whose server side runs `events` through runWebSocketEvents from the moment it opens. */
async function serveEvents(events: WSEvents<WebSocket>, protocols: string[] = []): Promise<Served> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: (offered) => offered.values().next().value ?? false });
  await once(wss, 'listening');
  const { port } = wss.address() as net.AddressInfo;
  const failures: unknown[] = [];
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    runWebSocketEvents(ws, `http://127.0.0.1:${port}${req.url}`, events, (error) => failures.push(error));
  });
  const client = new WebSocket(`ws://127.0.0.1:${port}/room?x=1`, protocols);
  client.on('error', () => {});
  const inbox: Array<string | Buffer> = [];
  client.on('message', (d: Buffer, isBinary: boolean) => inbox.push(isBinary ? Buffer.from(d) : d.toString()));
  await once(client, 'open');
  cleanups.push(async () => {
    client.terminate();
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { client, failures, inbox };
}

function clientClosed(client: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => client.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

describe('runWebSocketEvents (Hono WSEvents over a real ws socket)', () => {
  it('onOpen sees an open context with the url and protocol; ws.send reaches the client as text or binary', async () => {
    const opened: Array<{ readyState: number; url: string | undefined; protocol: string | null; isRaw: boolean }> = [];
    const { inbox } = await serveEvents(
      {
        onOpen(_event, ws) {
          opened.push({ readyState: ws.readyState, url: ws.url?.href, protocol: ws.protocol, isRaw: ws.raw instanceof WebSocket });
          ws.send('welcome');
          ws.send(new Uint8Array([1, 2, 3]));
          ws.send(new Uint8Array([4, 5]).buffer);
        },
      },
      ['chat'],
    );
    await eventually(() => inbox.length === 3, 5000, 'three messages');
    expect(inbox).toEqual(['welcome', Buffer.from([1, 2, 3]), Buffer.from([4, 5])]);
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ readyState: 1, protocol: 'chat', isRaw: true });
    expect(opened[0]!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/room\?x=1$/);
  });

  it('onMessage gets text as a string and binary as an ArrayBuffer with exactly its bytes', async () => {
    const got: unknown[] = [];
    const { client } = await serveEvents({ onMessage: (event) => void got.push(event.data) });
    client.send('héllo');
    client.send(Buffer.from([0, 255, 7]), { binary: true });
    client.send('after');
    await eventually(() => got.length === 3, 5000, 'three messages');
    expect(got[0]).toBe('héllo');
    expect(got[1]).toBeInstanceOf(ArrayBuffer);
    // Several frames share one socket chunk: the ArrayBuffer must hold this message only.
    expect((got[1] as ArrayBuffer).byteLength).toBe(3);
    expect([...new Uint8Array(got[1] as ArrayBuffer)]).toEqual([0, 255, 7]);
    expect(got[2]).toBe('after');
  });

  it('onClose gets the client code, reason and wasClean', async () => {
    const closes: Array<{ code: number; reason: string; wasClean: boolean }> = [];
    const { client } = await serveEvents({ onClose: (e) => void closes.push({ code: e.code, reason: e.reason, wasClean: e.wasClean }) });
    client.close(4000, 'done');
    await eventually(() => closes.length === 1, 5000, 'onClose');
    expect(closes).toEqual([{ code: 4000, reason: 'done', wasClean: true }]);
  });

  it('onClose reports 1006, not clean, when the client vanishes', async () => {
    const closes: Array<{ code: number; wasClean: boolean }> = [];
    const { client } = await serveEvents({ onClose: (e) => void closes.push({ code: e.code, wasClean: e.wasClean }) });
    client.terminate();
    await eventually(() => closes.length === 1, 5000, 'onClose');
    expect(closes).toEqual([{ code: 1006, wasClean: false }]);
  });

  it('ws.close(code, reason) from the app closes the socket; readyState follows', async () => {
    const states: number[] = [];
    const { client } = await serveEvents({
      onMessage(_event, ws) {
        states.push(ws.readyState);
        ws.close(4321, 'app says bye');
        states.push(ws.readyState);
      },
      onClose(_event, ws) {
        states.push(ws.readyState);
      },
    });
    const closed = clientClosed(client);
    client.send('go');
    expect(await closed).toEqual({ code: 4321, reason: 'app says bye' });
    await eventually(() => states.length === 3, 5000, 'onClose');
    expect(states).toEqual([1, 2, 3]);
  });

  describe.each([
    ['synchronously', (error: Error) => () => {
      throw error;
    }],
    ['asynchronously', (error: Error) => async () => {
      await new Promise((r) => setTimeout(r, 5));
      throw error;
    }],
  ] as const)('an exception thrown in onMessage %s', (_how, thrower) => {
    it('closes the socket with 1011, calls onError and the failure callback once, and does not crash', async () => {
      const boom = new Error('boom');
      const onErrors: Array<{ error: unknown; isContext: boolean }> = [];
      const { client, failures } = await serveEvents({
        onMessage: thrower(boom) as (e: MessageEvent, ws: WSContext<WebSocket>) => void,
        onError: (event, ws) => void onErrors.push({ error: (event as Event & { error?: unknown }).error, isContext: ws.raw instanceof WebSocket }),
      });
      const closed = clientClosed(client);
      client.send('one');
      client.send('two');
      expect(await closed).toEqual({ code: 1011, reason: 'internal error' });
      await eventually(() => failures.length > 0, 5000, 'the failure callback');
      // Let any further rejections surface before counting.
      await new Promise((r) => setTimeout(r, 30));
      expect(failures).toEqual([boom]);
      expect(onErrors).toEqual([{ error: boom, isContext: true }]);
    });
  });

  it('an exception in onOpen closes with 1011 as well', async () => {
    const failures: unknown[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      runWebSocketEvents(ws, 'http://x/', { onOpen: () => { throw new Error('no'); } }, (e) => failures.push(e));
    });
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/`);
    client.on('error', () => {});
    try {
      expect(await clientClosed(client)).toEqual({ code: 1011, reason: 'internal error' });
      expect(failures).toHaveLength(1);
      expect((failures[0] as Error).message).toBe('no');
    } finally {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('a protocol error from the client (invalid UTF-8) goes to onError, not to the failure callback', async () => {
    const onErrors: unknown[] = [];
    const closes: number[] = [];
    const { client, failures } = await serveEvents({
      onError: (event) => void onErrors.push((event as Event & { error?: unknown }).error),
      onClose: (event) => void closes.push(event.code),
    });
    const closed = clientClosed(client);
    // A masked text frame whose payload is not UTF-8 (RFC 6455 §8.1), written below the client's own checks.
    (client as unknown as { _socket: net.Socket })._socket.write(clientFrame(Buffer.from([0xff, 0xfe]), 1));
    expect((await closed).code).toBe(1007);
    // ws stops reading after the error, so the server side never sees the client's Close (1006).
    await eventually(() => closes.length === 1, 5000, 'onClose');
    expect(onErrors).toHaveLength(1);
    expect((onErrors[0] as { code?: string }).code).toBe('WS_ERR_INVALID_UTF8');
    expect(failures).toEqual([]);
  });
});
