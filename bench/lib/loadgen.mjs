// The load generator: RFC 8441 extended CONNECT over h2c with node:http2 for the gateways,
// and a `ws` client speaking HTTP/1.1 WebSocket straight to the backend for the baseline.
// Closed loop: each tunnel keeps `inflight` messages outstanding. Every echo is checked byte
// for byte (length, tunnel id, sequence number and filler); a lost, reordered or corrupt
// message fails the scenario.
import http2 from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { ServerFrameParser, clientCloseFrame, clientHeaderLength, makeTemplate, writeClientHeader } from './frames.mjs';

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Same client settings for every h2 target: large receive windows, so the client never throttles. */
const CLIENT_STREAM_WINDOW = 1 << 20;
const CLIENT_SESSION_WINDOW = 32 << 20;

export class BenchError extends Error {}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new BenchError(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs fn over items with at most `limit` at once. */
async function pool(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

// ---------------------------------------------------------------------------------------
// Connections and tunnels

/** An h2c (prior knowledge) session; waits for the server's SETTINGS and checks RFC 8441 §3. */
export async function connectH2(port, timeoutMs = 10_000) {
  const session = http2.connect(`http://127.0.0.1:${port}`, {
    createConnection: () => net.connect({ host: '127.0.0.1', port, noDelay: true }),
    settings: { enablePush: false, initialWindowSize: CLIENT_STREAM_WINDOW },
    maxSessionMemory: 256,
    peerMaxConcurrentStreams: 1000,
  });
  session.on('error', () => {});
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
        session.once('close', () => reject(new BenchError('connection closed before SETTINGS')));
      }),
      timeoutMs,
      `h2c SETTINGS from 127.0.0.1:${port}`,
    );
  } catch (err) {
    session.destroy();
    throw err;
  }
  if (!session.remoteSettings.enableConnectProtocol) {
    session.destroy();
    throw new BenchError(`127.0.0.1:${port} did not send SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (RFC 8441 §3)`);
  }
  session.setLocalWindowSize(CLIENT_SESSION_WINDOW);
  return session;
}

/** Closes a session gracefully, destroying it if it lingers. */
function closeSession(session, ms = 2000) {
  return new Promise((resolve) => {
    if (session.closed || session.destroyed) return resolve();
    const timer = setTimeout(() => {
      session.destroy();
      resolve();
    }, ms);
    session.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * One h2 connection that is replaced once the server sends GOAWAY, as a real client does
 * (RFC 9113 §6.8). h2ws under Deno sends GOAWAY(NO_ERROR) after 128 streams on a session.
 */
export class RenewingSession {
  #port;
  #current;
  #pending;
  #all = [];

  constructor(port) {
    this.#port = port;
  }

  #usable(s) {
    return s !== undefined && !s.closed && !s.destroyed && !s.goneAway;
  }

  async get() {
    if (this.#usable(this.#current)) return this.#current;
    this.#pending ??= connectH2(this.#port).then((s) => {
      s.on('goaway', () => (s.goneAway = true));
      this.#all.push(s);
      this.#current = s;
      this.#pending = undefined;
      return s;
    });
    return this.#pending;
  }

  /** Opens a tunnel, retrying on a fresh connection what RFC 9113 §8.7 says is safe to retry. */
  async openTunnel() {
    for (let attempt = 0; ; attempt++) {
      const session = await this.get();
      try {
        return await openH2Tunnel(session, this.#port);
      } catch (err) {
        const retryable = session.goneAway || err?.code === 'ERR_HTTP2_GOAWAY_SESSION' || /RST_STREAM code 7\)/.test(String(err?.message));
        if (!retryable || attempt >= 3) throw err;
        session.goneAway = true;
      }
    }
  }

  async close() {
    await Promise.all(this.#all.map((s) => closeSession(s)));
  }
}

/** Sends an extended CONNECT (RFC 8441 §4) and resolves with the stream once :status is 200. */
export function openH2Tunnel(session, port, timeoutMs = 10_000) {
  const stream = session.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':path': '/echo',
      ':authority': `127.0.0.1:${port}`,
      'sec-websocket-version': '13',
    },
    { endStream: false },
  );
  stream.on('error', () => {});
  return withTimeout(
    new Promise((resolve, reject) => {
      const onClose = () => reject(new BenchError(`tunnel reset before a response (RST_STREAM code ${stream.rstCode})`));
      stream.once('close', onClose);
      stream.once('response', (headers) => {
        stream.off('close', onClose);
        const status = Number(headers[':status']);
        if (status !== 200) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(new BenchError(`extended CONNECT answered ${status}, not 200`));
        } else resolve(stream);
      });
    }),
    timeoutMs,
    'extended CONNECT response',
  ).catch((err) => {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    throw err;
  });
}

