/**
 * The client side (`connect`, `connectStream`, the HTTP/2 session pool) running inside Node,
 * Deno and Bun in turn: test/fixtures/client-runner.ts is spawned under each runtime and
 * driven over stdin/stdout, while the servers live in this process: h2ws itself (`serve`,
 * h2c and TLS), bare `node:http2` RFC 8441 servers that refuse streams, send GOAWAY or
 * advertise a small MAX_CONCURRENT_STREAMS, a plain `ws` server (HTTP/1.1 only) and an h2
 * server that does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { WebSocketServer as WsServer } from 'ws';
import { type Gateway, serve, type WebSocketStream } from '../../mod.ts';
import { localhostCertificate } from '../helpers/certs.ts';
import { type EchoBackend, type RawBackend, refusedPort, startEchoBackend, startRawBackend } from '../helpers/backends.ts';
import { binary, type Message, type Opened, Runner, text } from '../helpers/client-runner.ts';
import { RUNTIMES, scriptCommand } from '../helpers/gateway-process.ts';
import { connectH2, eventually, openTunnel, serverFrame } from '../helpers/h2-client.ts';

const H2 = http2.constants;

// ---------------------------------------------------------------------------------------------
// Servers in this process.

// ws exports its RFC 6455 Receiver at runtime; @types/ws does not declare it.
const { Receiver } = wsModule as unknown as {
  Receiver: new (options: object) => { on(event: string, listener: (...args: never[]) => void): void; write(chunk: Buffer): boolean };
};

/** Answers an extended CONNECT with 200 and echoes frames unmasked; a Close is answered and ends the stream. */
function acceptEcho(stream: http2.ServerHttp2Stream, headers: http2.OutgoingHttpHeaders = {}): void {
  stream.respond({ ':status': 200, ...headers });
  const receiver = new Receiver({ isServer: true, maxPayload: 0 });
  receiver.on('message', (data: Buffer, isBinary: boolean) => stream.write(serverFrame(Buffer.from(data), isBinary ? 2 : 1)));
  receiver.on('conclude', (code: number, reason: Buffer) => {
    const payload = code === 1005 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([code >> 8, code & 0xff]), reason]);
    stream.end(serverFrame(payload, 8));
  });
  receiver.on('error', () => stream.close(H2.NGHTTP2_PROTOCOL_ERROR));
  stream.on('data', (chunk: Buffer) => receiver.write(chunk));
}

interface BareStream {
  readonly stream: http2.ServerHttp2Stream;
  readonly headers: http2.IncomingHttpHeaders;
  readonly session: http2.ServerHttp2Session;
  /** Which connection (0, 1, …) carried it. */
  readonly sessionIndex: number;
  /** Set when END_STREAM arrived with no RST_STREAM before it (a clean half-close). */
  cleanEnd: boolean;
  readonly path: string;
  readonly id: number;
}

interface BareServer {
  readonly url: string;
  readonly sessions: http2.ServerHttp2Session[];
  readonly streams: BareStream[];
  close(): Promise<void>;
}

