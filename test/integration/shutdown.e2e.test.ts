/**
 * Graceful shutdown (design table, "SIGTERM / close()"): GOAWAY(NO_ERROR, last stream id),
 * no new tunnels, open tunnels drain until the deadline, then Close 1001 both ways, exit 0.
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type EchoBackend, type RawBackend, startEchoBackend, startRawBackend } from '../helpers/backends.ts';
import { connectOutcome } from '../helpers/gateway-admin.ts';
import { RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, eventually, FrameSink, once, openTunnel } from '../helpers/h2-client.ts';

let echo: EchoBackend;
let raw: RawBackend;

beforeAll(async () => {
  echo = await startEchoBackend();
  raw = await startRawBackend((c) => c.accept());
});

afterAll(async () => {
  await Promise.all([echo?.close(), raw?.close()]);
});

describe.each(RUNTIMES)('graceful shutdown under %s', (runtime) => {
  it('SIGTERM: GOAWAY(NO_ERROR, last stream id), no new tunnels, open tunnels keep relaying, exit 0 once they end', async () => {
    const gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', echo.url], { timeouts: { drainMs: 15_000 } });
    try {
      const client = await connectH2(gw.url);
      const a = await openTunnel(client, '/a');
      const b = await openTunnel(client, '/b');
      expect([a.status, b.status]).toEqual([200, 200]);
      expect([a.stream.id, b.stream.id]).toEqual([1, 3]);
      // RFC 9113 §6.8's graceful shutdown: GOAWAY(2^31-1) and a PING, then, once the PING
      // returns, GOAWAY with the last stream id processed.
      const goaways: Array<[number, number]> = [];
      client.session.on('goaway', (code: number, lastStreamId: number) => goaways.push([code, lastStreamId]));
      const started = Date.now();
      gw.proc.kill('SIGTERM');
      await eventually(() => goaways.length >= 2, 5000, 'two GOAWAYs');
      expect(goaways).toEqual([
        [http2.constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1],
        [http2.constants.NGHTTP2_NO_ERROR, 3],
      ]);
      // No new tunnels: the listener is closed.
      await eventually(() => /draining/.test(gw.stderr()), 5000, 'drain log line');
      expect(await connectOutcome(gw.port)).toBe('ECONNREFUSED');
      // The open tunnels still relay.
      const sink = new FrameSink(false);
      a.stream.on('data', (d: Buffer) => sink.write(d));
      a.stream.write(clientFrame('after goaway'));
      await sink.until(() => sink.messages.includes('after goaway'));
      // Ending both tunnels lets the process exit well before the drain deadline.
      a.stream.end();
      b.stream.end();
      expect(await gw.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
      await client.close();
    } finally {
      await gw.stop();
    }
  });

  it('drain deadline: Close 1001 "going away" to both sides where frame boundaries are known, FIN/END_STREAM, exit 0', async () => {
    const gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/raw=${raw.url}`, '--route', `/echo=${echo.url}`], {
      timeouts: { drainMs: 500 },
    });
    try {
      const client = await connectH2(gw.url);
      const next = raw.next();
      const tunnel = await openTunnel(client, '/raw');
      const backend = await next;
      expect(tunnel.status).toBe(200);
      tunnel.stream.write(clientFrame('one whole frame'));
      await eventually(() => backend.received().length === clientFrame('one whole frame').length, 5000, 'frame at backend');
      const toClient = new FrameSink(false);
      let clientEnded = false;
      tunnel.stream.on('data', (d: Buffer) => toClient.write(d));
      tunnel.stream.on('end', () => (clientEnded = true));
      // An HTTP/1.1 client through the same gateway.
      const ws = new WebSocket(gw.url.replace('http', 'ws') + 'echo');
      await once(ws, 'open');
      const wsClosed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));

      gw.proc.kill('SIGTERM');
      await toClient.until(() => toClient.close !== undefined, 5000);
      expect(toClient.close).toEqual({ code: 1001, reason: 'going away' });
      await eventually(() => clientEnded, 5000, 'END_STREAM at the client');
      // The backend gets a masked Close 1001 and a FIN.
      expect(await backend.ended).toBe('fin');
      const toBackend = new FrameSink(true);
      toBackend.write(backend.received());
      expect(toBackend.messages).toEqual(['one whole frame']);
      expect(toBackend.close).toEqual({ code: 1001, reason: 'going away' });
      expect(await wsClosed).toEqual([1001, 'going away']);
      expect(await gw.exited).toBe(0);
      await client.close();
    } finally {
      await gw.stop();
    }
  });
});
