/**
 * HTTP/1.1 persistent connections (RFC 9112 §9.3) on the gateway's HTTP/1.1 side, in
 * cleartext and over TLS (ALPN http/1.1), under Node, Deno and Bun: three GET /healthz on one
 * connection get three 200s, and the connection is still open after them. Regression: Deno's
 * node:http closed the connection after each response (cleartext) or reset the next request
 * (TLS), because the gateway's HTTP/1.1 server never listens itself (server/h1-server.ts).
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';

interface Response {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** One HTTP/1.1 connection, read as a sequence of responses (Content-Length or chunked). */
class H1Connection {
  #buf = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  ended = false;
  error: string | undefined;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#wake?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.#wake?.();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err.code ?? err.message;
      this.#wake?.();
    });
  }

  static async open(url: string): Promise<H1Connection> {
    const { hostname, port, protocol } = new URL(url);
    const socket =
      protocol === 'https:'
        ? tls.connect({ host: hostname, port: Number(port), ALPNProtocols: ['http/1.1'], rejectUnauthorized: false, servername: 'localhost' })
        : net.connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once(protocol === 'https:' ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    if (socket instanceof tls.TLSSocket) expect(socket.alpnProtocol).toBe('http/1.1');
    return new H1Connection(socket);
  }

  send(requests: string): void {
    this.socket.write(requests);
  }

  /** The next whole response, or an Error saying how the connection ended instead. */
  async next(ms = 5000): Promise<Response | Error> {
    const deadline = Date.now() + ms;
    for (;;) {
      const parsed = this.#take();
      if (parsed !== undefined) return parsed;
      if (this.error !== undefined) return new Error(`connection error ${this.error}`);
      if (this.ended) return new Error('connection closed by the server');
      if (Date.now() > deadline) return new Error(`no response within ${ms} ms`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  #take(): Response | undefined {
    const end = this.#buf.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
    const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
    const framed = headers.get('transfer-encoding') === 'chunked' ? chunkedBody(this.#buf, end + 4) : contentLengthBody(this.#buf, end + 4, Number(headers.get('content-length') ?? 0));
    if (framed === undefined) return undefined;
    this.#buf = this.#buf.subarray(framed.next);
    return { status: Number(lines[0]!.split(' ')[1]), headers, body: framed.body };
  }

  /** Still open after a pause: no FIN, no reset. */
  async stillOpen(ms = 200): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return !this.ended && this.error === undefined && !this.socket.destroyed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A body of `length` octets from `at` (RFC 9112 §6.3), once it has all arrived. */
function contentLengthBody(buf: Buffer, at: number, length: number): { body: string; next: number } | undefined {
  return buf.length < at + length ? undefined : { body: buf.subarray(at, at + length).toString('utf8'), next: at + length };
}

/** A chunked body from `at` (RFC 9112 §7.1), once its last chunk and empty trailer section have arrived. */
function chunkedBody(buf: Buffer, at: number): { body: string; next: number } | undefined {
  const parts: Buffer[] = [];
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol === -1) return undefined;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) return buf.length < eol + 4 ? undefined : { body: Buffer.concat(parts).toString('utf8'), next: eol + 4 };
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

const healthz = (host: string) => `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

describe.each(RUNTIMES)('HTTP/1.1 keep-alive under %s', (runtime) => {
  let cleartext: GatewayProcess;
  let secure: GatewayProcess;

  beforeAll(async () => {
    // A backend route is needed so the gateway serves rather than starting its demo; it is never dialled.
    const args = ['--listen', '127.0.0.1:0', '--backend', 'ws://127.0.0.1:9'];
    [cleartext, secure] = await Promise.all([startGateway(runtime, args), startGateway(runtime, [...args, '--self-signed'])]);
  });

  afterAll(async () => {
    const codes = await Promise.all([cleartext?.stop(), secure?.stop()]);
    expect(codes, `stderr:\n${cleartext?.stderr()}\n${secure?.stderr()}`).toEqual([0, 0]);
  });

  for (const [name, gateway] of [['cleartext', () => cleartext], ['TLS', () => secure]] as const) {
    it(`${name}: three GET /healthz one after another on one connection get three 200s, and it stays open`, async () => {
      const gw = gateway();
      const conn = await H1Connection.open(gw.url);
      try {
        const host = new URL(gw.url).host;
        const answers: Array<number | string> = [];
        for (let i = 0; i < 3; i++) {
          conn.send(healthz(host));
          const r = await conn.next();
          answers.push(r instanceof Error ? r.message : r.status);
          if (!(r instanceof Error)) expect(r.headers.get('connection') ?? 'keep-alive').toBe('keep-alive');
        }
        expect(answers).toEqual([200, 200, 200]);
        expect(await conn.stillOpen()).toBe(true);
      } finally {
        conn.close();
      }
    });

    it(`${name}: three pipelined GET /healthz in one write get three 200s in order`, async () => {
      const gw = gateway();
      const conn = await H1Connection.open(gw.url);
      try {
        const host = new URL(gw.url).host;
        conn.send(healthz(host).repeat(3));
        const answers: Array<number | string> = [];
        for (let i = 0; i < 3; i++) {
          const r = await conn.next();
          answers.push(r instanceof Error ? r.message : r.status);
        }
        expect(answers).toEqual([200, 200, 200]);
        expect(await conn.stillOpen()).toBe(true);
      } finally {
        conn.close();
      }
    });
  }
});