/** An HTTP/1.1 WebSocket straight to the backend. */
export function openWs(port, timeoutMs = 10_000) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: false, skipUTF8Validation: true });
  ws.binaryType = 'nodebuffer';
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.on('error', () => {});
        resolve(ws);
      });
      ws.once('error', reject);
    }),
    timeoutMs,
    'WebSocket handshake',
  ).catch((err) => {
    ws.terminate();
    throw err;
  });
}

// ---------------------------------------------------------------------------------------
// Echo checking

/** A growable array of latencies in ms. */
class Samples {
  a = new Float64Array(1 << 16);
  n = 0;
  push(v) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  /** p50 and p99 in µs (nearest rank). */
  percentiles() {
    if (this.n === 0) return { p50: NaN, p99: NaN };
    const s = this.a.slice(0, this.n).sort();
    const at = (q) => s[Math.min(this.n - 1, Math.max(0, Math.ceil(q * this.n) - 1))] * 1000;
    return { p50: at(0.5), p99: at(0.99) };
  }
}

/** Shared state of one scenario run. */
class Run {
  sending = true;
  measuring = false;
  closing = false;
  count = 0;
  samples = new Samples();
  error = undefined;

  fail(err) {
    this.error ??= err instanceof Error ? err : new BenchError(String(err));
    this.sending = false;
  }

  record(ms) {
    if (!this.measuring) return;
    this.count++;
    this.samples.push(ms);
  }
}

/**
 * Checks that `payload` is message number `seq` of tunnel `id`: the id and sequence number in
 * bytes 0..7, the filler after them, and the length. Returns an error message or undefined.
 */
function checkPayload(payload, template, id, seq) {
  if (payload.length !== template.length) return `length ${payload.length}, expected ${template.length}`;
  const gotId = payload.readUInt32LE(0);
  const gotSeq = payload.readUInt32LE(4);
  if (gotId !== id || gotSeq !== seq >>> 0) return `message tunnel ${gotId} #${gotSeq}, expected tunnel ${id} #${seq} (lost or reordered)`;
  if (!payload.subarray(8).equals(template.subarray(8))) return 'payload bytes differ from what was sent (corrupt)';
  return undefined;
}

/** One tunnel in a closed loop, over an h2 stream or a ws client. */
class Echoer {
  sent = 0;
  got = 0;

  constructor(run, id, size, inflight) {
    this.run = run;
    this.id = id;
    this.size = size;
    this.inflight = inflight;
    this.times = new Float64Array(inflight);
    this.template = makeTemplate(size);
    this.hdr = clientHeaderLength(size);
    this.frame = Buffer.allocUnsafe(this.hdr + size);
    writeClientHeader(this.frame, size);
    this.template.copy(this.frame, this.hdr);
  }

  attachH2(stream) {
    this.stream = stream;
    const parser = new ServerFrameParser(
      (b0, payload) => {
        if (this.run.closing) return; // Close frames and late echoes during teardown
        if (b0 !== 0x82) return this.run.fail(new BenchError(`tunnel ${this.id}: unexpected frame 0x${b0.toString(16)} (expected a final binary frame)`));
        this.onPayload(payload);
      },
      (err) => this.run.fail(err),
    );
    stream.on('data', (chunk) => parser.push(chunk));
    stream.once('close', () => {
      this.closed = true;
      if (!this.run.closing) this.run.fail(new BenchError(`tunnel ${this.id} closed mid-run (RST_STREAM code ${stream.rstCode})`));
    });
    this.send = this.#sendH2;
  }

