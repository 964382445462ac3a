/**
 * Interop with real HTTP/2 peers from Debian, as clients of `bin/h2ws.js` spawned under Node,
 * Deno and Bun in turn, over h2c with prior knowledge (RFC 9113 §3.3) and over TLS with ALPN h2
 * (RFC 9113 §3.2): curl (libcurl), nghttp and h2load (nghttp2-client), each a separate HTTP/2
 * implementation from the gateway's own engine. nghttp cannot send an extended CONNECT, so
 * RFC 8441's side is driven by node:http2 (Node's bundled nghttp2). After the run, /metrics
 * shows no client session and no tunnel left open, and the gateway is still up.
 *
 * A missing peer binary fails its tests with the package to install (.ci/run installs them
 * all with apt-get); nothing is skipped.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoBackend, startEchoBackend } from '../helpers/backends.ts';
import { localhostCertificate } from '../helpers/certs.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { connectH2, eventually, type H2Client, openTunnel } from '../helpers/h2-client.ts';
import { logRecords } from '../helpers/logs.ts';
import { closeFrame, FrameParser, Opcode, parseClose, type WsFrame, wsFrame } from '../helpers/ws-frames.ts';

const H2 = http2.constants;

/** The Debian package that provides each peer binary this suite runs. */
const PEERS = { curl: 'curl', nghttp: 'nghttp2-client', h2load: 'nghttp2-client' } as const;
type Peer = keyof typeof PEERS;

/** The 404 body of the gateway's default application (src/server/app.ts). */
const NOT_FOUND = 'not found: h2ws serves WebSockets here\n';
const UPLOAD_BYTES = 2 * 1024 * 1024;
/** Concurrent extended CONNECTs on one node:http2 session. */
const TUNNELS = 20;

/** The absolute path of a peer binary, or an error that says which package to install. */
function peer(name: Peer): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} is not installed: this interop suite needs Debian's ${PEERS[name]} package. ` +
      `Install it with \`apt-get install ${PEERS[name]}\` (.ci/run does this on a fresh machine).`,
  );
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The command line and its output, for assertion messages. */
  readonly transcript: string;
}

/** Runs a peer binary to completion (killed after `ms`); never rejects on a non-zero exit. */
function run(name: Peer, args: string[], ms = 20_000): Promise<Run> {
  const bin = peer(name);
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      const transcript = `$ ${name} ${args.join(' ')}\n(exit ${code ?? signal})\n--- stdout\n${stdout.slice(-6000)}\n--- stderr\n${stderr.slice(-3000)}`;
      resolve({ code, stdout, stderr, transcript });
    });
  });
}

/** One frame of nghttp's -v trace. */
interface NghttpFrame {
  readonly dir: 'send' | 'recv';
  readonly type: string;
  readonly length: number;
  readonly flags: number;
  readonly streamId: number;
  /** The indented lines under the frame's line. */
  readonly detail: string;
}

/** The frames of an `nghttp -v` trace, in order. */
function nghttpFrames(trace: string): NghttpFrame[] {
  const frames: NghttpFrame[] = [];
  const re = /^\[[ \d.]+\] (send|recv) (\w+) frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>\n((?: {10}.*\n)*)/gm;
  for (const m of trace.matchAll(re)) {
    frames.push({ dir: m[1] as 'send' | 'recv', type: m[2]!, length: Number(m[3]), flags: parseInt(m[4]!, 16), streamId: Number(m[5]), detail: m[6]! });
  }
  return frames;
}

let echo: EchoBackend;
let certFile: string;
let keyFile: string;
let certPem: string;
let uploadFile: string;

beforeAll(async () => {
  echo = await startEchoBackend();
  const pems = await localhostCertificate();
  certPem = pems.cert;
  const dir = mkdtempSync(path.join(tmpdir(), 'h2ws-interop-'));
  certFile = path.join(dir, 'cert.pem');
  keyFile = path.join(dir, 'key.pem');
  uploadFile = path.join(dir, 'upload.bin');
  writeFileSync(certFile, pems.cert);
  writeFileSync(keyFile, pems.private);
  const upload = Buffer.alloc(UPLOAD_BYTES);
  for (let i = 0; i < upload.length; i++) upload[i] = (i * 31 + (i >> 13)) & 0xff;
  writeFileSync(uploadFile, upload);
});

afterAll(async () => {
  await echo?.close();
});

type Kind = 'h2c' | 'tls';
const KINDS: readonly Kind[] = ['h2c', 'tls'];

