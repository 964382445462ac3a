/**
 * Issue 15, items 2, 3 and 5, probed from the outside with the gateway under Node, Deno and
 * Bun: what a backend's TCP socket sees when a client resets (a reset, never a FIN); how many
 * backend connections a rapid-reset flood makes the gateway open; the per-address rapid-reset
 * budget and its metric; which frames a client gets when the backend resets or the gateway
 * gives up on a tunnel; and how fast SIGTERM exits with idle HTTP/2 sessions open.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptFor } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, eventually, serverFrame } from '../helpers/h2-client.ts';
import { type Frame, FrameType, frame, goaway, headerBlock, RawH2, rstCode } from '../helpers/raw-h2.ts';

const H2 = http2.constants;
const END_STREAM = 0x1;

/** One TCP connection a backend accepted, and everything its socket reported. */
interface BackendConn {
  readonly socket: net.Socket;
  /** 'end' (a FIN), 'error:CODE', 'close', in order. */
  readonly events: string[];
  upgraded: boolean;
  received: Buffer;
}

interface RecordingBackend {
  readonly url: string;
  /** TCP connections accepted, whether or not an upgrade came on them. */
  accepted: number;
  readonly conns: BackendConn[];
  next(): Promise<BackendConn>;
  close(): Promise<void>;
}

