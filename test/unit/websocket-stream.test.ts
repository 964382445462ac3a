/** WebSocketStream (the WHATWG shape) over a real server-side `ws` WebSocket on loopback. */
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { WebSocketStream } from '../../src/websocket/stream.ts';
import { eventually, once } from '../helpers/h2-client.ts';

interface Pair {
  readonly client: WebSocket;
  /** The server side, wrapped as soon as it opened so no message is missed. */
  readonly server: WebSocket;
  readonly stream: WebSocketStream;
  /** Messages the server side has emitted, counted by a listener added after the stream's. */
  readonly serverMessages: () => number;
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function pair(options: { protocols?: string[] } = {}): Promise<Pair> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: (offered) => (offered.has('chat') ? 'chat' : false) });
  await once(wss, 'listening');
  const { port } = wss.address() as net.AddressInfo;
  const opened = new Promise<{ server: WebSocket; stream: WebSocketStream; count: () => number }>((resolve) => {
    wss.once('connection', (server, req) => {
      server.on('error', () => {});
      const stream = new WebSocketStream(server, `ws://127.0.0.1:${port}${req.url}`);
      let n = 0;
      server.on('message', () => n++);
      resolve({ server, stream, count: () => n });
    });
  });
  const client = new WebSocket(`ws://127.0.0.1:${port}/s?q=1`, options.protocols ?? []);
  client.on('error', () => {});
  await once(client, 'open');
  const { server, stream, count } = await opened;
  cleanups.push(async () => {
    client.terminate();
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { client, server, stream, serverMessages: count };
}

/** Collects what the client receives: text as strings, binary as Buffers. */
function clientInbox(client: WebSocket): Array<string | Buffer> {
  const inbox: Array<string | Buffer> = [];
  client.on('message', (data: Buffer, isBinary: boolean) => inbox.push(isBinary ? Buffer.from(data) : data.toString()));
  return inbox;
}

function clientClosed(client: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => client.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

describe('WebSocketStream', () => {
  it('exposes url, the negotiated protocol, and an already-resolved opened', async () => {
    const { stream } = await pair({ protocols: ['chat'] });
    expect(stream.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/s\?q=1$/);
    expect(stream.protocol).toBe('chat');
    expect(stream.extensions).toBe('');
    const opened = await stream.opened;
    expect(opened.readable).toBe(stream.readable);
    expect(opened.writable).toBe(stream.writable);
    expect(opened.protocol).toBe('chat');
  });

  it('readable yields text as strings and binary as Uint8Array, in order', async () => {
    const { client, stream } = await pair();
    client.send('one');
    client.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    client.send('three ✓');
    client.send(Buffer.alloc(0), { binary: true });
    const reader = stream.readable.getReader();
    const got: Array<string | Uint8Array> = [];
    for (let i = 0; i < 4; i++) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      got.push(value!);
    }
    expect(got[0]).toBe('one');
    expect(got[1]).toBeInstanceOf(Uint8Array);
    expect([...(got[1] as Uint8Array)]).toEqual([0, 1, 2, 255]);
    expect(got[2]).toBe('three ✓');
    expect(got[3]).toBeInstanceOf(Uint8Array);
    expect((got[3] as Uint8Array).byteLength).toBe(0);
  });

  it('writable sends strings as text and bytes (Uint8Array, ArrayBuffer) as binary', async () => {
    const { client, stream } = await pair();
    const inbox = clientInbox(client);
    const writer = stream.writable.getWriter();
    await writer.write('hello');
    await writer.write(new Uint8Array([9, 8, 7]));
    await writer.write(new Uint8Array([1, 2]).buffer);
    await writer.write('');
    await eventually(() => inbox.length === 4, 5000, 'four messages at the client');
    expect(inbox).toEqual(['hello', Buffer.from([9, 8, 7]), Buffer.from([1, 2]), '']);
  });

  it('pipes readable into writable (an echo) both ways', async () => {
    const { client, stream } = await pair();
    const inbox = clientInbox(client);
    void stream.readable.pipeTo(stream.writable).catch(() => {});
    client.send('ping');
    client.send(Buffer.from('bin'), { binary: true });
    await eventually(() => inbox.length === 2, 5000, 'the echo');
    expect(inbox).toEqual(['ping', Buffer.from('bin')]);
  });

  it('closed resolves 1000 on a normal client close, and readable ends', async () => {
    const { client, stream } = await pair();
    const reader = stream.readable.getReader();
    client.close(1000);
    await expect(stream.closed).resolves.toEqual({ closeCode: 1000, reason: '' });
    await expect(reader.read()).resolves.toEqual({ done: true, value: undefined });
  });

  it('closed resolves with an application code and reason (4000 "x"); readable errors', async () => {
    const { client, stream } = await pair();
    const reader = stream.readable.getReader();
    client.close(4000, 'x');
    await expect(stream.closed).resolves.toEqual({ closeCode: 4000, reason: 'x' });
    await expect(reader.read()).rejects.toThrow(/4000/);
  });

  it('closed resolves 1006 (never rejects) when the client goes away without a Close frame', async () => {
    const { client, stream } = await pair();
    client.terminate();
    await expect(stream.closed).resolves.toEqual({ closeCode: 1006, reason: '' });
  });

  it('close(4001, "bye") runs the closing handshake with that code and reason', async () => {
    const { client, stream } = await pair();
    const seen = clientClosed(client);
    stream.close(4001, 'bye');
    expect(await seen).toEqual({ code: 4001, reason: 'bye' });
    await expect(stream.closed).resolves.toEqual({ closeCode: 4001, reason: 'bye' });
  });

  it('close({ closeCode, reason }) takes the WHATWG options', async () => {
    const { client, stream } = await pair();
    const seen = clientClosed(client);
    stream.close({ closeCode: 4002, reason: 'whatwg' });
    expect(await seen).toEqual({ code: 4002, reason: 'whatwg' });
    await expect(stream.closed).resolves.toEqual({ closeCode: 4002, reason: 'whatwg' });
  });

  it('close() with no arguments closes with 1000, and a second close() is harmless', async () => {
    const { client, stream } = await pair();
    const seen = clientClosed(client);
    stream.close();
    expect(await seen).toEqual({ code: 1000, reason: '' });
    await stream.closed;
    expect(() => stream.close(4003, 'again')).not.toThrow();
  });

  it('cancelling the readable closes the WebSocket', async () => {
    const { client, stream } = await pair();
    const seen = clientClosed(client);
    await stream.readable.cancel();
    expect((await seen).code).toBe(1000);
  });

  it('closing the writable closes the WebSocket with 1000; aborting it closes with 1011', async () => {
    const a = await pair();
    const seenA = clientClosed(a.client);
    await a.stream.writable.close();
    expect((await seenA).code).toBe(1000);

    const b = await pair();
    const seenB = clientClosed(b.client);
    await b.stream.writable.abort(new Error('stop'));
    expect(await seenB).toEqual({ code: 1011, reason: 'writer aborted' });
  });

  it('a write after close rejects', async () => {
    const { stream } = await pair();
    const writer = stream.writable.getWriter();
    await writer.write('before');
    stream.close(1000);
    await expect(writer.write('after')).rejects.toThrow(/closing/);
  });

  it('backpressure: a reader that does not read pauses the socket at the high-water mark, and reading resumes it', async () => {
    const { client, server, stream, serverMessages } = await pair();
    // Below the mark (16 messages) the socket keeps flowing.
    for (let i = 0; i < 15; i++) client.send(`m${i}`);
    await eventually(() => serverMessages() === 15, 5000, '15 messages queued');
    expect(server.isPaused).toBe(false);
    // The 16th fills the queue: the socket is paused.
    client.send('m15');
    await eventually(() => server.isPaused, 5000, 'the socket to pause');
    expect(serverMessages()).toBe(16);
    // Later messages stay in the paused socket, unparsed.
    for (let i = 16; i < 24; i++) client.send(`m${i}`);
    await new Promise((r) => setTimeout(r, 150));
    expect(serverMessages()).toBe(16);
    expect(server.isPaused).toBe(true);
    // Reading drains the queue below the mark: the socket resumes and the rest arrives, in order.
    const reader = stream.readable.getReader();
    const got: Array<string | Uint8Array> = [];
    for (let i = 0; i < 24; i++) got.push((await reader.read()).value!);
    expect(got).toEqual(Array.from({ length: 24 }, (_, i) => `m${i}`));
    expect(server.isPaused).toBe(false);
    expect(serverMessages()).toBe(24);
  });
});