/** A GET on a fresh HTTP/1.1 connection (Connection: close), so a scrape never counts as an h2 session. */
function getH1(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req = url.startsWith('https:') ? https.get(url, { agent: false, ca: certPem }, done) : http.get(url, { agent: false }, done);
    req.on('error', reject);
  });
}

/** Sample lines of one metric. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

/** Everything received on a tunnel's stream, as WebSocket frames. */
class TunnelReader {
  readonly frames: WsFrame[] = [];
  readonly #parser = new FrameParser();

  constructor(stream: http2.ClientHttp2Stream) {
    stream.on('data', (d: Buffer) => this.frames.push(...this.#parser.push(d)));
  }

  /** Waits for the frame at `index`. */
  async frame(index: number, what: string): Promise<WsFrame> {
    await eventually(() => this.frames.length > index, 5000, `${what} (have ${this.frames.length} frames)`);
    return this.frames[index]!;
  }
}

function streamClosed(stream: http2.ClientHttp2Stream): Promise<void> {
  return new Promise((resolve) => (stream.closed ? resolve() : stream.once('close', () => resolve())));
}

/**
 * One RFC 8441 tunnel through the gateway to the echo backend: 200, a masked text frame and a
 * 100 KiB masked binary frame each echoed unmasked, then Close 1000 both ways and END_STREAM.
 */
async function tunnelRoundTrip(client: H2Client, scheme: 'http' | 'https', text: string): Promise<void> {
  const res = await openTunnel(client, '/echo', { ':scheme': scheme });
  expect(res.status, `extended CONNECT answered ${res.status ?? `RST_STREAM ${res.rstCode}`}`).toBe(200);
  const reader = new TunnelReader(res.stream);

  res.stream.write(wsFrame({ opcode: Opcode.TEXT, payload: text }));
  const echoedText = await reader.frame(0, 'the echoed text frame');
  expect({ fin: echoedText.fin, opcode: echoedText.opcode, masked: echoedText.masked, text: echoedText.payload.toString() }).toEqual({
    fin: true,
    opcode: Opcode.TEXT,
    masked: false, // RFC 6455 §5.1: a server never masks
    text,
  });

  const blob = Buffer.alloc(100 * 1024);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7 + text.length) & 0xff;
  res.stream.write(wsFrame({ opcode: Opcode.BINARY, payload: blob }));
  const echoedBlob = await reader.frame(1, 'the echoed 100 KiB binary frame');
  expect(echoedBlob.opcode).toBe(Opcode.BINARY);
  expect(echoedBlob.payload.equals(blob), 'the 100 KiB binary frame came back byte for byte').toBe(true);

  res.stream.write(closeFrame(1000));
  const close = await reader.frame(2, 'the echoed Close frame');
  expect(close.opcode).toBe(Opcode.CLOSE);
  expect(parseClose(close.payload).code).toBe(1000);
  res.stream.end();
  await streamClosed(res.stream);
  expect(res.stream.rstCode).toBe(H2.NGHTTP2_NO_ERROR);
}

describe.each(RUNTIMES)('interop with Debian HTTP/2 peers, gateway under %s', (runtime) => {
  let h2c: GatewayProcess;
  let tls: GatewayProcess;
  const started: GatewayProcess[] = [];
  const gateway = (kind: Kind) => (kind === 'h2c' ? h2c : tls);
  /** curl's flags for each listener: prior knowledge on cleartext, ALPN h2 over TLS verified against our certificate. */
  const curlFlags = (kind: Kind) => (kind === 'h2c' ? ['--http2-prior-knowledge'] : ['--http2', '--cacert', certFile]);

  beforeAll(async () => {
    const config = { routes: { '/echo': echo.url }, timeouts: { drainMs: 2000 } };
    const starting = await Promise.allSettled([
      startGateway(runtime, ['--listen', '127.0.0.1:0'], config),
      startGateway(runtime, ['--listen', '127.0.0.1:0', '--tls-cert', certFile, '--tls-key', keyFile], config),
    ]);
    for (const s of starting) if (s.status === 'fulfilled') started.push(s.value);
    const failed = starting.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    [h2c, tls] = started as [GatewayProcess, GatewayProcess];
    expect(h2c.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(tls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
  });

  afterAll(async () => {
    await Promise.all(started.map((gw) => gw.stop()));
  });

  describe.each(KINDS)('over %s', (kind) => {
    it('curl: GET /healthz, /metrics (Prometheus text), a 404 path, and HEAD', async () => {
      const base = gateway(kind).url;
      const health = await run('curl', [...curlFlags(kind), '-sS', '-o', '-', '-w', '%{http_version} %{http_code}', `${base}healthz`]);
      expect(health.code, health.transcript).toBe(0);
      expect(health.stdout).toBe('ok\n2 200');

      const metrics = await run('curl', [...curlFlags(kind), '-sS', '-o', '-', '-w', '\n%{http_version} %{http_code} %{content_type}', `${base}metrics`]);
      expect(metrics.code, metrics.transcript).toBe(0);
      expect(metrics.stdout.split('\n').at(-1)).toBe('2 200 text/plain; version=0.0.4; charset=utf-8');
      expect(metrics.stdout).toContain('# TYPE h2ws_sessions_open gauge\n');
      expect(samples(metrics.stdout, 'h2ws_sessions_open')).toHaveLength(2);

      const missing = await run('curl', [...curlFlags(kind), '-sS', '-o', '-', '-w', '%{http_version} %{http_code}', `${base}no/such/page?x=1`]);
      expect(missing.code, missing.transcript).toBe(0);
      expect(missing.stdout).toBe(`${NOT_FOUND}2 404`);

      // HEAD: the status and headers of a GET, no body (RFC 9110 §9.3.2).
      const head = await run('curl', [...curlFlags(kind), '-sS', '-I', '-o', '/dev/null', '-w', '%{http_version} %{http_code} %{size_download}', `${base}healthz`]);
      expect(head.code, head.transcript).toBe(0);
      expect(head.stdout).toBe('2 200 0');

      // Three requests on one connection: curl reuses it for every URL of one command line.
      // Over TLS only: Debian 12's curl 7.88.1 fails every request after the first on a reused
      // prior-knowledge h2c connection (exit 16, "Error in the HTTP2 framing layer") against any
      // server, node:http2's included.
      if (kind === 'h2c') return;
      const reuse = await run('curl', [...curlFlags(kind), '-sS', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{http_version} %{http_code} %{num_connects}\n', `${base}healthz`, `${base}readyz`, `${base}nowhere`]);
      expect(reuse.code, reuse.transcript).toBe(0);
      expect(reuse.stdout).toBe('2 200 1\n2 200 0\n2 404 0\n');
    });

    it('nghttp -d: a 2 MiB POST the application answers 404 without reading: a complete response, then RST_STREAM NO_ERROR at most (RFC 9113 §8.1)', async () => {
      // nghttp rather than curl: Debian 12's curl 7.88.1 fails intermittently (exit 92, "Stream
      // error in the HTTP/2 framing layer") on any response that arrives while it is still
      // uploading, node:http2's server included.
      const out = await run('nghttp', ['-nv', '-d', uploadFile, `${gateway(kind).url}upload`]);
      expect(out.code, out.transcript).toBe(0);
      expect(out.stdout, out.transcript).toMatch(/send HEADERS frame <[^>]*stream_id=13>\n(?: {10}.*\n)*? {10}:method: POST\n/);
      expect(out.stdout, out.transcript).toMatch(/recv \(stream_id=13\) :status: 404\n/);
      const frames = nghttpFrames(out.stdout).filter((f) => f.dir === 'recv' && f.streamId === 13);
      const summary = frames.map((f) => `${f.type}(${f.length}, flags=0x${f.flags.toString(16)}${f.type === 'RST_STREAM' ? `, ${f.detail.trim()}` : ''})`).join(' ');
      const end = frames.findIndex((f) => (f.type === 'DATA' || f.type === 'HEADERS') && (f.flags & 0x1) !== 0);
      expect(end, `the gateway never ended its response with END_STREAM: ${summary}\n${out.transcript}`).toBeGreaterThanOrEqual(0);
      const body = frames.slice(0, end + 1).filter((f) => f.type === 'DATA').reduce((n, f) => n + f.length, 0);
      expect(body, `DATA bytes before END_STREAM: ${summary}`).toBe(Buffer.byteLength(NOT_FOUND));
      // Anything after END_STREAM can only be RST_STREAM NO_ERROR: "stop sending the request".
      for (const f of frames.slice(end + 1)) expect(`${f.type} ${f.detail.trim()}`, summary).toMatch(/^RST_STREAM \(error_code=NO_ERROR\(0x00\)\)$/);
      expect(out.stdout, out.transcript).not.toContain('Some requests were not processed');
    });

    it('nghttp -nv: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3) and a 200', async () => {
      const out = await run('nghttp', ['-nv', `${gateway(kind).url}healthz`]);
      expect(out.code, out.transcript).toBe(0);
      if (kind === 'tls') expect(out.stdout, out.transcript).toContain('The negotiated protocol: h2\n');
      // The gateway's first SETTINGS frame (not an ACK), with its parameters on the lines under it.
      const settings = nghttpFrames(out.stdout).find((f) => f.dir === 'recv' && f.type === 'SETTINGS' && f.flags === 0);
      expect(settings, `no SETTINGS frame from the gateway\n${out.transcript}`).toBeDefined();
      expect(settings!.detail, out.transcript).toContain('[SETTINGS_ENABLE_CONNECT_PROTOCOL(0x08):1]');
      expect(out.stdout, out.transcript).toMatch(/recv \(stream_id=13\) :status: 200\n/);
      expect(out.stdout, out.transcript).toMatch(/recv DATA frame <length=3, flags=0x01, stream_id=13>\n {10}; END_STREAM\n/);
      expect(out.stdout, out.transcript).not.toContain('recv RST_STREAM');
    });

    it('nghttp -n -m 100: 100 concurrent requests on one connection, all 200', async () => {
      const out = await run('nghttp', ['-n', '-s', '-m', '100', `${gateway(kind).url}healthz`]);
      expect(out.code, out.transcript).toBe(0);
      // -s prints one line per stream: id, responseEnd, requestStart, process, code, size, path.
      const ok = out.stdout.split('\n').filter((l) => /^\s*\d+\s+\+\S+\s+\+\S+\s+\S+\s+200\s+3\s+\/healthz$/.test(l));
      expect(ok.length, out.transcript).toBe(100);
    });

    it('h2load -n 2000 -c 4 -m 50: every request succeeds', async () => {
      const out = await run('h2load', ['-n', '2000', '-c', '4', '-m', '50', `${gateway(kind).url}healthz`]);
      expect(out.code, out.transcript).toBe(0);
      expect(out.stdout, out.transcript).toMatch(/^requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout$/m);
      expect(out.stdout, out.transcript).toMatch(/^status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx$/m);
      if (kind === 'tls') expect(out.stdout, out.transcript).toMatch(/^Application protocol: h2$/m);
    });

    it(`node:http2: RFC 8441 extended CONNECT, one tunnel then ${TUNNELS} at once on one session, each echoed`, async () => {
      const client = await connectH2(gateway(kind).url);
      try {
        expect(client.settings.enableConnectProtocol).toBe(true);
        const scheme = kind === 'h2c' ? 'http' : 'https';
        await tunnelRoundTrip(client, scheme, `hello from node:http2 under ${runtime} over ${kind}`);
        await Promise.all(Array.from({ length: TUNNELS }, (_, i) => tunnelRoundTrip(client, scheme, `tunnel ${i} `.repeat(i + 1))));
      } finally {
        await client.close();
      }
    });
  });

  it('afterwards: /metrics shows no h2 session and no tunnel open, and the gateway is still up', async () => {
    for (const kind of KINDS) {
      const gw = gateway(kind);
      const metricsUrl = `${gw.url}metrics`;
      let text = '';
      const settled = () =>
        samples(text, 'h2ws_sessions_open').includes('h2ws_sessions_open{transport="h2"} 0') &&
        samples(text, 'h2ws_tunnels_open').every((l) => l.endsWith(' 0'));
      const deadline = Date.now() + 5000;
      for (;;) {
        const scrape = await getH1(metricsUrl);
        expect(scrape.status).toBe(200);
        text = scrape.body;
        if (settled() || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const what = `${kind} gateway under ${runtime}`;
      expect(samples(text, 'h2ws_sessions_open'), what).toContain('h2ws_sessions_open{transport="h2"} 0');
      expect(samples(text, 'h2ws_tunnels_open').filter((l) => !l.endsWith(' 0')), what).toEqual([]);
      // Every tunnel this suite opened ended "ok": one, then TUNNELS at once.
      expect(samples(text, 'h2ws_tunnels_total').filter((l) => !l.endsWith(' 0')), what).toEqual([`h2ws_tunnels_total{route="/echo",transport="h2",outcome="ok"} ${1 + TUNNELS}`]);
      expect(logRecords(gw.stderr()).filter((r) => r.level === 'warn' || r.level === 'error'), what).toEqual([]);
      expect(gw.proc.exitCode, `${what} exited\nstderr:\n${gw.stderr().slice(-4000)}`).toBeNull();
      expect(gw.proc.signalCode).toBeNull();
      expect((await getH1(`${gw.url}healthz`)).status).toBe(200);
    }
  });
});
