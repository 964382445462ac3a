/**
 * The WebSocket closing handshake over RFC 8441 with a client that never sends END_STREAM,
 * as Firefox does: once a Close frame has gone each way (RFC 6455 §7.1.1) and h2ws has sent
 * END_STREAM, h2ws waits `timeouts.closeGraceMs` (250 ms) for the client's END_STREAM, then
 * ends the stream with RST_STREAM NO_ERROR (RFC 9113 §8.1), logs the tunnel as closed cleanly
 * and counts it. Bridged tunnels (the CLI with a `ws` backend) and in-process ones
 * (test/fixtures/conformance-server.ts), with raw HTTP/2 frames, under Node, Deno and Bun.
 * And a stream limit stays a per-stream matter: past SETTINGS_MAX_CONCURRENT_STREAMS only the
 * new stream gets REFUSED_STREAM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { type GatewayProcess, RUNTIMES, startGateway, startScript } from '../helpers/gateway-process.ts';
import { type LogRecord, tunnelRecords } from '../helpers/logs.ts';
import { metric, scrapeMetrics } from '../helpers/metrics.ts';
import { codeName, connectFields, data, F, fieldBlock, headers, sleep, T, Wire, type WireFrame } from '../helpers/rfc9113-wire.ts';
import { closeFrame, FrameParser, Opcode, parseClose, wsFrame } from '../helpers/ws-frames.ts';

const FIXTURE = 'test/fixtures/conformance-server.ts';
const APIS = ['hono', 'streams', 'ws'] as const;
/** The bound: a tunnel's record arrives within a second of its close. */
const RECORD_WITHIN_MS = 1000;

// ---------------------------------------------------------------------------------------
// A `ws` backend that records how each of its sockets ended: the Close code, a FIN, a reset.

interface BackendConn {
  readonly path: string;
  closeCode?: number;
  /** The gateway half-closed the TCP connection (FIN). */
  fin: boolean;
  /** A socket error such as ECONNRESET (the gateway reset the connection). */
  error?: string;
  closed: boolean;
}

interface Backend {
  readonly url: string;
  readonly conns: BackendConn[];
  close(): Promise<void>;
}

