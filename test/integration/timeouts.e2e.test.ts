/** timeouts.idleMs: a tunnel with no bytes either way is closed with 1001; a busy one is not. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawBackend, startRawBackend } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, eventually, FrameSink, openTunnel } from '../helpers/h2-client.ts';

let raw: RawBackend;
beforeAll(async () => {
  raw = await startRawBackend((c) => c.accept());
});
afterAll(async () => {
  await raw?.close();
});

describe.each(RUNTIMES)('idle timeout under %s', (runtime) => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', raw.url], { timeouts: { idleMs: 300, drainMs: 1000 } });
  });
  afterAll(async () => {
    expect(await gw?.stop()).toBe(0);
  });

  it('a silent tunnel is closed with 1001 "idle timeout" both ways; a busy one stays open', async () => {
    const client = await connectH2(gw.url);
    const quietConn = raw.next();
    const quiet = await openTunnel(client, '/quiet');
    const quietBackend = await quietConn;
    const busyConn = raw.next();
    const busy = await openTunnel(client, '/busy');
    const busyBackend = await busyConn;
    const quietSink = new FrameSink(false);
    quiet.stream.on('data', (d: Buffer) => quietSink.write(d));
    let busyClosed = false;
    busy.stream.on('close', () => (busyClosed = true));
    const started = Date.now();
    const ticker = setInterval(() => busy.stream.write(clientFrame('tick')), 100);
    try {
      await quietSink.until(() => quietSink.close !== undefined, 3000);
      expect(quietSink.close).toEqual({ code: 1001, reason: 'idle timeout' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(await quietBackend.ended).toBe('fin');
      const toBackend = new FrameSink(true);
      toBackend.write(quietBackend.received());
      expect(toBackend.close).toEqual({ code: 1001, reason: 'idle timeout' });
      // The busy tunnel, with a frame every 100 ms, outlives several idle periods.
      await new Promise((r) => setTimeout(r, 1200));
      expect(busyClosed).toBe(false);
      await eventually(() => busyBackend.received().length >= clientFrame('tick').length * 5, 2000, 'ticks at backend');
    } finally {
      clearInterval(ticker);
      busy.stream.close();
      await client.close();
    }
  });
});