/** A bare node:http2 RFC 8441 server (h2c) whose every stream goes to `onStream`. */
async function startBareH2(settings: http2.Settings, onStream: (s: BareStream) => void): Promise<BareServer> {
  const server = http2.createServer({ settings: { enableConnectProtocol: true, ...settings } });
  const sessions: http2.ServerHttp2Session[] = [];
  const streams: BareStream[] = [];
  server.on('session', (session) => {
    sessions.push(session);
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const session = stream.session as http2.ServerHttp2Session;
    const s: BareStream = { stream, headers, session, sessionIndex: sessions.indexOf(session), path: String(headers[':path']), id: stream.id ?? 0, cleanEnd: false };
    // node:http2 ends the readable side on RST_STREAM too, with rstCode already set.
    stream.once('end', () => (s.cleanEnd = (stream.rstCode ?? 0) === H2.NGHTTP2_NO_ERROR && !stream.aborted));
    streams.push(s);
    onStream(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sessions,
    streams,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An in-process echo for Web Streams routes. */
async function streamsEcho(socket: WebSocketStream): Promise<void> {
  await socket.readable.pipeTo(socket.writable).catch(() => {});
}

let gw: Gateway; // h2c and HTTP/1.1
let tlsGw: Gateway; // TLS with a certificate whose PEM the client gets as `ca`
let selfSignedGw: Gateway; // --self-signed
let certPem: string;
let plainWs: EchoBackend; // a `ws` server: HTTP/1.1 only
let evilH1: RawBackend; // HTTP/1.1, picks a subprotocol nobody offered
let noConnect: { url: string; h2Sessions: () => number; upgrades: () => number; close(): Promise<void> };
let limited: BareServer & { maxOpen: () => number };
let tricky: BareServer;
let refused: number;

beforeAll(async () => {
  const pems = await localhostCertificate();
  certPem = pems.cert;

  const routes = {
    '/echo': streamsEcho,
    '/chat': { handler: streamsEcho, handleProtocols: (offered: Set<string>) => (offered.has('chat') ? 'chat' : false) },
    '/headers': async (socket: WebSocketStream, request: Request) => {
      const writer = socket.writable.getWriter();
      const h = (name: string) => request.headers.get(name);
      await writer.write(JSON.stringify({ authorization: h('authorization'), origin: h('origin'), custom: h('x-custom') }));
      writer.releaseLock();
      await streamsEcho(socket);
    },
    // Closes with 4000 "bye" when it receives the text "close".
    '/close': async (socket: WebSocketStream) => {
      const reader = socket.readable.getReader();
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        if (value === 'close') return socket.close({ closeCode: 4000, reason: 'bye' });
      }
    },
  };
  [gw, tlsGw, selfSignedGw, plainWs, evilH1, refused] = await Promise.all([
    serve({ listen: '127.0.0.1:0', log: () => {}, limits: { maxStreamsPerConnection: 2000 }, routes }),
    serve({ listen: '127.0.0.1:0', log: () => {}, tls: { cert: pems.cert, key: pems.private }, routes }),
    serve({ listen: '127.0.0.1:0', log: () => {}, selfSigned: true, routes }),
    startEchoBackend(),
    startRawBackend((c) => c.accept(['Sec-WebSocket-Protocol: evil'])),
    refusedPort(),
  ]);

  // h2 over TLS without SETTINGS_ENABLE_CONNECT_PROTOCOL, HTTP/1.1 upgrades on the same port.
  {
    const server = http2.createSecureServer({ cert: pems.cert, key: pems.private, allowHTTP1: true });
    const wss = new WsServer({ noServer: true });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    let h2Sessions = 0;
    let upgrades = 0;
    server.on('session', (session) => {
      h2Sessions++;
      session.on('error', () => {});
    });
    server.on('upgrade', (req, socket, head) => {
      upgrades++;
      wss.handleUpgrade(req, socket as net.Socket, head, (ws) => wss.emit('connection', ws, req));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    noConnect = {
      url: `wss://127.0.0.1:${port}`,
      h2Sessions: () => h2Sessions,
      upgrades: () => upgrades,
      close: () =>
        new Promise((resolve) => {
          for (const c of wss.clients) c.terminate();
          server.close(() => resolve());
          setTimeout(resolve, 1000).unref();
        }),
    };
  }

  // MAX_CONCURRENT_STREAMS = 10; counts streams open at once.
  {
    let open = 0;
    let maxOpen = 0;
    const server = await startBareH2({ maxConcurrentStreams: 10 }, ({ stream }) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      stream.once('close', () => open--);
      acceptEcho(stream);
    });
    limited = Object.assign(server, { maxOpen: () => maxOpen });
  }

  // Paths decide the behaviour (each runtime uses its own paths):
  //   /refuse-once/…  RST_STREAM REFUSED_STREAM the first time, then echo
  //   /pair/…         two of them on one connection: GOAWAY naming the lower stream id, which
  //                   is answered; the higher one is never answered there
  //   /processed/…    GOAWAY naming this very stream, then the connection is dropped unanswered
  //   /evil           200 with a subprotocol nobody offered
  //   anything else   echo
  const pending = new Map<http2.ServerHttp2Session, BareStream[]>();
  tricky = await startBareH2({}, (s) => {
    const seenBefore = tricky.streams.filter((o) => o.path === s.path).length > 1;
    if (s.path.startsWith('/refuse-once/')) {
      if (seenBefore) acceptEcho(s.stream);
      else s.stream.close(H2.NGHTTP2_REFUSED_STREAM);
    } else if (s.path.startsWith('/pair/')) {
      if (seenBefore) return acceptEcho(s.stream);
      const list = pending.get(s.session) ?? [];
      list.push(s);
      pending.set(s.session, list);
      if (list.length === 2) {
        const first = list[0]!.id < list[1]!.id ? list[0]! : list[1]!;
        s.session.goaway(H2.NGHTTP2_NO_ERROR, first.id);
        acceptEcho(first.stream);
      }
    } else if (s.path.startsWith('/processed/')) {
      s.session.goaway(H2.NGHTTP2_NO_ERROR, s.id);
      setTimeout(() => s.session.destroy(), 100);
    } else if (s.path === '/evil') {
      acceptEcho(s.stream, { 'sec-websocket-protocol': 'evil' });
    } else {
      acceptEcho(s.stream);
    }
  });
});

afterAll(async () => {
  await Promise.all([gw?.close(), tlsGw?.close(), selfSignedGw?.close(), plainWs?.close(), evilH1?.close(), noConnect?.close(), limited?.close(), tricky?.close()]);
});

const wsUrl = (server: { url: string }, path: string) => new URL(path, server.url).href.replace(/^http/, 'ws');

describe.each(RUNTIMES)('the client under %s', (runtime) => {
  let runner: Runner;
  let many: Gateway;

  beforeAll(async () => {
    [runner, many] = await Promise.all([
      Runner.start(runtime),
      serve({ listen: '127.0.0.1:0', log: () => {}, limits: { maxStreamsPerConnection: 1100 }, routes: { '/echo': streamsEcho } }),
    ]);
  });

  afterAll(async () => {
    await runner?.stop();
    await many?.close();
  });

  it(`runs inside ${runtime}`, () => {
    expect(runner.runtime).toBe(runtime);
  });

  it('an idle pooled connection does not keep the process alive', async () => {
    const { cmd, args } = scriptCommand(runtime, 'test/fixtures/client-runner.ts');
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', H2WS_RUNNER_IDLE_EXIT: wsUrl(gw, '/echo') } });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.once('exit', (c, s) => resolve([c, s])));
    clearTimeout(timer);
    expect({ code, signal }, `stdout: ${stdout}\nstderr: ${stderr}`).toEqual({ code: 0, signal: null });
    // The connection was still open when the script returned: it was idle, not closed.
    expect(JSON.parse(stdout)).toEqual({ transport: 'h2', echoed: true, sessions: 1 });
  });

  describe('against h2ws (h2c)', () => {
    it('carries the socket over HTTP/2 and echoes text and binary byte-exact', async () => {
      const ws = await runner.call<Opened>('connect', { url: wsUrl(gw, '/echo') });
      expect(ws.transport).toBe('h2');
      expect(ws.protocol).toBe('');
      const big = randomBytes(100_000);
      const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const sent = [text('hello'), text('héllo wörld ✓ 😀'), text(''), binary(every), binary(big), binary(Buffer.alloc(0))];
      const [back] = await runner.call<Message[][]>('echo', { handles: [ws.handle], messages: sent });
      expect(back).toEqual(sent);
      expect(await runner.call('close', { handles: [ws.handle], code: 1000, reason: 'done' })).toEqual([{ code: 1000, reason: 'done' }]);
    });

    it('negotiates a subprotocol (RFC 6455 §4.1), and none when the server picks none', async () => {
      const chat = await runner.call<Opened>('connect', { url: wsUrl(gw, '/chat'), options: { protocols: ['superchat', 'chat'] } });
      expect(chat).toMatchObject({ transport: 'h2', protocol: 'chat', extensions: '' });
      const none = await runner.call<Opened>('connect', { url: wsUrl(gw, '/chat'), options: { protocols: ['other'] } });
      expect(none).toMatchObject({ transport: 'h2', protocol: '' });
      await runner.call('close', { handles: [chat.handle, none.handle], code: 1000 });
    });

    it.each(['auto', 'h1'] as const)('sends authorization, origin and other headers to the server (transport %s)', async (transport) => {
      const ws = await runner.call<Opened>('connect', {
        url: wsUrl(gw, '/headers'),
        options: { transport, headers: { Authorization: 'Bearer s3cret', origin: 'https://app.test', 'x-custom': 'yes' } },
      });
      expect(ws.transport).toBe(transport === 'auto' ? 'h2' : 'h1');
      const [first] = await runner.call<Message[]>('recv', { handle: ws.handle });
      expect(JSON.parse((first as { text: string }).text)).toEqual({
        authorization: 'Bearer s3cret',
        origin: 'https://app.test',
        custom: 'yes',
      });
      await runner.call('close', { handles: [ws.handle], code: 1000 });
    });

    it('connectStream: readable, writable and closed (client-initiated close)', async () => {
      const ws = await runner.call<Opened>('connect', { url: wsUrl(gw, '/echo'), stream: true });
      expect(ws.transport).toBe('h2');
      const sent = [text('over streams'), binary(Buffer.from([0, 1, 2, 254, 255]))];
      expect(await runner.call('echo', { handles: [ws.handle], messages: sent })).toEqual([sent]);
      expect(await runner.call('close', { handles: [ws.handle], code: 4001, reason: 'enough' })).toEqual([{ code: 4001, reason: 'enough' }]);
    });

    it('connectStream: closed resolves with the server’s close code and reason', async () => {
      const ws = await runner.call<Opened>('connect', { url: wsUrl(gw, '/close'), stream: true });
      await runner.call('send', { handle: ws.handle, message: text('close') });
      expect(await runner.call('closed', { handle: ws.handle })).toEqual({ code: 4000, reason: 'bye' });
    });

    it('1,000 sockets to one origin share ONE HTTP/2 connection, and every one echoes', async () => {
      const url = wsUrl(many, '/echo');
      const pool = `many-${runtime}`;
      const opened = await runner.call<{ handles: number[]; transports: Record<string, number>; errors: string[] }>('connectMany', { url, count: 1000, pool }, 30_000);
      expect(opened.errors).toEqual([]);
      expect(opened.transports).toEqual({ h2: 1000 });
      // While all 1,000 are open: one h2 session at the server, and 1,000 tunnels on it.
      expect(many.openTunnels).toBe(1000);
      expect(many.metrics.sessionsOpen.value({ transport: 'h2' })).toBe(1);
      expect(many.metrics.sessionsOpen.value({ transport: 'h1' })).toBe(0);
      expect(await runner.call('sessions', { pool })).toBe(1);
      const back = await runner.call<Message[][]>('echo', { handles: opened.handles, messages: [text('ping')] }, 30_000);
      expect(back.filter((m) => m.length === 1 && 'text' in m[0]! && m[0].text === 'ping')).toHaveLength(1000);
      expect(many.metrics.sessionsOpen.value({ transport: 'h2' })).toBe(1);
      const closes = await runner.call<Array<{ code: number }>>('close', { handles: opened.handles, code: 1000 }, 30_000);
      expect(closes.filter((c) => c.code === 1000)).toHaveLength(1000);
      await eventually(() => many.openTunnels === 0, 5000, 'tunnels closed at the server');
    }, 60_000);

    it('404 rejects with H2WS_ERR_HANDSHAKE and status 404, over h2 and HTTP/1.1', async () => {
      expect(await runner.failure('connect', { url: wsUrl(gw, '/nowhere') })).toMatchObject({ name: 'H2wsError', code: 'H2WS_ERR_HANDSHAKE', status: 404 });
      expect(await runner.failure('connect', { url: wsUrl(gw, '/nowhere'), options: { transport: 'h1' } })).toMatchObject({ code: 'H2WS_ERR_HANDSHAKE', status: 404 });
    });

    it('a refused port rejects with H2WS_ERR_HANDSHAKE and no status', async () => {
      const error = await runner.failure('connect', { url: `ws://127.0.0.1:${refused}/echo` });
      expect(error).toMatchObject({ code: 'H2WS_ERR_HANDSHAKE' });
      expect(error.status).toBeUndefined();
      expect(error.message).toMatch(/ECONNREFUSED|refused/i);
    });
  });

  describe('TLS', () => {
    it('trusts a server certificate given as `ca` and speaks h2 over ALPN', async () => {
      const ws = await runner.call<Opened>('connect', { url: wsUrl(tlsGw, '/echo'), options: { ca: certPem } });
      expect(ws.transport).toBe('h2');
      expect(await runner.call('echo', { handles: [ws.handle], messages: [text('tls'), binary(Buffer.from([7, 8, 9]))] })).toEqual([[text('tls'), binary(Buffer.from([7, 8, 9]))]]);
      await runner.call('close', { handles: [ws.handle], code: 1000 });
    });

    it('a --self-signed server with rejectUnauthorized: false (h2, and h1 when asked)', async () => {
      for (const transport of ['auto', 'h1'] as const) {
        const ws = await runner.call<Opened>('connect', { url: wsUrl(selfSignedGw, '/chat'), options: { transport, rejectUnauthorized: false, protocols: ['chat'] } });
        expect(ws).toMatchObject({ transport: transport === 'auto' ? 'h2' : 'h1', protocol: 'chat' });
        expect(await runner.call('echo', { handles: [ws.handle], messages: [text(`self-signed ${transport}`)] })).toEqual([[text(`self-signed ${transport}`)]]);
        await runner.call('close', { handles: [ws.handle], code: 1000 });
      }
    });

    it('an untrusted certificate rejects the handshake (no silent fallback to HTTP/1.1)', async () => {
      const error = await runner.failure('connect', { url: wsUrl(selfSignedGw, '/echo') });
      expect(error.code).toBe('H2WS_ERR_HANDSHAKE');
      expect(error.message).toMatch(/certificate|self.signed/i);
    });

    // connect()'s contract: "every socket to one origin shares one connection", whatever TLS
    // options it was given.
    it('wss:// sockets given the same `ca` (and no pool) share one HTTP/2 connection', async () => {
      const before = tlsGw.metrics.sessionsOpen.value({ transport: 'h2' }) ?? 0;
      const a = await runner.call<Opened>('connect', { url: wsUrl(tlsGw, '/echo'), options: { ca: certPem } });
      const b = await runner.call<Opened>('connect', { url: wsUrl(tlsGw, '/echo'), options: { ca: certPem } });
      expect([a.transport, b.transport]).toEqual(['h2', 'h2']);
      expect(tlsGw.openTunnels).toBe(2);
      expect((tlsGw.metrics.sessionsOpen.value({ transport: 'h2' }) ?? 0) - before).toBeLessThanOrEqual(1);
      await runner.call('close', { handles: [a.handle, b.handle], code: 1000 });
    });
  });

  describe('HTTP/1.1 fallback', () => {
    it('a plain ws server (HTTP/1.1 only): transport "h1", and echo works', async () => {
      const ws = await runner.call<Opened>('connect', { url: `${plainWs.url}/x`, options: { protocols: ['chat'] } });
      expect(ws).toMatchObject({ transport: 'h1', protocol: 'chat' });
      expect(await runner.call('echo', { handles: [ws.handle], messages: [text('old school'), binary(Buffer.from([1, 2, 3]))] })).toEqual([
        [text('old school'), binary(Buffer.from([1, 2, 3]))],
      ]);
      await runner.call('close', { handles: [ws.handle], code: 1000 });
    });

    it('an h2 server without SETTINGS_ENABLE_CONNECT_PROTOCOL (allowHTTP1 over TLS): tries h2, uses "h1"', async () => {
      const sessionsBefore = noConnect.h2Sessions();
      const upgradesBefore = noConnect.upgrades();
      const ws = await runner.call<Opened>('connect', { url: `${noConnect.url}/x`, pool: `no-connect-${runtime}`, options: { rejectUnauthorized: false } });
      expect(ws.transport).toBe('h1');
      expect(noConnect.h2Sessions() - sessionsBefore).toBe(1);
      expect(noConnect.upgrades() - upgradesBefore).toBe(1);
      expect(await runner.call('echo', { handles: [ws.handle], messages: [text('fell back')] })).toEqual([[text('fell back')]]);
      // The pool remembers: the next socket goes straight to HTTP/1.1.
      const again = await runner.call<Opened>('connect', { url: `${noConnect.url}/y`, pool: `no-connect-${runtime}`, options: { rejectUnauthorized: false } });
      expect(again.transport).toBe('h1');
      expect(noConnect.h2Sessions() - sessionsBefore).toBe(1);
      await runner.call('close', { handles: [ws.handle, again.handle], code: 1000 });
    });

    it('transport "h2" against a plain ws server rejects with H2WS_ERR_HANDSHAKE', async () => {
      const error = await runner.failure('connect', { url: `${plainWs.url}/x`, options: { transport: 'h2' } });
      expect(error.code).toBe('H2WS_ERR_HANDSHAKE');
      expect(error.message).toMatch(/HTTP\/2|RFC 8441/);
    });

    it('transport "h1" against h2ws uses an HTTP/1.1 upgrade', async () => {
      const ws = await runner.call<Opened>('connect', { url: wsUrl(gw, '/echo'), options: { transport: 'h1' } });
      expect(ws.transport).toBe('h1');
      expect(await runner.call('echo', { handles: [ws.handle], messages: [text('h1 to h2ws')] })).toEqual([[text('h1 to h2ws')]]);
      await runner.call('close', { handles: [ws.handle], code: 1000 });
    });
  });

  describe('a bare node:http2 RFC 8441 server', () => {
    it('respects SETTINGS_MAX_CONCURRENT_STREAMS: 30 concurrent sockets queue over one connection, at most 10 streams open', async () => {
      const sessionsBefore = limited.sessions.length;
      const streamsBefore = limited.streams.length;
      const result = await runner.call('cycle', { url: `${limited.url}/echo`, count: 30, pool: `limited-${runtime}`, message: text('queued') }, 30_000);
      expect(result).toEqual({ transports: { h2: 30 }, echoed: 30, closes: { 1000: 30 }, errors: [] });
      expect(limited.sessions.length - sessionsBefore).toBe(1);
      const mine = limited.streams.slice(streamsBefore);
      // node:http2 refuses a stream over the limit with REFUSED_STREAM, which leaves a gap in
      // the stream ids it hands to the application: 1, 3, … 59 means no stream was refused.
      expect(mine.map((s) => s.id)).toEqual(Array.from({ length: 30 }, (_, i) => 2 * i + 1));
      expect(limited.maxOpen()).toBeLessThanOrEqual(10);
      expect(limited.maxOpen()).toBeGreaterThan(1);
    });

    it('advertises the pool’s windows: SETTINGS_INITIAL_WINDOW_SIZE, and a WINDOW_UPDATE raising the connection’s (RFC 9113 §6.9.2)', async () => {
      const path = `/windows/${runtime}`;
      const windows = { stream: 131_072, connection: 524_288 };
      const ws = await runner.call<Opened>('connect', { url: `${limited.url}${path}`, pool: `windows-${runtime}`, poolOptions: { windows } });
      expect(ws.transport).toBe('h2');
      const seen = limited.streams.find((s) => s.path === path)!;
      expect(seen.session.remoteSettings.initialWindowSize).toBe(windows.stream);
      // Nothing was sent to the client yet but HEADERS: the whole raised window is open.
      await eventually(() => seen.session.state.remoteWindowSize === windows.connection, 5000, 'the connection window raised to 512 KiB');
      const big = binary(randomBytes(300_000));
      expect(await runner.call('echo', { handles: [ws.handle], messages: [big] })).toEqual([[big]]);
      await runner.call('close', { handles: [ws.handle], code: 1000 });
    });

    it('retries a stream refused with REFUSED_STREAM (RFC 9113 §8.7); the application sees one socket', async () => {
      const path = `/refuse-once/${runtime}`;
      const ws = await runner.call<Opened>('connect', { url: `${tricky.url}${path}`, pool: `refuse-${runtime}` });
      expect(ws.transport).toBe('h2');
      const attempts = tricky.streams.filter((s) => s.path === path);
      expect(attempts).toHaveLength(2);
      expect(attempts[0]!.sessionIndex).toBe(attempts[1]!.sessionIndex);
      expect(await runner.call('echo', { handles: [ws.handle], messages: [text('second time lucky')] })).toEqual([[text('second time lucky')]]);
      await runner.call('close', { handles: [ws.handle], code: 1000 });
      expect(tricky.streams.filter((s) => s.path === path)).toHaveLength(2);
    });

    it('retries a stream above a GOAWAY’s last stream id on a new connection; the one at or below it is answered there', async () => {
      const pool = `goaway-${runtime}`;
      const a = `/pair/${runtime}/a`;
      const b = `/pair/${runtime}/b`;
      const sessionsBefore = tricky.sessions.length;
      const [first, second] = await Promise.all([
        runner.call<Opened>('connect', { url: `${tricky.url}${a}`, pool }),
        runner.call<Opened>('connect', { url: `${tricky.url}${b}`, pool }),
      ]);
      expect([first.transport, second.transport]).toEqual(['h2', 'h2']);
      const seen = tricky.streams.filter((s) => s.path === a || s.path === b);
      expect(seen).toHaveLength(3);
      const [low, high, retried] = [...seen.slice(0, 2).sort((x, y) => x.id - y.id), seen[2]!];
      expect(low.sessionIndex).toBe(high.sessionIndex);
      expect(retried.path).toBe(high.path);
      expect(retried.sessionIndex).not.toBe(low.sessionIndex);
      expect(tricky.sessions.length - sessionsBefore).toBe(2);
      expect(await runner.call('echo', { handles: [first.handle, second.handle], messages: [text('after goaway')] })).toEqual([[text('after goaway')], [text('after goaway')]]);
      await runner.call('close', { handles: [first.handle, second.handle], code: 1000 });
    });

    it('does NOT retry a stream at or below a GOAWAY’s last stream id: the server may have processed it', async () => {
      const path = `/processed/${runtime}`;
      const error = await runner.failure('connect', { url: `${tricky.url}${path}`, pool: `processed-${runtime}` });
      expect(error.code).toBe('H2WS_ERR_HANDSHAKE');
      await new Promise((r) => setTimeout(r, 300));
      expect(tricky.streams.filter((s) => s.path === path)).toHaveLength(1);
    });

    // An abort is RST_STREAM(CANCEL) alone (RFC 9113 §8.7). A clean END_STREAM before it would
    // read as a half-close: a gateway in the way would send its backend a FIN, not a reset.
    it('terminate() sends RST_STREAM(CANCEL) with no END_STREAM before it', async () => {
      const path = `/abort/${runtime}`;
      const ws = await runner.call<Opened>('connect', { url: `${tricky.url}${path}`, pool: `abort-${runtime}` });
      expect(await runner.call('echo', { handles: [ws.handle], messages: [text('still here')] })).toEqual([[text('still here')]]);
      await runner.call('terminate', { handle: ws.handle });
      const seen = tricky.streams.find((s) => s.path === path)!;
      await eventually(() => seen.stream.closed, 5000, 'the stream closed at the server');
      expect(seen.stream.rstCode).toBe(H2.NGHTTP2_CANCEL);
      expect(seen.cleanEnd, 'END_STREAM arrived before the RST_STREAM').toBe(false);
    });

    it('rejects a 200 that names a subprotocol it did not offer (h2), and a 101 that does (HTTP/1.1)', async () => {
      const h2 = await runner.failure('connect', { url: `${tricky.url}/evil`, options: { protocols: ['chat'] } });
      expect(h2.code).toBe('H2WS_ERR_HANDSHAKE');
      expect(h2.message).toMatch(/evil/);
      const h1 = await runner.failure('connect', { url: `${evilH1.url}/x`, options: { protocols: ['chat'] } });
      expect(h1.code).toBe('H2WS_ERR_HANDSHAKE');
    });
  });
});

describe("the gateway's pooled connections to RFC 8441 backends (RFC 9113 §6.9)", () => {
  it('advertise the same windows as toward clients: half of maxBufferedBytesPerTunnel per stream, four of those per connection', async () => {
    const gateway = await serve({
      listen: '127.0.0.1:0',
      log: () => {},
      limits: { maxBufferedBytesPerTunnel: 262_144 },
      routes: { '/via-h2': { backend: limited.url.replace(/^http/, 'ws'), h2: 'require' } },
    });
    const client = await connectH2(gateway.url);
    try {
      const res = await openTunnel(client, '/via-h2/windows');
      expect(res.status).toBe(200);
      const seen = limited.streams.find((s) => s.path === '/via-h2/windows');
      expect(seen, 'the backend saw the tunnel').toBeDefined();
      const session = seen!.session;
      expect(session.remoteSettings.initialWindowSize).toBe(131_072);
      // The connection window starts at 65,535 (§6.9.2) and is raised with a WINDOW_UPDATE.
      await eventually(() => session.state.remoteWindowSize === 4 * 131_072, 5000, 'connection window raised to 512 KiB');
      res.stream.close(H2.NGHTTP2_CANCEL);
    } finally {
      await client.close();
      await gateway.close();
    }
  });
});
