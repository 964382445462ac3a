/**
 * A client that runs hundreds of streams over one connection and then closes it with GOAWAY
 * must not take the gateway down, and the gateway sends no GOAWAY of its own meanwhile.
 * Regression for Deno 2.9, whose node:http2 aborted the process (nghttp2 assertion in
 * find_stream_on_goaway_func) when a client GOAWAY arrived on a session that carried about
 * 175 streams, before h2ws had its own HTTP/2 engine.
 */
import http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { RUNTIMES, startGateway } from '../helpers/gateway-process.ts';

describe.each(RUNTIMES)('long-lived sessions under %s', (runtime) => {
  it('400 streams, then a client GOAWAY: the gateway survives and keeps serving', async () => {
    const gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', 'ws://127.0.0.1:1']);
    try {
      const goaways: Array<[number, number]> = [];
      const connect = () => {
        const s = http2.connect(gw.url);
        s.on('error', () => {});
        s.on('goaway', (code: number, last: number) => goaways.push([code, last]));
        return s;
      };
      let session = connect();
      let sessions = 1;
      for (let i = 0; i < 400; i++) {
        if (session.closed || session.destroyed || goaways.length >= sessions) {
          session = connect();
          sessions++;
        }
        const req = session.request({ ':path': '/' });
        req.on('error', () => {});
        req.resume();
        const status = await new Promise<number>((resolve) => {
          req.once('response', (h) => resolve(Number(h[':status'])));
          req.once('close', () => resolve(0));
        });
        expect(status, `request ${i}`).toBe(404);
        await new Promise((r) => (req.closed ? r(null) : req.once('close', r)));
      }
      await new Promise<void>((resolve) => session.close(() => resolve()));
      await new Promise((r) => setTimeout(r, 500));
      expect(gw.proc.exitCode, `gateway died:\n${gw.stderr()}`).toBeNull();
      expect(goaways).toEqual([]);
      // Still serving.
      const fresh = connect();
      const req = fresh.request({ ':path': '/' });
      req.resume();
      expect(Number((await new Promise<http2.IncomingHttpHeaders>((r) => req.once('response', r)))[':status'])).toBe(404);
      fresh.close();
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });
});