  attachWs(ws) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return this.run.fail(new BenchError(`tunnel ${this.id}: text message echoed for a binary one`));
      this.onPayload(data);
    });
    ws.once('close', () => {
      this.closed = true;
      if (!this.run.closing) this.run.fail(new BenchError(`WebSocket ${this.id} closed mid-run`));
    });
    this.send = this.#sendWs;
  }

  #sendH2() {
    const buf = Buffer.allocUnsafe(this.frame.length);
    this.frame.copy(buf);
    buf.writeUInt32LE(this.id, this.hdr);
    buf.writeUInt32LE(this.sent >>> 0, this.hdr + 4);
    this.times[this.sent % this.inflight] = now();
    this.sent++;
    this.stream.write(buf);
  }

  #sendWs() {
    const buf = Buffer.allocUnsafe(this.size);
    this.template.copy(buf);
    buf.writeUInt32LE(this.id, 0);
    buf.writeUInt32LE(this.sent >>> 0, 4);
    this.times[this.sent % this.inflight] = now();
    this.sent++;
    this.ws.send(buf, { binary: true });
  }

  onPayload(payload) {
    const run = this.run;
    if (this.got >= this.sent) return run.fail(new BenchError(`tunnel ${this.id}: an echo arrived with no message in flight`));
    const bad = checkPayload(payload, this.template, this.id, this.got);
    if (bad !== undefined) return run.fail(new BenchError(`tunnel ${this.id}: ${bad}`));
    const seq = this.got++;
    run.record(now() - this.times[seq % this.inflight]);
    if (run.sending) this.send();
  }

  /** Sends a Close frame and half-closes; resolves once the tunnel is closed (or after `ms`, reset). */
  finish(ms) {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.stream) this.stream.close(http2.constants.NGHTTP2_CANCEL);
        else this.ws.terminate();
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.stream) {
        // A Close frame, then END_STREAM: the way a client ends a WebSocket (some peers do
        // not pass a bare END_STREAM on to the backend as a half-close).
        this.stream.once('close', done);
        this.stream.end(clientCloseFrame(1000));
      } else {
        this.ws.once('close', done);
        this.ws.close(1000);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------
// Scenarios

/**
 * Messages/s and round-trip latency: `conns` connections × `streams` tunnels each, `size`-byte
 * binary messages, `inflight` outstanding per tunnel. For kind 'ws' every tunnel is its own
 * TCP connection (HTTP/1.1 has no multiplexing).
 */
export async function runEcho({ kind, port, conns, streams, size, inflight, warmupMs, durationMs, probe }) {
  const run = new Run();
  const sessions = [];
  const echoers = [];
  try {
    let id = 0;
    if (kind === 'h2') {
      for (let c = 0; c < conns; c++) sessions.push(await connectH2(port));
      await Promise.all(
        sessions.map((session) =>
          pool(Array.from({ length: streams }), 64, async () => {
            const e = new Echoer(run, id++, size, inflight);
            echoers.push(e);
            e.attachH2(await openH2Tunnel(session, port));
          }),
        ),
      );
    } else {
      await pool(Array.from({ length: conns * streams }), 64, async () => {
        const e = new Echoer(run, id++, size, inflight);
        echoers.push(e);
        e.attachWs(await openWs(port));
      });
    }
    for (const e of echoers) for (let k = 0; k < inflight; k++) e.send();
    const { t0, t1, cpu } = await measureWindow(run, warmupMs, durationMs, probe);
    await drain(run, echoers);
    if (run.error) throw run.error;
    const { p50, p99 } = run.samples.percentiles();
    return { rate: run.count / ((t1 - t0) / 1000), p50, p99, samples: run.count, cpu };
  } finally {
    run.closing = true;
    await Promise.all(echoers.map((e) => (e.stream || e.ws ? e.finish(2000) : undefined)));
    await Promise.all(sessions.map((s) => closeSession(s)));
  }
}

/** Warm up, then measure for `durationMs` (CPU probe included), then stop sending. */
async function measureWindow(run, warmupMs, durationMs, probe) {
  await sleep(warmupMs);
  probe?.begin();
  run.measuring = true;
  const t0 = now();
  await sleepUnlessFailed(run, durationMs);
  run.measuring = false;
  const t1 = now();
  const cpu = probe?.end();
  run.sending = false;
  return { t0, t1, cpu };
}

async function sleepUnlessFailed(run, ms) {
  const end = now() + ms;
  while (!run.error) {
    const left = end - now();
    if (left <= 0) return;
    await sleep(Math.min(left, 100));
  }
}

/** Waits until every message sent has been echoed; a message still missing after 10 s is lost. */
async function drain(run, echoers, ms = 10_000) {
  const deadline = now() + ms;
  for (;;) {
    if (run.error) return;
    const missing = echoers.reduce((n, e) => n + (e.sent - e.got), 0);
    if (missing === 0) return;
    if (now() > deadline) return run.fail(new BenchError(`${missing} message(s) never echoed within ${ms / 1000} s (lost)`));
    await sleep(5);
  }
}

/**
 * One whole tunnel lifetime: open, echo each of `sizes`, then a Close frame and END_STREAM
 * (or ws.close()), resolved once both directions have ended.
 */
async function tunnelCycle(kind, port, session, id, sizes) {
  if (kind === 'h2') {
    const stream = await session.openTunnel();
    try {
      let expect; // { template, resolve, reject }
      let closeSeen = false;
      const parser = new ServerFrameParser(
        (b0, payload) => {
          if (b0 === 0x88) {
            closeSeen = true;
            return;
          }
          if (b0 !== 0x82 || !expect) return expect?.reject(new BenchError(`tunnel ${id}: unexpected frame 0x${b0.toString(16)}`));
          const bad = checkPayload(payload, expect.template, id, expect.seq);
          if (bad) expect.reject(new BenchError(`tunnel ${id}: ${bad}`));
          else expect.resolve();
        },
        (err) => expect?.reject(err),
      );
      stream.on('data', (chunk) => parser.push(chunk));
      const closed = new Promise((resolve) => stream.once('close', resolve));
      for (let seq = 0; seq < sizes.length; seq++) {
        const size = sizes[seq];
        const template = makeTemplate(size);
        const hdr = clientHeaderLength(size);
        const frame = Buffer.allocUnsafe(hdr + size);
        writeClientHeader(frame, size);
        template.copy(frame, hdr);
        frame.writeUInt32LE(id, hdr);
        frame.writeUInt32LE(seq, hdr + 4);
        const echoed = new Promise((resolve, reject) => (expect = { template, seq, resolve, reject }));
        const onClose = () => expect.reject(new BenchError(`tunnel ${id} closed before its echo (RST_STREAM code ${stream.rstCode})`));
        stream.once('close', onClose);
        stream.write(frame);
        await withTimeout(echoed, 10_000, `echo of a ${size}-byte message`);
        stream.off('close', onClose);
      }
      expect = undefined;
      stream.write(clientCloseFrame(1000));
      stream.end();
      await withTimeout(closed, 10_000, 'tunnel close after a Close frame and END_STREAM');
      if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) throw new BenchError(`tunnel ${id} ended with RST_STREAM code ${stream.rstCode} instead of END_STREAM`);
      if (!closeSeen) throw new BenchError(`tunnel ${id}: the backend's Close frame never came back`);
    } finally {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  } else {
    const ws = await openWs(port);
    try {
      for (let seq = 0; seq < sizes.length; seq++) {
        const template = makeTemplate(sizes[seq]);
        const payload = Buffer.from(template);
        payload.writeUInt32LE(id, 0);
        payload.writeUInt32LE(seq, 4);
        const echoed = new Promise((resolve, reject) => {
          ws.once('message', (data) => {
            const bad = checkPayload(data, template, id, seq);
            if (bad) reject(new BenchError(`ws ${id}: ${bad}`));
            else resolve();
          });
          ws.once('close', () => reject(new BenchError(`ws ${id} closed before its echo`)));
        });
        ws.send(payload, { binary: true });
        await withTimeout(echoed, 10_000, `echo of a ${sizes[seq]}-byte message`);
      }
      const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
      ws.close(1000);
      const code = await withTimeout(closed, 10_000, 'WebSocket close handshake');
      if (code !== 1000) throw new BenchError(`ws ${id} closed with ${code}, not 1000`);
    } finally {
      ws.terminate();
    }
  }
}

/**
 * New tunnels per second: `concurrency` loops of open + first echo + close, spread over
 * `connections` h2 connections (one by default; more let a multi-process gateway use its cores).
 */
export async function runTunnelRate({ kind, port, concurrency, connections = 1, warmupMs, durationMs, probe }) {
  const run = new Run();
  const sessions = kind === 'h2' ? Array.from({ length: connections }, () => new RenewingSession(port)) : [];
  let id = 0;
  try {
    const loops = Array.from({ length: concurrency }, async (_, loop) => {
      const session = sessions[loop % Math.max(1, sessions.length)];
      while (run.sending) {
        const t0 = now();
        try {
          await tunnelCycle(kind, port, session, id++, [64]);
        } catch (err) {
          run.fail(err);
          return;
        }
        run.record(now() - t0);
      }
    });
    const { t0, t1, cpu } = await measureWindow(run, warmupMs, durationMs, probe);
    await withTimeout(Promise.all(loops), 20_000, 'the last tunnel cycles');
    if (run.error) throw run.error;
    const { p50, p99 } = run.samples.percentiles();
    return { rate: run.count / ((t1 - t0) / 1000), p50, p99, samples: run.count, cpu };
  } finally {
    run.closing = true;
    await Promise.all(sessions.map((session) => session.close()));
  }
}

/** Smoke test: one tunnel echoes 64 B, 1 KiB and 64 KiB messages and closes cleanly. */
export async function smoke(kind, port) {
  const t0 = now();
  const session = kind === 'h2' ? new RenewingSession(port) : undefined;
  try {
    await tunnelCycle(kind, port, session, 1, [64, 1024, 65536]);
  } finally {
    if (session) await session.close();
  }
  return now() - t0;
}

/**
 * Opens `total` tunnels (`perConn` per h2 connection, at most `concurrency` handshakes at a
 * time), each echoing one 64 B message, and leaves them open and idle. Returns a closer.
 */
export async function openIdle({ port, total, perConn, concurrency = 200 }) {
  const sessions = [];
  const streams = [];
  const close = async () => {
    for (const s of sessions) s.destroy();
  };
  try {
    const nConns = Math.ceil(total / perConn);
    await pool(Array.from({ length: nConns }), 16, async () => sessions.push(await connectH2(port)));
    const jobs = [];
    for (let i = 0; i < total; i++) jobs.push(i);
    const template = makeTemplate(64);
    const hdr = clientHeaderLength(64);
    await pool(jobs, concurrency, async (i) => {
      const session = sessions[i % nConns];
      const stream = await openH2Tunnel(session, port);
      streams.push(stream);
      const frame = Buffer.allocUnsafe(hdr + 64);
      writeClientHeader(frame, 64);
      template.copy(frame, hdr);
      frame.writeUInt32LE(i, hdr);
      frame.writeUInt32LE(0, hdr + 4);
      const echoed = new Promise((resolve, reject) => {
        const parser = new ServerFrameParser(
          (b0, payload) => {
            const bad = b0 !== 0x82 ? `unexpected frame 0x${b0.toString(16)}` : checkPayload(payload, template, i, 0);
            if (bad) reject(new BenchError(`idle tunnel ${i}: ${bad}`));
            else resolve();
          },
          reject,
        );
        stream.on('data', (c) => parser.push(c));
        stream.once('close', () => reject(new BenchError(`idle tunnel ${i} closed (RST_STREAM code ${stream.rstCode})`)));
      });
      stream.write(frame);
      await withTimeout(echoed, 15_000, `first echo on idle tunnel ${i}`);
    });
    const closedEarly = streams.filter((s) => s.closed).length;
    if (closedEarly > 0) throw new BenchError(`${closedEarly} idle tunnel(s) closed before the measurement`);
    return { close, tunnels: streams.length, connections: sessions.length };
  } catch (err) {
    await close();
    throw err;
  }
}
