/**
 * Bodies stream through h2ws's reverse proxy with backpressure, under Node, Deno and Bun: a
 * 100 MB download and a 100 MB upload, from HTTP/2 and HTTP/1.1 clients, arrive byte for
 * byte. While the receiving side stops reading for a second, the sending side is held back
 * (the gap between bytes sent and bytes received stays small): nothing is buffered whole.
 * Each transfer runs twice and the second is held to a memory bound: a runtime's first
 * 100 MB grows its heap and allocator pools once (Deno's by up to ~100 MiB on the HTTP/2
 * download, bounded: later transfers add nothing), which says nothing about buffering.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { eventually } from '../helpers/h2-client.ts';
import { type HttpUpstream, PATTERN_BLOCK, startHttpUpstream } from '../helpers/http-upstream.ts';

const MiB = 1024 * 1024;
const SIZE = 100 * MiB;
/** Where a transfer pauses for a second. */
const PAUSE_AT = 4 * MiB;
const PAUSE_MS = 1000;
/**
 * Bytes allowed in flight between the two ends during a pause: h2ws's windows and queues, and
 * the kernel's socket buffers on two loopback hops, which Linux autotunes up to tcp_rmem's
 * maximum (32 MiB here) per receiving socket. Buffering the body whole would put ~96 MB there.
 */
const MAX_IN_FLIGHT = 64 * MiB;
/** The gateway's RSS may grow by this much above its level at rest, for a warmed-up 100 MB body. */
const MAX_RSS_GROWTH = 64 * MiB;

const EXPECTED_SHA256 = (() => {
  const hash = createHash('sha256');
  for (let sent = 0; sent < SIZE; sent += PATTERN_BLOCK.length) hash.update(PATTERN_BLOCK);
  return hash.digest('hex');
})();

/** The gateway process's resident set, sampled every 20 ms from /proc while `run` runs. */
async function withRss<T>(pid: number, run: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const read = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  const baseline = read();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, read())), 20);
  try {
    const result = await run();
    peak = Math.max(peak, read());
    return { result, growth: peak - baseline };
  } finally {
    clearInterval(timer);
  }
}

let upstream: HttpUpstream;
beforeAll(async () => {
  upstream = await startHttpUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

describe.each(RUNTIMES)('100 MB bodies through h2ws under %s', (runtime) => {
  let gw: GatewayProcess;
  let session: http2.ClientHttp2Session;
  const memory: string[] = [];
  beforeAll(async () => {
    gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--http-backend', upstream.url], { timeouts: { upstreamResponseMs: 10_000, drainMs: 1000 }, log: { level: 'warn' } });
    session = http2.connect(gw.url, { settings: { initialWindowSize: 4 * MiB } });
    session.on('error', () => {});
    await new Promise((resolve) => session.once('remoteSettings', resolve));
  });
  afterAll(async () => {
    session?.close();
    expect(await gw?.stop()).toBe(0);
    // For the record (README numbers): RSS growth per transfer.
    process.stdout.write(`h2ws ${runtime} RSS growth: ${memory.join(', ')}\n`);
  });

  /** Runs a transfer twice (warm-up, then measured), checking each, and bounds the second's RSS growth. */
  const twice = async (what: string, transfer: () => Promise<number>) => {
    const growth: string[] = [];
    let measured = 0;
    for (const round of ['warm-up', 'measured']) {
      const { result: inFlight, growth: bytes } = await withRss(gw.proc.pid!, transfer);
      expect(inFlight, `${round} ${what}: bytes in flight at the end of a 1 s pause`).toBeLessThan(MAX_IN_FLIGHT);
      growth.push(`+${(bytes / MiB).toFixed(1)} (in flight ${(inFlight / MiB).toFixed(1)})`);
      measured = bytes;
    }
    memory.push(`${what} ${growth.join(' then ')} MiB`);
    expect(measured, `${runtime} gateway RSS growth during a warmed-up ${what}`).toBeLessThan(MAX_RSS_GROWTH);
  };

  /** A 100 MB download that pauses for a second; resolves with the bytes in flight at the end of the pause. */
  const download = async (transport: 'h2' | 'h1'): Promise<number> => {
    const sentBefore = upstream.moved.sent;
    const path = `/download?bytes=${SIZE}&via=${transport}`;
    const body = transport === 'h2'
      ? session.request({ ':path': path })
      : await new Promise<http.IncomingMessage>((resolve, reject) => http.get(new URL(path, gw.url), { agent: false }, resolve).on('error', reject));
    const hash = createHash('sha256');
    let received = 0;
    let inFlightAtPause = -1;
    await new Promise<void>((resolve, reject) => {
      body.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        const before = received;
        received += chunk.length;
        if (before < PAUSE_AT && received >= PAUSE_AT) {
          body.pause();
          setTimeout(() => {
            inFlightAtPause = upstream.moved.sent - sentBefore - received;
            body.resume();
          }, PAUSE_MS);
        }
      });
      body.on('end', resolve);
      body.on('error', reject);
    });
    expect(received).toBe(SIZE);
    expect(hash.digest('hex')).toBe(EXPECTED_SHA256);
    expect(inFlightAtPause).toBeGreaterThanOrEqual(0);
    return inFlightAtPause;
  };

  /** A 100 MB upload that the upstream stops reading for a second; resolves with the bytes in flight then. */
  const upload = async (transport: 'h2' | 'h1'): Promise<number> => {
    const receivedBefore = upstream.moved.received;
    let written = 0;
    let inFlightAtPause = -1;
    void upstream.hold(PAUSE_AT, PAUSE_MS).then(() =>
      setTimeout(() => (inFlightAtPause = written - (upstream.moved.received - receivedBefore)), PAUSE_MS - 100),
    );
    const path = `/upload?via=${transport}`;
    const out = transport === 'h2'
      ? session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/octet-stream' }, { endStream: false })
      : http.request(new URL(path, gw.url), { method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream' } });
    const answer = new Promise<string>((resolve, reject) => {
      const read = (res: NodeJS.ReadableStream) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve(text));
      };
      if (out instanceof http.ClientRequest) out.on('response', read);
      else read(out);
      out.on('error', reject);
    });
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (written < SIZE) {
          written += PATTERN_BLOCK.length;
          if (!out.write(PATTERN_BLOCK)) return void out.once('drain', pump);
        }
        out.end();
        resolve();
      };
      pump();
    });
    expect(JSON.parse(await answer)).toEqual({ bytes: SIZE, sha256: EXPECTED_SHA256 });
    await eventually(() => inFlightAtPause >= 0, 5000, 'the pause reading');
    return inFlightAtPause;
  };

  it.each(['h2', 'h1'] as const)('100 MB downloads over %s: byte for byte, the upstream held back while the client pauses', async (transport) => {
    await twice(`${transport} download`, () => download(transport));
  });

  it.each(['h2', 'h1'] as const)('100 MB uploads over %s: byte for byte, the client held back while the upstream pauses', async (transport) => {
    await twice(`${transport} upload`, () => upload(transport));
  });
});
