import http2 from 'node:http2';
import * as wsModule from 'ws';

// ws exports its RFC 6455 Sender and Receiver at runtime; @types/ws does not declare them.
interface ReceiverLike {
  on(event: string, listener: (...args: never[]) => void): void;
  write(chunk: Buffer): boolean;
}
const { Receiver, Sender } = wsModule as unknown as {
  Receiver: new (options: object) => ReceiverLike;
  Sender: { frame(data: Buffer, options: object): Buffer[] };
};

export interface H2Client {
  readonly session: http2.ClientHttp2Session;
  readonly settings: http2.Settings;
  close(): Promise<void>;
}

/** Connects with node:http2 (h2c or TLS) and waits for the server's SETTINGS. */
export async function connectH2(url: string): Promise<H2Client> {
  const session = http2.connect(url, { rejectUnauthorized: false } as http2.SecureClientSessionOptions);
  session.on('error', () => {});
  const settings = await new Promise<http2.Settings>((resolve, reject) => {
    session.once('remoteSettings', resolve);
    session.once('error', reject);
  });
  return {
    session,
    settings,
    close: () =>
      new Promise<void>((resolve) => {
        if (session.closed || session.destroyed) return resolve();
        session.close(() => resolve());
        setTimeout(() => {
          session.destroy();
          resolve();
        }, 2000).unref();
      }),
  };
}

export interface TunnelResponse {
  /** The :status, or undefined when the stream was reset before any response. */
  readonly status: number | undefined;
  readonly headers: http2.IncomingHttpHeaders;
  readonly stream: http2.ClientHttp2Stream;
  /** RST_STREAM code if the stream was reset before responding. */
  readonly rstCode: number | undefined;
  /** The response body for non-2xx answers. */
  body(): Promise<string>;
}

/** Sends an extended CONNECT (RFC 8441 §4) and waits for the response or a reset. */
export function openTunnel(client: H2Client, path: string, extra: http2.OutgoingHttpHeaders = {}): Promise<TunnelResponse> {
  const stream = client.session.request(
    { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': path, ':authority': 'gateway.test', 'sec-websocket-version': '13', ...extra },
    { endStream: false },
  );
  stream.on('error', () => {});
  return new Promise((resolve) => {
    const body = () =>
      new Promise<string>((res) => {
        let text = '';
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (text += d));
        stream.once('end', () => res(text));
        stream.once('close', () => res(text));
      });
    stream.once('response', (headers) => resolve({ status: Number(headers[':status']), headers, stream, rstCode: undefined, body }));
    stream.once('close', () => resolve({ status: undefined, headers: {}, stream, rstCode: stream.rstCode, body }));
  });
}

/** A masked client frame (RFC 6455 §5.3) built by ws's own Sender. */
export function clientFrame(data: string | Buffer, opcode = typeof data === 'string' ? 1 : 2): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat(
    // readOnly: true makes ws mask a copy, leaving the caller's Buffer as it was.
    Sender.frame(payload, { fin: true, rsv1: false, opcode, mask: true, readOnly: true, maskBuffer: Buffer.from([1, 2, 3, 4]), generateMask: () => {} } as never) as Buffer[],
  );
}

/** An unmasked server frame. */
export function serverFrame(data: string | Buffer, opcode = typeof data === 'string' ? 1 : 2): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat(Sender.frame(payload, { fin: true, rsv1: false, opcode, mask: false, readOnly: false } as never) as Buffer[]);
}

/** Parses frames arriving on a stream with ws's own Receiver. */
export class FrameSink {
  readonly messages: Array<string | Buffer> = [];
  close: { code: number; reason: string } | undefined;
  readonly #receiver: ReceiverLike;
  #waiters: Array<() => void> = [];

  constructor(isServer: boolean) {
    this.#receiver = new Receiver({ isServer, maxPayload: 0 } as never);
    this.#receiver.on('message', (data: Buffer, isBinary: boolean) => {
      this.messages.push(isBinary ? Buffer.from(data) : data.toString());
      this.#wake();
    });
    this.#receiver.on('conclude', (code: number, reason: Buffer) => {
      this.close = { code, reason: reason.toString() };
      this.#wake();
    });
    this.#receiver.on('error', () => {});
  }

  write(chunk: Buffer): void {
    this.#receiver.write(chunk);
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `predicate` holds, or rejects after `ms`. */
  async until(predicate: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; have ${this.messages.length} messages, close=${JSON.stringify(this.close)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** Waits for an event or fails after `ms`. */
export function once<T = unknown>(emitter: NodeJS.EventEmitter, event: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), ms);
    emitter.once(event, (value: T) => {
      clearTimeout(t);
      resolve(value);
    });
  });
}

/** Polls until `predicate` holds, or fails after `ms`. */
export async function eventually(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
