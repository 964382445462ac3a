/**
 * The library-mode examples, each spawned as a script under Node, Deno and Bun with PORT=0,
 * and driven over both transports: HTTP/2 extended CONNECT (RFC 8441) with node:http2 and
 * hand-built frames, and HTTP/1.1 `Upgrade: websocket` with a `ws` client. Every WebSocket
 * ends with the closing handshake (RFC 6455 §7.1.2): the client's Close 1000 is answered with
 * Close 1000, then END_STREAM (h2) or a clean close (h1).
 */
import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type GatewayProcess, RUNTIMES, startScript } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, eventually, FrameSink, type H2Client, openTunnel } from '../helpers/h2-client.ts';
import { tunnelRecords } from '../helpers/logs.ts';

const H2 = http2.constants;
const EXAMPLES = ['echo-server', 'hono-chat', 'web-streams-echo', 'ws-drop-in', 'mixed'] as const;
type Example = (typeof EXAMPLES)[number];

const TEXT = 'héllo ✓ over h2ws';
// Larger than an HTTP/2 DATA frame (16 KiB) and the initial flow-control window (64 KiB).
const BINARY = randomBytes(100_000);

/** The payload of a Close frame (RFC 6455 §5.5.1): a 2-byte code. */
const closePayload = (code: number) => Buffer.from([code >> 8, code & 0xff]);

/** One WebSocket over an RFC 8441 tunnel, read with ws's Receiver. */
interface H2Socket {
  readonly sink: FrameSink;
  send(data: string | Buffer): void;
  /** Resolves with the next message after those already seen. */
  next(): Promise<string | Buffer>;
  /** Close 1000 → expects Close 1000 back and the server's END_STREAM, then ends our side. */
  closeCleanly(): Promise<void>;
}

async function h2Socket(client: H2Client, path: string): Promise<H2Socket> {
  const res = await openTunnel(client, path);
  expect(res.status, `extended CONNECT ${path}`).toBe(200);
  const { stream } = res;
  const sink = new FrameSink(false);
  let ended = false;
  stream.on('data', (d: Buffer) => sink.write(d));
  stream.on('end', () => (ended = true));
  let seen = 0;
  return {
    sink,
    // clientFrame masks a Buffer payload in place (ws's Sender with readOnly: false): pass a copy.
    send: (data) => void stream.write(clientFrame(typeof data === 'string' ? data : Buffer.from(data))),
    async next() {
      const want = seen + 1;
      await sink.until(() => sink.messages.length >= want);
      return sink.messages[seen++]!;
    },
    async closeCleanly() {
      stream.write(clientFrame(closePayload(1000), 0x8));
      await sink.until(() => sink.close !== undefined);
      expect(sink.close).toEqual({ code: 1000, reason: '' });
      await eventually(() => ended, 5000, `END_STREAM on ${path}`);
      stream.end();
      await eventually(() => stream.closed, 5000, `${path} stream closed`);
      expect(stream.rstCode, `${path} closed without RST_STREAM`).toBe(H2.NGHTTP2_NO_ERROR);
    },
  };
}

/** One WebSocket over HTTP/1.1 with a `ws` client. */
interface H1Socket {
  readonly ws: WebSocket;
  next(): Promise<{ data: Buffer; isBinary: boolean }>;
  closeCleanly(): Promise<void>;
}

async function h1Socket(base: string, path: string): Promise<H1Socket> {
  const ws = new WebSocket(new URL(path, base.replace(/^http/, 'ws')));
  const messages: Array<{ data: Buffer; isBinary: boolean }> = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => messages.push({ data, isBinary }));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let seen = 0;
  return {
    ws,
    async next() {
      const want = seen + 1;
      await eventually(() => messages.length >= want, 5000, `message ${want} on ${path}`);
      return messages[seen++]!;
    },
    async closeCleanly() {
      ws.close(1000);
      expect(await closed).toEqual({ code: 1000, reason: '' });
      expect(ws.readyState).toBe(WebSocket.CLOSED);
    },
  };
}

/** Echo of one text and one binary message, byte for byte, type for type. */
async function expectH2Echo(socket: H2Socket): Promise<void> {
  socket.send(TEXT);
  expect(await socket.next()).toBe(TEXT);
  socket.send(BINARY);
  const back = await socket.next();
  expect(Buffer.isBuffer(back), 'binary comes back binary').toBe(true);
  expect((back as Buffer).equals(BINARY)).toBe(true);
}

