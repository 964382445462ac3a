import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const acceptFor = (key: string) => createHash('sha1').update(key + GUID).digest('base64');

export interface Backend {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface EchoBackend extends Backend {
  /** Request heads of the upgrades this backend accepted, in order. */
  readonly requests: http.IncomingMessage[];
  readonly sockets: WebSocket[];
  /** Close codes and reasons this backend received. */
  readonly closes: Array<{ code: number; reason: string }>;
}

/** A real `ws` echo server. Picks subprotocol "chat" when offered. */
export async function startEchoBackend(options: { perMessageDeflate?: boolean } = {}): Promise<EchoBackend> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: options.perMessageDeflate ?? false,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const requests: http.IncomingMessage[] = [];
  const sockets: WebSocket[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  wss.on('connection', (socket, req) => {
    requests.push(req);
    sockets.push(socket);
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
    socket.on('error', () => {});
  });
  const { port } = wss.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    requests,
    sockets,
    closes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

export interface RawConnection {
  readonly socket: net.Socket;
  /** The upgrade request head as text. */
  readonly head: string;
  /** Header value from the request (lower-case name). */
  header(name: string): string | undefined;
  /** Bytes received after the head. */
  received(): Buffer;
  /** Resolves with 'fin' when the gateway half-closed, 'reset' on ECONNRESET, 'close' otherwise. */
  readonly ended: Promise<'fin' | 'reset' | 'close'>;
  /** Writes a valid 101 for this request (with optional extra header lines). */
  accept(extra?: string[]): void;
}

export interface RawBackend extends Backend {
  readonly connections: RawConnection[];
  /** Resolves with the next connection's request. */
  next(): Promise<RawConnection>;
}

/**
 * A hand-written HTTP/1.1 backend for the misbehaving cases: it reads the upgrade request
 * and hands the socket to `onRequest`, which may answer anything (or nothing).
 */
export async function startRawBackend(onRequest: (conn: RawConnection) => void): Promise<RawBackend> {
  const connections: RawConnection[] = [];
  const waiters: Array<(c: RawConnection) => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    let conn: RawConnection | undefined;
    let after = Buffer.alloc(0);
    let settle!: (v: 'fin' | 'reset' | 'close') => void;
    const ended = new Promise<'fin' | 'reset' | 'close'>((resolve) => (settle = resolve));
    socket.on('error', (err: NodeJS.ErrnoException) => settle(err.code === 'ECONNRESET' ? 'reset' : 'close'));
    socket.on('end', () => settle('fin'));
    socket.on('close', () => settle('close'));
    socket.on('data', (chunk: Buffer) => {
      if (conn !== undefined) {
        after = Buffer.concat([after, chunk]);
        return;
      }
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.toString('latin1', 0, end);
      after = buf.subarray(end + 4);
      const headers = new Map<string, string>();
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
      }
      conn = {
        socket,
        head,
        header: (name) => headers.get(name),
        received: () => after,
        ended,
        accept: (extra = []) =>
          socket.write(
            ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(headers.get('sec-websocket-key') ?? '')}`, ...extra].join('\r\n') + '\r\n\r\n',
          ),
      };
      connections.push(conn);
      waiters.shift()?.(conn);
      onRequest(conn);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    connections,
    next: () => new Promise((resolve) => waiters.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A port with nothing listening: connecting to it is refused. A port below 1024 that refuses
 * now stays refused: listeners in the suites bind port 0, which the kernel takes from the
 * ephemeral range (32768 and up), so no parallel test can start listening on it later, as it
 * could on a freed ephemeral port.
 */
export async function refusedPort(): Promise<number> {
  for (const port of [1, 3, 5, 7, 9, 11, 13, 17, 19, 1023]) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  throw new Error('no closed port below 1024 on 127.0.0.1 to use as a refusing backend');
}