/** A raw net.Server backend that completes the WebSocket upgrade by hand and records what its sockets see. */
async function startRecordingBackend(): Promise<RecordingBackend> {
  const waiters: Array<(c: BackendConn) => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    backend.accepted++;
    sockets.add(socket);
    const conn: BackendConn = { socket, events: [], upgraded: false, received: Buffer.alloc(0) };
    let head = Buffer.alloc(0);
    socket.on('error', (err: NodeJS.ErrnoException) => conn.events.push(`error:${err.code ?? err.message}`));
    socket.on('end', () => conn.events.push('end'));
    socket.on('close', () => {
      conn.events.push('close');
      sockets.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      if (conn.upgraded) {
        conn.received = Buffer.concat([conn.received, chunk]);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head.toString('latin1', 0, end))?.[1] ?? '';
      conn.upgraded = true;
      conn.received = head.subarray(end + 4);
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`);
      backend.conns.push(conn);
      waiters.shift()?.(conn);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  const backend: RecordingBackend = {
    url: `ws://127.0.0.1:${port}`,
    accepted: 0,
    conns: [],
    next: () => new Promise((resolve) => waiters.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return backend;
}

const connectFields = (path: string): Array<[string, string]> => [
  [':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', path], [':authority', 'gateway.test'], ['sec-websocket-version', '13'],
];

function rstFrame(id: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FrameType.RST_STREAM, 0, id, p);
}

/** The frames the gateway sent on one stream. */
const onStream = (c: RawH2, id: number): Frame[] => c.frames.filter((f) => f.streamId === id);
const describeFrames = (fs: readonly Frame[]) => fs.map((f) => `${f.type}${f.flags & END_STREAM && (f.type === FrameType.DATA || f.type === FrameType.HEADERS) ? '+ES' : ''}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a tunnel on a raw connection; resolves with the backend's side once the 200 is in. */
async function rawTunnel(c: RawH2, id: number, backend: RecordingBackend, path = '/b'): Promise<BackendConn> {
  const next = backend.next();
  c.headers(id, connectFields(path));
  const conn = await next;
  const response = await c.waitFor((f) => f.streamId === id && (f.type === FrameType.HEADERS || f.type === FrameType.RST_STREAM));
  expect(response.type, `stream ${id} answered`).toBe(FrameType.HEADERS);
  expect(response.flags & END_STREAM).toBe(0);
  return conn;
}

async function metric(gw: GatewayProcess, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${gw.url}metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe.each(RUNTIMES)('issue 15 probes: resets, rapid reset, GOAWAY under %s', (runtime) => {
  let backend: RecordingBackend;
  let gw: GatewayProcess;

  beforeAll(async () => {
    backend = await startRecordingBackend();
    gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/b=${backend.url}`], { timeouts: { drainMs: 2000 } });
  });

  afterAll(async () => {
    const code = await gw?.stop();
    await backend?.close();
    expect(code, `gateway stderr:\n${gw?.stderr()}`).toBe(0);
  });

  // ---------------------------------------------------------------------------------------
  // Item 2: a client's RST_STREAM reaches the backend as a TCP reset.

  it('item 2: client RST_STREAM on an open tunnel: the backend socket gets ECONNRESET, never a FIN', async () => {
    for (const code of [H2.NGHTTP2_CANCEL, H2.NGHTTP2_INTERNAL_ERROR, H2.NGHTTP2_NO_ERROR]) {
      const c = await RawH2.connect(gw.port);
      const conn = await rawTunnel(c, 1, backend);
      c.data(1, clientFrame('hello'));
      conn.socket.write(serverFrame('hi'));
      await eventually(() => conn.received.length > 0, 5000, 'data at the backend');
      await c.waitFor((f) => f.streamId === 1 && f.type === FrameType.DATA);
      c.rst(1, code);
      await eventually(() => conn.events.includes('close'), 5000, 'backend socket closed');
      expect(conn.events, `RST_STREAM code ${code}`).toEqual(['error:ECONNRESET', 'close']);
      // h2ws never answers a RST_STREAM with one (RFC 9113 §5.4.2).
      await sleep(100);
      expect(onStream(c, 1).filter((f) => f.type === FrameType.RST_STREAM)).toEqual([]);
      c.destroy();
    }
  });

  it('item 2: a client connection that dies with tunnels open resets every backend socket', async () => {
    const c = await RawH2.connect(gw.port);
    const conns = [await rawTunnel(c, 1, backend), await rawTunnel(c, 3, backend)];
    c.destroy();
    for (const conn of conns) {
      await eventually(() => conn.events.includes('close'), 5000, 'backend socket closed');
      expect(conn.events).toEqual(['error:ECONNRESET', 'close']);
    }
  });

  it('item 2: RST_STREAM right after the client END_STREAM: the backend sees the FIN, then the connection is torn down', async () => {
    // END_STREAM is relayed as a FIN at once (RFC 9113 §8.5). Once a FIN has been sent the
    // socket cannot be reset any more (libuv refuses, see runtime/tcp.ts resetSocket): the
    // gateway closes its socket, and the backend's next write is refused by the kernel.
    const c = await RawH2.connect(gw.port);
    const conn = await rawTunnel(c, 1, backend);
    c.write(Buffer.concat([frame(FrameType.DATA, END_STREAM, 1, clientFrame('bye')), rstFrame(1, H2.NGHTTP2_CANCEL)]));
    await eventually(() => conn.events.includes('end'), 5000, 'FIN at the backend');
    expect(conn.events[0]).toBe('end');
    expect(conn.received.equals(clientFrame('bye'))).toBe(true);
    // The gateway's side is gone: writing to it fails with a reset (or the socket closes).
    const writer = setInterval(() => !conn.socket.destroyed && conn.socket.write(serverFrame('anyone?')), 50);
    try {
      await eventually(() => conn.events.includes('close'), 5000, 'backend socket closed');
    } finally {
      clearInterval(writer);
    }
    expect(conn.events.filter((e) => e === 'end')).toEqual(['end']);
    expect(conn.events.at(-1)).toBe('close');
    expect(conn.events.filter((e) => e.startsWith('error:') && !['error:ECONNRESET', 'error:EPIPE'].includes(e))).toEqual([]);
    // Nothing reaches the client on the reset stream after its RST_STREAM.
    await sleep(200);
    expect(onStream(c, 1).filter((f) => f.type === FrameType.RST_STREAM)).toEqual([]);
    c.destroy();
  });

  // ---------------------------------------------------------------------------------------
  // Item 5 (a): only RST_STREAM, never an END_STREAM first.

  it('item 5: a backend TCP reset mid-tunnel reaches the client as RST_STREAM CONNECT_ERROR only', async () => {
    for (let round = 0; round < 5; round++) {
      const c = await RawH2.connect(gw.port);
      const conn = await rawTunnel(c, 1, backend);
      conn.socket.write(serverFrame('before the reset'));
      await c.waitFor((f) => f.streamId === 1 && f.type === FrameType.DATA);
      conn.socket.resetAndDestroy();
      const rst = await c.waitFor((f) => f.streamId === 1 && f.type === FrameType.RST_STREAM);
      expect(rstCode(rst)).toBe(H2.NGHTTP2_CONNECT_ERROR);
      await sleep(100);
      const frames = onStream(c, 1);
      expect(frames.filter((f) => f.flags & END_STREAM && f.type !== FrameType.RST_STREAM), describeFrames(frames).join(',')).toEqual([]);
      expect(frames.filter((f) => f.type === FrameType.RST_STREAM)).toHaveLength(1);
      expect(frames.at(-1)!.type).toBe(FrameType.RST_STREAM);
      c.destroy();
    }
  });

  it('item 5: a backend that resets while data is flowing to the client: still no END_STREAM', async () => {
    const c = await RawH2.connect(gw.port);
    const conn = await rawTunnel(c, 1, backend);
    // Within the client's flow-control window (65,535): nothing is held back by it.
    const big = serverFrame(Buffer.alloc(25_000, 7));
    conn.socket.write(big);
    conn.socket.write(big, () => conn.socket.resetAndDestroy());
    const rst = await c.waitFor((f) => f.streamId === 1 && f.type === FrameType.RST_STREAM);
    expect(rstCode(rst)).toBe(H2.NGHTTP2_CONNECT_ERROR);
    const frames = onStream(c, 1);
    expect(frames.filter((f) => f.flags & END_STREAM && f.type === FrameType.DATA)).toEqual([]);
    c.destroy();
  });

  it('item 5: PING liveness: a client that stops answering PINGs is dropped without any END_STREAM, and the backend is reset', async () => {
    // RawH2 acknowledges SETTINGS but never PINGs: after two intervals the gateway gives up.
    const g = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/b=${backend.url}`], { timeouts: { drainMs: 2000, pingIntervalMs: 300 } });
    try {
      const c = await RawH2.connect(g.port);
      const conn = await rawTunnel(c, 1, backend);
      await c.waitFor((f) => f.type === FrameType.PING, 3000);
      await c.waitClosed(5000);
      expect(onStream(c, 1).filter((f) => f.flags & END_STREAM && f.type !== FrameType.RST_STREAM)).toEqual([]);
      await eventually(() => conn.events.includes('close'), 5000, 'backend socket closed');
      expect(conn.events).toEqual(['error:ECONNRESET', 'close']);
    } finally {
      expect(await g.stop()).toBe(0);
    }
  });

  it('item 5: drain deadline in the middle of a frame: RST_STREAM only, no END_STREAM; the backend is reset', async () => {
    const b2 = await startRecordingBackend();
    const g = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/b=${b2.url}`], { timeouts: { drainMs: 300 } });
    try {
      const c = await RawH2.connect(g.port);
      const conn = await rawTunnel(c, 1, b2);
      // Half a frame each way: no frame boundary, so no Close frame can be injected.
      const up = clientFrame(Buffer.alloc(1000, 1));
      c.data(1, up.subarray(0, 500));
      const down = serverFrame(Buffer.alloc(1000, 2));
      conn.socket.write(down.subarray(0, 500));
      await eventually(() => conn.received.length === 500, 5000, 'half a frame at the backend');
      await c.waitFor((f) => f.streamId === 1 && f.type === FrameType.DATA);
      g.proc.kill('SIGTERM');
      const rst = await c.waitFor((f) => f.streamId === 1 && f.type === FrameType.RST_STREAM, 8000).catch((e) => {
        throw new Error(`${e}\n${g.stderr()}\n${g.stdout()}`);
      });
      expect([H2.NGHTTP2_CANCEL, H2.NGHTTP2_CONNECT_ERROR]).toContain(rstCode(rst));
      const frames = onStream(c, 1);
      expect(frames.filter((f) => f.flags & END_STREAM && f.type !== FrameType.RST_STREAM), describeFrames(frames).join(',')).toEqual([]);
      await eventually(() => conn.events.includes('close'), 8000, 'backend socket closed');
      expect(conn.events).toEqual(['error:ECONNRESET', 'close']);
      expect(await g.exited).toBe(0);
      c.destroy();
    } finally {
      await g.stop();
      await b2.close();
    }
  });

  // ---------------------------------------------------------------------------------------
  // Item 3: rapid reset.

  it('item 3: a well-behaved client that resets 1,200 ESTABLISHED tunnels over two connections is never cut off', async () => {
    const clients = [await RawH2.connect(gw.port), await RawH2.connect(gw.port)];
    const next = [1, 1];
    for (let round = 0; round < 12; round++) {
      const which = round % 2;
      const c = clients[which]!;
      const ids: number[] = [];
      const headers: Buffer[] = [];
      for (let i = 0; i < 100; i++) {
        const id = next[which]!;
        next[which] = id + 2;
        ids.push(id);
        headers.push(frame(FrameType.HEADERS, 0x4, id, headerBlock(connectFields('/b'))));
      }
      c.write(Buffer.concat(headers));
      const answered = new Set(ids);
      await eventually(() => ids.every((id) => c.frames.some((f) => f.streamId === id && f.type === FrameType.HEADERS)) || c.closed, 20_000, `round ${round}: 100 responses`);
      expect(c.frames.filter((f) => answered.has(f.streamId) && f.type === FrameType.RST_STREAM)).toEqual([]);
      // A pooled upstream whose users all disconnect at once: 100 RST_STREAMs in one write.
      c.write(Buffer.concat(ids.map((id) => rstFrame(id, H2.NGHTTP2_CANCEL))));
    }
    await sleep(300);
    for (const c of clients) {
      expect(c.closed).toBe(false);
      expect(c.frames.filter((f) => f.type === FrameType.GOAWAY)).toEqual([]);
    }
    // New connections from the same address still work.
    const fresh = await RawH2.connect(gw.port);
    const conn = await rawTunnel(fresh, 1, backend);
    expect(conn.upgraded).toBe(true);
    fresh.destroy();
    for (const c of clients) c.destroy();
    expect(await metric(gw, 'h2ws_rapid_reset_clients_total')).toBe(0);
  }, 60_000);

  it('item 3: 2,000 extended CONNECTs each followed at once by RST_STREAM CANCEL: far fewer backend connections than streams, and the reconnecting client is cut off', async () => {
    const b2 = await startRecordingBackend();
    const g = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/b=${b2.url}`], { timeouts: { drainMs: 2000 } });
    try {
      const STREAMS = 2000;
      const BATCH = 20;
      let sent = 0;
      let connections = 0;
      const goaways: Array<{ lastStreamId: number; code: number; sentOnIt: number }> = [];
      while (sent < STREAMS) {
        const c = await RawH2.connect(g.port).catch(() => undefined);
        if (c === undefined) break;
        connections++;
        let id = 1;
        let onIt = 0;
        // An attacker writes blindly: at least one batch on every connection, refused or not.
        do {
          const parts: Buffer[] = [];
          for (let i = 0; i < BATCH; i++) {
            parts.push(frame(FrameType.HEADERS, 0x4, id, headerBlock(connectFields('/b'))), rstFrame(id, H2.NGHTTP2_CANCEL));
            id += 2;
          }
          c.write(Buffer.concat(parts));
          sent += BATCH;
          onIt += BATCH;
          await sleep(1);
        } while (sent < STREAMS && !c.closed && !c.frames.some((f) => f.type === FrameType.GOAWAY));
        const g0 = await c.waitFor((f) => f.type === FrameType.GOAWAY, 3000).catch(() => undefined);
        if (g0 !== undefined) goaways.push({ ...goaway(g0), sentOnIt: onIt });
        c.destroy();
        if (connections > 200) break;
      }
      await sleep(500);
      expect(sent).toBe(STREAMS);
      // (b) streams reset in the same read are never announced, so no dial starts for them.
      expect(b2.accepted, `${b2.accepted} backend connections for ${STREAMS} streams`).toBeLessThan(STREAMS * 0.05);
      expect(b2.conns.length).toBeLessThanOrEqual(b2.accepted);
      // Every connection ended with GOAWAY ENHANCE_YOUR_CALM.
      expect(goaways.length).toBe(connections);
      expect(goaways.every((x) => x.code === H2.NGHTTP2_ENHANCE_YOUR_CALM)).toBe(true);
      // (c) the address's budget ran out: new connections are refused at once, before any stream.
      const late = await RawH2.connect(g.port);
      const refused = await late.waitFor((f) => f.type === FrameType.GOAWAY, 3000);
      expect(goaway(refused)).toEqual({ lastStreamId: 0, code: H2.NGHTTP2_ENHANCE_YOUR_CALM });
      await late.waitClosed(5000);
      expect(await metric(g, 'h2ws_rapid_reset_clients_total')).toBe(1);
      expect(g.stderr()).toContain('rapid_reset_client');
      // The cool-down ends once the bucket has refilled (burst / rate = 5 s).
      await sleep(5500);
      const again = await RawH2.connect(g.port);
      await sleep(200);
      expect(again.frames.filter((f) => f.type === FrameType.GOAWAY)).toEqual([]);
      again.destroy();
    } finally {
      expect(await g.stop()).toBe(0);
      await b2.close();
    }
  }, 60_000);

  it('item 3: a stream reset during its dial aborts the dial (the backend sees no upgrade request)', async () => {
    // A backend that accepts TCP but is slow to be reached is hard to fake; instead: many
    // streams, each reset in the next read, so the reset lands while its dial is in flight.
    const b2 = await startRecordingBackend();
    const g = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/b=${b2.url}`], { timeouts: { drainMs: 2000 } });
    try {
      const c = await RawH2.connect(g.port);
      for (let i = 0; i < 50; i++) {
        const id = 1 + 2 * i;
        c.headers(id, connectFields('/b'));
        await new Promise((r) => setImmediate(r));
        c.rst(id, H2.NGHTTP2_CANCEL);
      }
      await sleep(500);
      // No tunnel was answered, and every backend connection that did open was torn down.
      expect(c.frames.filter((f) => f.type === FrameType.HEADERS)).toEqual([]);
      await eventually(() => b2.conns.every((x) => x.events.includes('close')), 5000, 'backend connections closed');
      for (const x of b2.conns) expect(x.events).not.toContain('end');
      c.destroy();
    } finally {
      expect(await g.stop()).toBe(0);
      await b2.close();
    }
  });

  // ---------------------------------------------------------------------------------------
  // Item 5 (b), (c): GOAWAY ids and SIGTERM with idle sessions.

  it('item 5: rapid-reset GOAWAY then SIGTERM on the same connection: the last stream id never goes up', async () => {
    const b2 = await startRecordingBackend();
    const g = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/b=${b2.url}`], { timeouts: { drainMs: 2000 } });
    try {
      const c = await RawH2.connect(g.port);
      const parts: Buffer[] = [];
      for (let id = 1; id < 2 * 600; id += 2) parts.push(frame(FrameType.HEADERS, 0x4, id, headerBlock(connectFields('/b'))), rstFrame(id, H2.NGHTTP2_CANCEL));
      c.write(Buffer.concat(parts));
      await c.waitFor((f) => f.type === FrameType.GOAWAY);
      g.proc.kill('SIGTERM');
      expect(await g.exited).toBe(0);
      await sleep(100);
      const ids = c.frames.filter((f) => f.type === FrameType.GOAWAY).map((f) => goaway(f));
      expect(ids[0]!.code).toBe(H2.NGHTTP2_ENHANCE_YOUR_CALM);
      for (let i = 1; i < ids.length; i++) expect(ids[i]!.lastStreamId).toBeLessThanOrEqual(ids[i - 1]!.lastStreamId);
      c.destroy();
    } finally {
      await g.stop();
      await b2.close();
    }
  });

  it('item 5: SIGTERM with idle HTTP/2 sessions open (drainMs 10 s): exits promptly once the tunnels are gone', async () => {
    const b2 = await startRecordingBackend();
    const g = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/b=${b2.url}`], { timeouts: { drainMs: 10_000 } });
    try {
      // An idle raw session (never answers PINGs), an idle node:http2 session, and one that
      // had a tunnel which has ended.
      const idleRaw = await RawH2.connect(g.port);
      const idleNode = await connectH2(g.url);
      const used = await RawH2.connect(g.port);
      const conn = await rawTunnel(used, 1, b2);
      used.data(1, Buffer.alloc(0), true);
      conn.socket.end();
      await used.waitFor((f) => f.streamId === 1 && (f.flags & END_STREAM) !== 0 && f.type === FrameType.DATA);
      await eventually(() => conn.events.includes('close'), 5000, 'tunnel closed');
      const started = Date.now();
      g.proc.kill('SIGTERM');
      expect(await g.exited).toBe(0);
      const took = Date.now() - started;
      expect(took, `exit took ${took} ms`).toBeLessThan(3000);
      for (const c of [idleRaw, used]) expect(c.frames.some((f) => f.type === FrameType.GOAWAY)).toBe(true);
      idleRaw.destroy();
      used.destroy();
      await idleNode.close();
    } finally {
      await g.stop();
      await b2.close();
    }
  });
});