async function expectH1Echo(socket: H1Socket): Promise<void> {
  socket.ws.send(TEXT);
  const text = await socket.next();
  expect(text.isBinary).toBe(false);
  expect(text.data.toString('utf8')).toBe(TEXT);
  socket.ws.send(BINARY);
  const bin = await socket.next();
  expect(bin.isBinary).toBe(true);
  expect(bin.data.equals(BINARY)).toBe(true);
}

/** A plain HTTP/2 GET on an open session. */
function h2Get(client: H2Client, path: string): Promise<{ status: number; contentType: string | undefined; body: string }> {
  const stream = client.session.request({ ':method': 'GET', ':path': path, ':scheme': 'http', ':authority': 'examples.test' });
  return new Promise((resolve, reject) => {
    let status = 0;
    let contentType: string | undefined;
    let body = '';
    stream.setEncoding('utf8');
    stream.once('response', (headers) => {
      status = Number(headers[':status']);
      contentType = headers['content-type'] as string | undefined;
    });
    stream.on('data', (d: string) => (body += d));
    stream.once('end', () => resolve({ status, contentType, body }));
    stream.once('error', reject);
  });
}

describe.each(RUNTIMES)('examples under %s', (runtime) => {
  const procs = {} as Record<Example, GatewayProcess>;
  let stopped = false;

  beforeAll(async () => {
    const started = await Promise.all(EXAMPLES.map((name) => startScript(runtime, `examples/${name}.ts`, { PORT: '0' })));
    EXAMPLES.forEach((name, i) => (procs[name] = started[i]!));
  }, 40_000);

  afterAll(async () => {
    if (!stopped) await Promise.all(Object.values(procs).map((p) => p.stop('SIGKILL')));
  });

  it('each prints one ready line naming the port it really bound (PORT=0)', () => {
    for (const name of EXAMPLES) {
      const p = procs[name];
      expect(p.url, name).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(p.port, name).toBeGreaterThan(0);
      expect(p.stdout().trimEnd().split('\n'), `${name} stdout`).toHaveLength(1);
    }
  });

  describe('echo-server', () => {
    it('over HTTP/2: GET /health is 200, GET / is 404, any path echoes text and binary', async () => {
      const client = await connectH2(procs['echo-server'].url);
      try {
        expect(client.settings.enableConnectProtocol).toBe(true);
        const health = await h2Get(client, '/health');
        expect(health.status).toBe(200);
        expect((await h2Get(client, '/')).status).toBe(404);
        for (const path of ['/', '/any/path?q=1']) {
          const socket = await h2Socket(client, path);
          await expectH2Echo(socket);
          await socket.closeCleanly();
        }
      } finally {
        await client.close();
      }
    });

    it('over HTTP/1.1: GET /health is 200, GET / is 404, any path echoes text and binary', async () => {
      const { url } = procs['echo-server'];
      expect((await fetch(new URL('/health', url))).status).toBe(200);
      expect((await fetch(url)).status).toBe(404);
      for (const path of ['/', '/another/one']) {
        const socket = await h1Socket(url, path);
        await expectH1Echo(socket);
        await socket.closeCleanly();
      }
    });
  });

  describe('hono-chat', () => {
    it('GET / serves the page over HTTP/2 and HTTP/1.1', async () => {
      const { url } = procs['hono-chat'];
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const page = await res.text();
      expect(page).toContain("location.host + '/chat'");
      const client = await connectH2(url);
      try {
        const h2 = await h2Get(client, '/');
        expect(h2.status).toBe(200);
        expect(h2.contentType).toMatch(/^text\/html/);
        expect(h2.body).toBe(page);
      } finally {
        await client.close();
      }
    });

    it('broadcasts every message to every client, h2 and h1 alike', async () => {
      const { url } = procs['hono-chat'];
      const client = await connectH2(url);
      try {
        const viaH2 = await h2Socket(client, '/chat');
        const viaH1 = await h1Socket(url, '/chat');
        viaH2.send('from h2');
        expect(await viaH2.next()).toBe('from h2');
        expect(await viaH1.next()).toEqual({ data: Buffer.from('from h2'), isBinary: false });
        viaH1.ws.send(BINARY);
        const atH2 = await viaH2.next();
        expect(Buffer.isBuffer(atH2) && atH2.equals(BINARY), 'h2 client gets the binary message as binary').toBe(true);
        const atH1 = await viaH1.next();
        expect(atH1.isBinary).toBe(true);
        expect(atH1.data.equals(BINARY)).toBe(true);
        await viaH1.closeCleanly();
        // The room forgot the closed client: a later message reaches only the h2 one.
        viaH2.send('after h1 left');
        expect(await viaH2.next()).toBe('after h1 left');
        await viaH2.closeCleanly();
      } finally {
        await client.close();
      }
    });
  });

  describe('web-streams-echo', () => {
    it('over HTTP/2: /echo pipes messages back, /upper transforms text and passes binary', async () => {
      const client = await connectH2(procs['web-streams-echo'].url);
      try {
        const [echo, upper] = await Promise.all([h2Socket(client, '/echo'), h2Socket(client, '/upper')]);
        await expectH2Echo(echo);
        upper.send('shout');
        expect(await upper.next()).toBe('SHOUT');
        upper.send(BINARY);
        const back = await upper.next();
        expect(Buffer.isBuffer(back) && back.equals(BINARY)).toBe(true);
        await Promise.all([echo.closeCleanly(), upper.closeCleanly()]);
      } finally {
        await client.close();
      }
    });

    it('over HTTP/1.1: /echo echoes text and binary', async () => {
      const socket = await h1Socket(procs['web-streams-echo'].url, '/echo');
      await expectH1Echo(socket);
      await socket.closeCleanly();
    });
  });

  describe('ws-drop-in', () => {
    it("over HTTP/2: both servers greet with the request's path, then echo", async () => {
      const client = await connectH2(procs['ws-drop-in'].url);
      try {
        for (const path of ['/h2ws/room?id=7', '/ws/lobby']) {
          const socket = await h2Socket(client, path);
          expect(await socket.next()).toBe(`hello, you asked for ${path}`);
          await expectH2Echo(socket);
          await socket.closeCleanly();
        }
      } finally {
        await client.close();
      }
    });

    it("over HTTP/1.1: both servers greet with the request's path, then echo", async () => {
      for (const path of ['/h2ws/room?id=8', '/ws/lobby']) {
        const socket = await h1Socket(procs['ws-drop-in'].url, path);
        const greeting = await socket.next();
        expect(greeting.isBinary).toBe(false);
        expect(String(greeting.data)).toBe(`hello, you asked for ${path}`);
        await expectH1Echo(socket);
        await socket.closeCleanly();
      }
    });
  });

  describe('mixed', () => {
    it('over HTTP/2: /bridged, /local and GET / all on one connection', async () => {
      const p = procs.mixed;
      const client = await connectH2(p.url);
      try {
        const [bridged, local] = await Promise.all([h2Socket(client, '/bridged'), h2Socket(client, '/local')]);
        const home = await h2Get(client, '/');
        expect(home.status).toBe(200);
        expect(home.body).toContain('/bridged');
        await Promise.all([expectH2Echo(bridged), expectH2Echo(local)]);
        await Promise.all([bridged.closeCleanly(), local.closeCleanly()]);
        // The server's log says which tunnel went where.
        await eventually(() => tunnelRecords(p.stderr(), { path: '/bridged', transport: 'h2', end: 'clean', backend: /^ws:\/\/127\.0\.0\.1:\d+$/ }).length === 1, 5000, 'the bridged tunnel log line');
        await eventually(() => tunnelRecords(p.stderr(), { path: '/local', transport: 'h2', end: 'clean', backend: 'in-process', close_code: 1000 }).length === 1, 5000, 'the in-process tunnel log line');
      } finally {
        await client.close();
      }
    });

    it('over HTTP/1.1: /bridged and /local echo, GET / is 200', async () => {
      const p = procs.mixed;
      expect((await fetch(p.url)).status).toBe(200);
      const [bridged, local] = await Promise.all([h1Socket(p.url, '/bridged'), h1Socket(p.url, '/local')]);
      await expectH1Echo(bridged);
      await expectH1Echo(local);
      await Promise.all([bridged.closeCleanly(), local.closeCleanly()]);
      await eventually(() => tunnelRecords(p.stderr(), { path: '/bridged', transport: 'h1', end: 'clean', backend: /^ws:\/\/127\.0\.0\.1:\d+$/ }).length === 1, 5000, 'the bridged tunnel log line');
      await eventually(() => tunnelRecords(p.stderr(), { path: '/local', transport: 'h1', end: 'clean', backend: 'in-process', close_code: 1000 }).length === 1, 5000, 'the in-process tunnel log line');
    });
  });

  it('each exits 0 on SIGTERM', async () => {
    stopped = true;
    const codes = await Promise.all(EXAMPLES.map((name) => procs[name].stop('SIGTERM')));
    const report = EXAMPLES.map((name) => `${name}: ${procs[name].stderr()}`).join('\n');
    expect(codes, report).toEqual(EXAMPLES.map(() => 0));
  });
});
