/** H2UpgradedStream: an RFC 8441 stream of h2ws's engine seen as an HTTP/1.1 upgraded socket, with node:http2 as the client on loopback. */
import http2 from 'node:http2';
import net from 'node:net';
import { H2Session } from '../../src/h2/session.ts';
import type { H2Stream } from '../../src/h2/stream.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { type H2Answer, H2UpgradedStream } from '../../src/h2/upgraded-stream.ts';
import { eventually, once } from '../helpers/h2-client.ts';

const { NGHTTP2_CANCEL } = http2.constants;

interface Harness {
  /** The next extended CONNECT stream, wrapped as the gateway wraps it. */
  open(path?: string): Promise<{ adapter: H2UpgradedStream; answers: H2Answer[]; client: http2.ClientHttp2Stream; server: H2Stream }>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(): Promise<Harness> {
  const arrivals: Array<(stream: H2Stream) => void> = [];
  const sessions = new Set<H2Session>();
  const server = net.createServer((socket) => {
    sessions.add(new H2Session(socket, { role: 'server', settings: { enableConnectProtocol: true } }, { onStream: (stream) => arrivals.shift()?.(stream) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  await once(session, 'remoteSettings');
  cleanups.push(async () => {
    session.destroy();
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    async open(path = '/ws') {
      const arrived = new Promise<H2Stream>((resolve) => arrivals.push(resolve));
      const client = session.request(
        { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': path, ':authority': 'test', 'sec-websocket-version': '13' },
        { endStream: false },
      );
      client.on('error', () => {});
      const stream = await arrived;
      const answers: H2Answer[] = [];
      const adapter = new H2UpgradedStream(stream, (answer) => answers.push(answer));
      adapter.on('error', () => {});
      return { adapter, answers, client, server: stream };
    },
  };
}

const ACCEPT_HEAD =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
  'Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n';

function collect(stream: NodeJS.ReadableStream): { bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  return { bytes: () => Buffer.concat(chunks) };
}

/**
 * Resolves with how the client stream ended: whether the server's END_STREAM arrived (the
 * readable side ended without being aborted), and the RST_STREAM code (0 when none).
 */
function clientEnded(client: http2.ClientHttp2Stream): Promise<{ endStream: boolean; rstCode: number | undefined }> {
  let ended = false;
  let aborted = false;
  client.once('end', () => (ended = true));
  client.once('aborted', () => (aborted = true));
  return new Promise((resolve) => client.once('close', () => resolve({ endStream: ended && !aborted, rstCode: client.rstCode })));
}

describe('H2UpgradedStream (RFC 8441 §5)', () => {
  it('the first write, an HTTP/1.1 101 head, becomes :status 200 with the negotiated subprotocol and extensions', async () => {
    const h = await harness();
    const { adapter, answers, client } = await h.open();
    const response = once<http2.IncomingHttpHeaders>(client, 'response');
    adapter.write(ACCEPT_HEAD);
    const headers = await response;
    expect(headers[':status']).toBe(200);
    expect(headers['sec-websocket-protocol']).toBe('chat');
    expect(headers['sec-websocket-extensions']).toBe('permessage-deflate');
    // Nothing HTTP/2 forbids or that only HTTP/1.1 needs (RFC 9113 §8.2.2).
    expect(headers.upgrade).toBeUndefined();
    expect(headers.connection).toBeUndefined();
    expect(headers['sec-websocket-accept']).toBeUndefined();
    expect(answers).toEqual([{ status: 101 }]);
    expect(adapter.answer).toEqual({ status: 101 });
    // The head is not WebSocket data.
    expect(adapter.bytesWritten).toBe(0);
  });

  it('a 101 with no subprotocol or extensions answers a bare :status 200', async () => {
    const h = await harness();
    const { adapter, client } = await h.open();
    const response = once<http2.IncomingHttpHeaders>(client, 'response');
    adapter.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n');
    const headers = await response;
    expect(headers[':status']).toBe(200);
    expect(headers['sec-websocket-protocol']).toBeUndefined();
    expect(headers['sec-websocket-extensions']).toBeUndefined();
  });

  it('a 401 head with a body becomes :status 401 with that body, ended cleanly without RST_STREAM', async () => {
    const h = await harness();
    const { adapter, answers, client } = await h.open();
    const response = once<http2.IncomingHttpHeaders>(client, 'response');
    const body = collect(client);
    const ended = clientEnded(client);
    adapter.write('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nConnection: close\r\nContent-Length: 13\r\nX-Why: token\r\n\r\nlog in first\n');
    adapter.end();
    const headers = await response;
    expect(headers[':status']).toBe(401);
    expect(headers['www-authenticate']).toBe('Bearer');
    expect(headers['x-why']).toBe('token');
    expect(headers['content-length']).toBe('13');
    expect(headers.connection).toBeUndefined();
    client.end();
    expect(await ended).toEqual({ endStream: true, rstCode: 0 });
    expect(body.bytes().toString()).toBe('log in first\n');
    expect(answers).toEqual([{ status: 401 }]);
  });

  it('a rejection stays clean when the adapter is destroyed afterwards (ws destroys the socket after its answer)', async () => {
    const h = await harness();
    const { adapter, client } = await h.open();
    const body = collect(client);
    const ended = clientEnded(client);
    adapter.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 4\r\n\r\nnope');
    adapter.destroy();
    client.end();
    const result = await ended;
    expect(result.rstCode).toBe(0);
    expect(result.endStream).toBe(true);
    expect(body.bytes().toString()).toBe('nope');
  });

  it('a first write that is not an HTTP/1.1 response head resets the stream with INTERNAL_ERROR', async () => {
    const h = await harness();
    const { adapter, answers, client } = await h.open();
    const ended = clientEnded(client);
    adapter.write('garbage\r\n\r\n');
    expect((await ended).rstCode).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR);
    expect(answers).toEqual([{ status: 500 }]);
  });

  it('writes after the head arrive as DATA, byte for byte, and bytesWritten counts them', async () => {
    const h = await harness();
    const { adapter, client } = await h.open();
    const got = collect(client);
    adapter.write(ACCEPT_HEAD);
    adapter.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    adapter.write(Buffer.from('more bytes'));
    await eventually(() => got.bytes().length === 14, 5000, '14 bytes at the client');
    expect(got.bytes()).toEqual(Buffer.concat([Buffer.from([0x81, 0x02, 0x68, 0x69]), Buffer.from('more bytes')]));
    expect(adapter.bytesWritten).toBe(14);
  });

  it('DATA from the client is readable from the adapter, and bytesRead counts it', async () => {
    const h = await harness();
    const { adapter, client } = await h.open();
    adapter.write(ACCEPT_HEAD);
    await once(client, 'response');
    const got = collect(adapter);
    client.write(Buffer.from('hello '));
    client.write(Buffer.from('adapter'));
    await eventually(() => got.bytes().length === 13, 5000, '13 bytes at the adapter');
    expect(got.bytes().toString()).toBe('hello adapter');
    expect(adapter.bytesRead).toBe(13);
  });

  it('client END_STREAM ends the readable side only: the adapter can still write (half-close, RFC 9113 §8.5)', async () => {
    const h = await harness();
    const { adapter, client } = await h.open();
    adapter.write(ACCEPT_HEAD);
    await once(client, 'response');
    const got = collect(client);
    const ended = clientEnded(client);
    const adapterEnded = once(adapter, 'end');
    adapter.resume();
    client.end();
    await adapterEnded;
    expect(adapter.destroyed).toBe(false);
    adapter.write('late reply');
    adapter.end();
    expect(await ended).toEqual({ endStream: true, rstCode: 0 });
    expect(got.bytes().toString()).toBe('late reply');
  });

  it('end() sends END_STREAM; once the client ends too the stream closes with no reset', async () => {
    const h = await harness();
    const { adapter, client } = await h.open();
    adapter.write(ACCEPT_HEAD);
    await once(client, 'response');
    adapter.resume();
    const clientSawEnd = once(client, 'end');
    const ended = clientEnded(client);
    const adapterClosed = once(adapter, 'close');
    client.resume();
    adapter.end();
    await clientSawEnd;
    client.end();
    expect(await ended).toEqual({ endStream: true, rstCode: 0 });
    await adapterClosed;
  });

  it('destroy() mid-stream resets the stream with CANCEL (8)', async () => {
    const h = await harness();
    const { adapter, client } = await h.open();
    adapter.write(ACCEPT_HEAD);
    await once(client, 'response');
    client.resume();
    const ended = clientEnded(client);
    adapter.destroy();
    expect(await ended).toEqual({ endStream: false, rstCode: NGHTTP2_CANCEL });
  });

  it('a client RST_STREAM closes the adapter', async () => {
    const h = await harness();
    const { adapter, client, server } = await h.open();
    adapter.write(ACCEPT_HEAD);
    await once(client, 'response');
    const closed = once(adapter, 'close');
    client.close(NGHTTP2_CANCEL);
    await closed;
    expect(adapter.destroyed).toBe(true);
    expect(server.closeInfo?.code).toBe(NGHTTP2_CANCEL);
  });

  it('backpressure: when nobody reads, push() returns false and the h2 stream is paused; reading resumes it', async () => {
    const h = await harness();
    const { adapter, client, server } = await h.open();
    adapter.write(ACCEPT_HEAD);
    await once(client, 'response');
    const total = 512 * 1024;
    const payload = Buffer.alloc(total, 0x61);
    client.write(payload);
    // Start the flow, but do not consume: the adapter's buffer fills to its high-water mark.
    adapter.read(0);
    await eventually(() => server.paused && adapter.readableLength >= adapter.readableHighWaterMark, 5000, 'the h2 stream to pause');
    // A paused h2 stream sends no WINDOW_UPDATE, so the client cannot send everything.
    await new Promise((r) => setTimeout(r, 100));
    expect(adapter.bytesRead).toBeLessThan(total);
    expect(server.paused).toBe(true);
    const got = collect(adapter);
    await eventually(() => got.bytes().length === total, 10_000, 'all bytes at the adapter');
    expect(got.bytes().equals(payload)).toBe(true);
    expect(adapter.bytesRead).toBe(total);
  });
});