/** Echoes; a text "close CODE REASON" makes it close with that code instead. */
async function startBackend(): Promise<Backend> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const conns: BackendConn[] = [];
  wss.on('connection', (ws, req) => {
    const conn: BackendConn = { path: req.url ?? '', fin: false, closed: false };
    conns.push(conn);
    req.socket.on('end', () => (conn.fin = true));
    req.socket.on('error', (err: NodeJS.ErrnoException) => (conn.error = err.code ?? err.message));
    ws.on('error', () => {});
    ws.on('close', (code) => {
      conn.closeCode = code;
      conn.closed = true;
    });
    ws.on('message', (payload, isBinary) => {
      const command = isBinary ? null : /^close (\d+) (.*)$/.exec(payload.toString());
      if (command !== null) ws.close(Number(command[1]), command[2]);
      else ws.send(payload, { binary: isBinary });
    });
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    conns,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------
// The client side, frame by frame.

/** Opens an extended CONNECT on `id`; resolves with the response status, or the RST_STREAM code's name. */
async function open(wire: Wire, id: number, path: string): Promise<string> {
  const from = wire.frames.length;
  wire.send(headers(id, fieldBlock(connectFields(path))));
  const answer = await wire.waitFor((f) => f.streamId === id && (f.type === T.HEADERS || f.type === T.RST_STREAM), 5000, `an answer on stream ${id}`, from);
  if (answer.type === T.RST_STREAM) return `RST_STREAM ${codeName(answer.payload.readUInt32BE(0))}`;
  await wire.waitFor(() => answer.fields !== undefined, 5000, 'the response head');
  return answer.fields![answer.fields!.indexOf(':status') + 1]!;
}

/** What h2ws sent on one stream, in order: "HEADERS 200", WebSocket frames, "END_STREAM", "RST_STREAM CODE". */
function trace(wire: Wire, id: number): string[] {
  const out: string[] = [];
  const parser = new FrameParser();
  for (const f of wire.frames) {
    if (f.streamId !== id) continue;
    if (f.type === T.HEADERS) out.push(`HEADERS ${f.fields?.[f.fields.indexOf(':status') + 1]}`);
    if (f.type === T.DATA) {
      for (const w of parser.push(f.payload)) out.push(w.opcode === Opcode.CLOSE ? `Close ${parseClose(w.payload).code}` : w.opcode === Opcode.TEXT ? `text ${w.payload}` : `opcode ${w.opcode}`);
    }
    if ((f.type === T.DATA || f.type === T.HEADERS) && (f.flags & F.END_STREAM) !== 0) out.push('END_STREAM');
    if (f.type === T.RST_STREAM) out.push(`RST_STREAM ${codeName(f.payload.readUInt32BE(0))}`);
  }
  return out;
}

const isRst = (id: number) => (f: WireFrame) => f.type === T.RST_STREAM && f.streamId === id;
const isDataOn = (id: number) => (f: WireFrame) => f.streamId === id && f.type === T.DATA && f.payload.length > 0;
const isEndStream = (id: number) => (f: WireFrame) => f.streamId === id && (f.type === T.DATA || f.type === T.HEADERS) && (f.flags & F.END_STREAM) !== 0;
const text = (s: string) => wsFrame({ opcode: Opcode.TEXT, payload: s });

/**
 * The client's Close on `id` without END_STREAM, as Firefox sends it, then h2ws's release of
 * the stream (RST_STREAM). Resolves with when the Close was sent.
 */
async function closeLikeFirefox(wire: Wire, id: number, code: number, reason = ''): Promise<number> {
  const sentAt = Date.now();
  wire.send(data(id, closeFrame(code, reason)));
  await wire.waitFor(isRst(id), 3000, `RST_STREAM on ${id} after the closing handshake`);
  return sentAt;
}

/** The backend connection for `pathEnd` saw the Close with `code`, then a FIN, never a reset. */
async function expectBackendClosedCleanly(backend: Backend, pathEnd: string, code: number): Promise<void> {
  const conn = backend.conns.find((c) => c.path.endsWith(pathEnd))!;
  await expect.poll(() => conn.closed).toBe(true);
  expect([conn.closeCode, conn.fin, conn.error]).toEqual([code, true, undefined]);
}

/** Waits for the tunnel records matching `match` (at least `count`); fails once `ms` have passed since `since`. */
async function recordsWithin(proc: GatewayProcess, match: Record<string, unknown>, count: number, since: number, ms = RECORD_WITHIN_MS): Promise<LogRecord[]> {
  for (;;) {
    const found = tunnelRecords(proc.stderr(), match);
    if (found.length >= count) return found;
    if (Date.now() - since > ms) {
      throw new Error(`${found.length} of ${count} tunnel records matching ${JSON.stringify(match)} within ${ms} ms; last lines:\n${proc.stderr().trim().split('\n').slice(-5).join('\n')}`);
    }
    await sleep(10);
  }
}

describe.each(RUNTIMES)('closing handshake without the client END_STREAM under %s', (runtime) => {
  let backend: Backend;
  let gw: GatewayProcess;
  let fixture: GatewayProcess;

  beforeAll(async () => {
    backend = await startBackend();
    [gw, fixture] = await Promise.all([
      startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/b=${backend.url}`], { timeouts: { drainMs: 2000 } }),
      startScript(runtime, FIXTURE),
    ]);
  });

  afterAll(async () => {
    const codes = await Promise.all([gw?.stop(), fixture?.stop()]);
    await backend?.close();
    expect(codes, `gateway stderr:\n${gw?.stderr().slice(-2000)}\nfixture stderr:\n${fixture?.stderr().slice(-2000)}`).toEqual([0, 0]);
  });

  it('bridged, the client closes: Close and END_STREAM from h2ws, then RST_STREAM NO_ERROR; the backend gets the Close and a FIN; logged clean within 1 s', async () => {
    const wire = await Wire.open(gw.port);
    try {
      expect(await open(wire, 1, '/b/client-closes')).toBe('200');
      wire.send(data(1, text('hello')));
      await wire.waitFor(isDataOn(1), 5000, 'the echo');
      const closedAt = await closeLikeFirefox(wire, 1, 1000, 'bye');
      expect(trace(wire, 1)).toEqual(['HEADERS 200', 'text hello', 'Close 1000', 'END_STREAM', 'RST_STREAM NO_ERROR']);
      const [record] = await recordsWithin(gw, { path: '/b/client-closes' }, 1, closedAt);
      expect(record).toMatchObject({ transport: 'h2', outcome: 'ok', end: 'clean', reset_after_close: true });
      expect(record!.reset_code).toBeUndefined();
      await expectBackendClosedCleanly(backend, '/client-closes', 1000);
      expect(wire.errors()).toEqual(['RST_STREAM(1, NO_ERROR)']);
    } finally {
      wire.destroy();
    }
  });

  it('bridged, the backend closes: the client answers its Close without END_STREAM, then RST_STREAM NO_ERROR', async () => {
    const wire = await Wire.open(gw.port);
    try {
      expect(await open(wire, 1, '/b/backend-closes')).toBe('200');
      wire.send(data(1, text('close 4001 later')));
      // RFC 6455 §7.1.1: the backend ends its TCP connection only after the client's Close.
      await wire.waitFor(isDataOn(1), 5000, "the backend's Close");
      const closedAt = await closeLikeFirefox(wire, 1, 4001, 'later');
      expect(trace(wire, 1)).toEqual(['HEADERS 200', 'Close 4001', 'END_STREAM', 'RST_STREAM NO_ERROR']);
      const [record] = await recordsWithin(gw, { path: '/b/backend-closes' }, 1, closedAt);
      expect(record).toMatchObject({ end: 'clean', reset_after_close: true });
      await expectBackendClosedCleanly(backend, '/backend-closes', 4001);
    } finally {
      wire.destroy();
    }
  });

  it('a client that sends END_STREAM with its Close gets no RST_STREAM, and is not counted as released', async () => {
    const before = metric(await scrapeMetrics(gw.url), 'h2ws_tunnel_resets_after_close_total', { route: '/b' });
    const wire = await Wire.open(gw.port);
    try {
      expect(await open(wire, 1, '/b/well-behaved')).toBe('200');
      wire.send(data(1, closeFrame(1000), true));
      await wire.waitFor(isEndStream(1), 5000, 'END_STREAM');
      const [record] = await recordsWithin(gw, { path: '/b/well-behaved' }, 1, Date.now(), 5000);
      expect(record).toMatchObject({ end: 'clean' });
      expect(record!.reset_after_close).toBeUndefined();
      await wire.roundTrip();
      expect(trace(wire, 1)).toEqual(['HEADERS 200', 'Close 1000', 'END_STREAM']);
      expect(wire.errors()).toEqual([]);
      expect(metric(await scrapeMetrics(gw.url), 'h2ws_tunnel_resets_after_close_total', { route: '/b' })).toBe(before);
    } finally {
      wire.destroy();
    }
  });

  it.each(APIS)('in-process /%s: either side closes, the client never sends END_STREAM: RST_STREAM NO_ERROR, logged clean within 1 s', async (api) => {
    const wire = await Wire.open(fixture.port);
    try {
      // The client closes.
      expect(await open(wire, 1, `/${api}`)).toBe('200');
      wire.send(data(1, text('hello')));
      await wire.waitFor(isDataOn(1), 5000, 'the echo');
      let closedAt = await closeLikeFirefox(wire, 1, 1000, 'bye');
      expect(trace(wire, 1)).toEqual(['HEADERS 200', 'text hello', 'Close 1000', 'END_STREAM', 'RST_STREAM NO_ERROR']);
      await recordsWithin(fixture, { path: `/${api}`, backend: 'in-process', end: 'clean', close_code: 1000, reset_after_close: true }, 1, closedAt);

      // The server closes; the client answers the Close and stops there.
      expect(await open(wire, 3, `/${api}`)).toBe('200');
      wire.send(data(3, text('close 4001 bye')));
      await wire.waitFor(isDataOn(3), 5000, "the server's Close");
      closedAt = await closeLikeFirefox(wire, 3, 4001, 'bye');
      expect(trace(wire, 3)).toEqual(['HEADERS 200', 'Close 4001', 'END_STREAM', 'RST_STREAM NO_ERROR']);
      await recordsWithin(fixture, { path: `/${api}`, end: 'clean', close_code: 4001, reset_after_close: true }, 1, closedAt);
      expect(wire.errors()).toEqual(['RST_STREAM(1, NO_ERROR)', 'RST_STREAM(3, NO_ERROR)']);
      expect(tunnelRecords(fixture.stderr(), { path: `/${api}` }).filter((r) => r.end !== 'clean')).toEqual([]);
    } finally {
      wire.destroy();
    }
  });

  it('300 sockets one after another on one connection, none sending END_STREAM: all open (past the 256-stream limit), no GOAWAY, every record within 1 s, none left open', async () => {
    const N = 300;
    const released = metric(await scrapeMetrics(gw.url), 'h2ws_tunnel_resets_after_close_total', { route: '/b' });
    const wire = await Wire.open(gw.port);
    try {
      const statuses: string[] = [];
      const closedAt: number[] = [];
      for (let i = 0; i < N; i++) {
        const id = 2 * i + 1;
        const from = wire.frames.length;
        const status = await open(wire, id, `/b/seq/${i}`);
        statuses.push(status);
        if (status !== '200') break;
        closedAt.push(Date.now());
        wire.send(data(id, closeFrame(1000)));
        // The next socket opens once this one's close is complete, as on a page.
        await wire.waitFor(isEndStream(id), 5000, `END_STREAM on stream ${id}`, from);
      }
      expect(statuses.filter((s) => s !== '200'), `stream ${statuses.length * 2 - 1}`).toEqual([]);
      expect(statuses).toHaveLength(N);
      // Every stream ended with the release, nothing else: no REFUSED_STREAM, no GOAWAY.
      await expect.poll(() => wire.frames.filter((f) => f.type === T.RST_STREAM).length, { timeout: 5000 }).toBe(N);
      expect(new Set(wire.errors())).toEqual(new Set(Array.from({ length: N }, (_, i) => `RST_STREAM(${2 * i + 1}, NO_ERROR)`)));
      // Each record arrived within a second of its own close.
      const late: string[] = [];
      for (let i = 0; i < N; i++) {
        const record = tunnelRecords(gw.stderr(), { path: `/b/seq/${i}` })[0];
        if (record === undefined || Date.parse(record.time) - closedAt[i]! > RECORD_WITHIN_MS) late.push(`${i}: ${record?.time ?? 'none'}`);
        else expect(record).toMatchObject({ end: 'clean', reset_after_close: true });
      }
      expect(late).toEqual([]);
      const after = await scrapeMetrics(gw.url);
      expect(metric(after, 'h2ws_tunnels_open')).toBe(0);
      expect(metric(after, 'h2ws_tunnel_resets_after_close_total', { route: '/b' }) - released).toBe(N);
      // The connection is as good as new.
      expect(await open(wire, 2 * N + 1, '/b/after')).toBe('200');
    } finally {
      wire.destroy();
    }
  });

  it('past SETTINGS_MAX_CONCURRENT_STREAMS only the new stream is refused (REFUSED_STREAM); live tunnels go on, and a closed socket gives its slot to the next at once', async () => {
    // A grace far longer than the test: a slot can only come back by being yielded.
    const limited = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--route', `/b=${backend.url}`], { limits: { maxStreamsPerConnection: 4 }, timeouts: { drainMs: 2000, closeGraceMs: 30_000 } });
    const wire = await Wire.open(limited.port);
    try {
      for (const id of [1, 3, 5, 7]) expect(await open(wire, id, `/b/live/${id}`)).toBe('200');
      expect(await open(wire, 9, '/b/live/9')).toBe('RST_STREAM REFUSED_STREAM');
      // The four live tunnels still echo, and nothing else was reset or sent away.
      for (const id of [1, 3, 5, 7]) {
        const from = wire.frames.length;
        wire.send(data(id, text(`still ${id}`)));
        await wire.waitFor(isDataOn(id), 5000, `the echo on ${id}`, from);
      }
      expect(wire.errors()).toEqual(['RST_STREAM(9, REFUSED_STREAM)']);
      // Two close the way Firefox does, which then counts their slots as free: the next two
      // streams are taken at once, each releasing the oldest closed one (RST_STREAM NO_ERROR).
      for (const id of [1, 3]) wire.send(data(id, closeFrame(1000)));
      for (const id of [1, 3]) await wire.waitFor(isEndStream(id), 5000, `END_STREAM on ${id}`);
      expect(wire.errors()).toEqual(['RST_STREAM(9, REFUSED_STREAM)']);
      expect(await open(wire, 11, '/b/live/11')).toBe('200');
      expect(await open(wire, 13, '/b/live/13')).toBe('200');
      expect(await open(wire, 15, '/b/live/15')).toBe('RST_STREAM REFUSED_STREAM');
      // Which of 1 and 3 finished its closing handshake first depends on its backend, so the
      // two releases may come in either order.
      const errors = wire.errors();
      expect([errors[0], [...errors.slice(1, 3)].sort(), errors[3], errors.length]).toEqual(['RST_STREAM(9, REFUSED_STREAM)', ['RST_STREAM(1, NO_ERROR)', 'RST_STREAM(3, NO_ERROR)'], 'RST_STREAM(15, REFUSED_STREAM)', 4]);
      expect(wire.closed).toBe(false);
      for (const id of [1, 3]) await recordsWithin(limited, { path: `/b/live/${id}`, end: 'clean', reset_after_close: true }, 1, Date.now(), 5000);
      expect(tunnelRecords(limited.stderr()).filter((r) => r.outcome === 'ok' && r.end !== 'clean')).toEqual([]);
    } finally {
      wire.destroy();
      expect(await limited.stop(), limited.stderr()).toBe(0);
    }
  });
});
