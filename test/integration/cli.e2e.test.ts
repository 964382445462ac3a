/**
 * The command-line contract (DESIGN.md, "Contract: the command line"), with `bin/h2ws.js`
 * spawned under Node, Deno and Bun in turn: --help and --version, one-line usage errors with
 * exit 2, a busy port with exit 1, graceful exit 0 on SIGTERM/SIGINT, longest-prefix routing
 * across --route and --backend, prefix rewriting, the embedded demo, and 404 for plain HTTP.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsSchema, timeoutsSchema } from '../../src/config/schema.ts';
import { type EchoBackend, refusedPort, startEchoBackend } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, runCli, startGateway, writeConfig } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, FrameSink, type H2Client, openTunnel } from '../helpers/h2-client.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PACKAGE_VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const H2 = http2.constants;

const FLAGS = ['--listen', '--tls-cert', '--tls-key', '--self-signed', '--backend', '--route', '--config', '--help', '--version'];
// The schema is the source of truth: a field added there but not documented in --help fails here.
const LIMIT_FIELDS = Object.keys(limitsSchema.shape);
const TIMEOUT_FIELDS = Object.keys(timeoutsSchema.shape);

/** Writes raw text (not necessarily JSON) to a temp file. */
function writeText(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'h2ws-test-')), 'config.json');
  writeFileSync(file, text);
  return file;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const STACK_LINE = /^\s+at /m;

/** A usage error: exit 2, exactly one non-empty stderr line naming `field`, no stack trace. */
function expectUsageError(r: { code: number | null; stdout: string; stderr: string }, field: string): void {
  const context = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  expect(r.code, context).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, context).toHaveLength(1);
  expect(lines[0], context).toContain(field);
  expect(r.stderr, context).not.toMatch(STACK_LINE);
  expect(r.stdout, context).not.toMatch(/listening on/);
}

interface BadInput {
  readonly name: string;
  /** Arguments; `listenFree` appends `--listen 127.0.0.1:<free port>` so we can check nothing bound it. */
  readonly args: () => string[];
  readonly field: string;
  readonly listenFree: boolean;
}

const BAD_INPUTS: readonly BadInput[] = [
  { name: 'unknown flag --bogus', args: () => ['--bogus'], field: '--bogus', listenFree: true },
  { name: '--listen nonsense', args: () => ['--listen', 'nonsense', '--backend', 'ws://127.0.0.1:1'], field: 'listen', listenFree: false },
  { name: '--backend http://x (not ws://)', args: () => ['--backend', 'http://x'], field: '--backend', listenFree: true },
  { name: '--route chat=ws://… (prefix must start with /)', args: () => ['--route', 'chat=ws://127.0.0.1:1'], field: '--route', listenFree: true },
  { name: '--route /x (missing =URL)', args: () => ['--route', '/x'], field: '--route', listenFree: true },
  { name: '--tls-cert without --tls-key', args: () => ['--tls-cert', 'a.pem', '--backend', 'ws://127.0.0.1:1'], field: '--tls-key', listenFree: true },
  { name: '--config /nonexistent.json', args: () => ['--config', '/nonexistent.json'], field: '--config', listenFree: true },
  { name: 'config file with invalid JSON', args: () => ['--config', writeText('{"limits": {')], field: '--config', listenFree: true },
  { name: 'config with unknown field limits.maxTunels', args: () => ['--config', writeConfig({ limits: { maxTunels: 5 } })], field: 'limits.maxTunels', listenFree: true },
  { name: 'config with limits.maxTunnels -1', args: () => ['--config', writeConfig({ limits: { maxTunnels: -1 } })], field: 'limits.maxTunnels', listenFree: true },
  { name: 'config with timeouts.drainMs "soon"', args: () => ['--config', writeConfig({ timeouts: { drainMs: 'soon' } })], field: 'timeouts.drainMs', listenFree: true },
];

let backendA: EchoBackend;
let backendB: EchoBackend;
let backendC: EchoBackend;
let rooms: EchoBackend;

beforeAll(async () => {
  [backendA, backendB, backendC, rooms] = await Promise.all([startEchoBackend(), startEchoBackend(), startEchoBackend(), startEchoBackend()]);
});

afterAll(async () => {
  await Promise.all([backendA, backendB, backendC, rooms].map((b) => b?.close()));
});

describe.each(RUNTIMES)('h2ws command line under %s', (runtime) => {
  // One routing gateway (argv order chosen so that "first match wins" or "last match wins"
  // would route differently from "longest prefix wins") and one embedded-default gateway.
  let routed: GatewayProcess;
  let demo: GatewayProcess;

  beforeAll(async () => {
    [routed, demo] = await Promise.all([
      startGateway(runtime, [
        '--listen', '127.0.0.1:0',
        '--backend', backendC.url,
        '--route', `/a=${backendA.url}`,
        '--route', `/a/b=${backendB.url}`,
        '--route', `/chat=${rooms.url}/rooms`,
      ]),
      startGateway(runtime, ['--listen', '127.0.0.1:0']),
    ]);
  });

  afterAll(async () => {
    const codes = await Promise.all([routed?.stop(), demo?.stop()]);
    expect(codes, `routed stderr:\n${routed?.stderr()}\ndemo stderr:\n${demo?.stderr()}`).toEqual([0, 0]);
  });

  it('--help exits 0 and names every flag and every limits.* and timeouts.* field', async () => {
    const r = await runCli(runtime, ['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage:/m);
    for (const flag of FLAGS) expect(r.stdout, `help names ${flag}`).toContain(flag);
    expect(r.stdout).toMatch(/"limits"/);
    expect(r.stdout).toMatch(/"timeouts"/);
    expect(LIMIT_FIELDS.length).toBeGreaterThan(0);
    expect(TIMEOUT_FIELDS.length).toBeGreaterThan(0);
    for (const field of [...LIMIT_FIELDS, ...TIMEOUT_FIELDS]) expect(r.stdout, `help names ${field}`).toMatch(new RegExp(`\\b${field}\\b`));
    expect(r.stderr).toBe('');
  });

  it('--version exits 0 and prints the package.json version', async () => {
    const r = await runCli(runtime, ['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^h2ws ${PACKAGE_VERSION.replace(/\./g, '\\.')}(\\s|$)`));
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it.each(BAD_INPUTS)('bad input: $name → exit 2, one line naming the field, nothing listening', async ({ args, field, listenFree }) => {
    const port = await refusedPort();
    const r = await runCli(runtime, [...(listenFree ? ['--listen', `127.0.0.1:${port}`] : []), ...args()]);
    expectUsageError(r, field);
    // runCli resolves once the process has exited; the port it was given is free.
    if (listenFree) expect(await isListening(port)).toBe(false);
  });

  it('--listen on a port already in use: exit 1 (not 2), one line saying the address is in use', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const r = await runCli(runtime, ['--listen', `127.0.0.1:${port}`, '--backend', backendC.url]);
      const context = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
      expect(r.code, context).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines, context).toHaveLength(1);
      expect(lines[0], context).toMatch(/in use/i);
      expect(lines[0], context).toContain(`127.0.0.1:${port}`);
      expect(r.stderr, context).not.toMatch(STACK_LINE);
      expect(r.stdout, context).not.toMatch(/listening on/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s with no tunnels: ready line first, then exit 0 within 5 s', async (signal) => {
    const gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', backendC.url]);
    // The signal goes out as soon as the ready line is seen, as a supervisor would send it:
    // once h2ws says it is ready, SIGTERM/SIGINT must already mean "drain and exit 0".
    const started = Date.now();
    const code = await gw.stop(signal);
    const elapsed = Date.now() - started;
    const first = gw.stdout().split('\n')[0]!;
    expect(first).toMatch(/^h2ws listening on http:\/\/127\.0\.0\.1:\d+\/ \(/);
    expect(first).toContain(gw.url);
    expect(code, `killed by ${gw.proc.signalCode ?? 'nothing'}; stderr:\n${gw.stderr()}`).toBe(0);
    expect(elapsed).toBeLessThan(5_000);
    expect(gw.stderr()).not.toMatch(STACK_LINE);
    expect(await isListening(gw.port)).toBe(false);
  });

  describe('routing', () => {
    let client: H2Client;
    const backends = () => ({ A: backendA, B: backendB, C: backendC, rooms });

    beforeAll(async () => {
      client = await connectH2(routed.url);
    });

    afterAll(async () => {
      await client?.close();
    });

    /** Opens a tunnel to `target` and reports which backend accepted it, and with which request target. */
    async function routedTo(target: string): Promise<{ backend: string; url: string | undefined }> {
      const before = Object.fromEntries(Object.entries(backends()).map(([name, b]) => [name, b.requests.length]));
      const res = await openTunnel(client, target);
      expect(res.status, `status for ${target}`).toBe(200);
      res.stream.close(H2.NGHTTP2_CANCEL);
      const hits = Object.entries(backends()).filter(([name, b]) => b.requests.length > before[name]!);
      expect(hits.map(([name]) => name), `backends that saw ${target}`).toHaveLength(1);
      const [name, backend] = hits[0]!;
      return { backend: name, url: backend.requests.at(-1)!.url };
    }

    it('the longest prefix wins across --route flags and --backend, whatever the flag order', async () => {
      expect(await routedTo('/a/x')).toEqual({ backend: 'A', url: '/a/x' });
      expect(await routedTo('/a')).toEqual({ backend: 'A', url: '/a' });
      expect(await routedTo('/a/b/x')).toEqual({ backend: 'B', url: '/a/b/x' });
      expect(await routedTo('/a/b')).toEqual({ backend: 'B', url: '/a/b' });
      expect(await routedTo('/zzz')).toEqual({ backend: 'C', url: '/zzz' });
    });

    it('a prefix matches whole path segments: /ab and /a/bc are not under /a/b or /a', async () => {
      expect(await routedTo('/ab')).toEqual({ backend: 'C', url: '/ab' });
      expect(await routedTo('/a/bc')).toEqual({ backend: 'A', url: '/a/bc' });
      expect(await routedTo('/a?b')).toEqual({ backend: 'A', url: '/a?b' });
    });

    it('a backend URL with a path replaces the prefix: /chat/1?x=y reaches the backend as /rooms/1?x=y', async () => {
      expect(await routedTo('/chat/1?x=y')).toEqual({ backend: 'rooms', url: '/rooms/1?x=y' });
      expect(await routedTo('/chat?x=y')).toEqual({ backend: 'rooms', url: '/rooms?x=y' });
    });

    it('a plain GET (not a WebSocket handshake) gets 404 over h2', async () => {
      for (const target of ['/', '/a/x', '/zzz']) {
        const stream = client.session.request({ ':path': target });
        stream.on('error', () => {});
        const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          stream.once('response', resolve);
          stream.once('close', () => reject(new Error(`stream closed without a response (rst ${stream.rstCode})`)));
        });
        stream.resume();
        expect(headers[':status'], `GET ${target}`).toBe(404);
      }
    });

    it('a plain GET (not a WebSocket handshake) gets 404 over HTTP/1.1 on the same port', async () => {
      for (const target of ['/', '/a/x', '/zzz']) {
        const status = await new Promise<number | undefined>((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port: routed.port, path: target, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode);
          });
          req.once('error', reject);
        });
        expect(status, `GET ${target}`).toBe(404);
      }
    });
  });

  describe('embedded default (no --backend, --route or --config)', () => {
    let client: H2Client;

    beforeAll(async () => {
      client = await connectH2(demo.url);
    });

    afterAll(async () => {
      await client?.close();
    });

    it('listens on cleartext and prints a line telling the user which URL to open', () => {
      expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const lines = demo.stdout().split('\n');
      expect(lines[0]).toMatch(/^h2ws listening on /);
      expect(lines.some((l) => new RegExp(`open http://(localhost|127\\.0\\.0\\.1):${demo.port}/`).test(l)), demo.stdout()).toBe(true);
    });

    it('serves the demo page at / over h2c', async () => {
      const stream = client.session.request({ ':path': '/' });
      stream.on('error', () => {});
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => (body += d));
      await new Promise((resolve) => stream.once('end', resolve));
      expect(headers[':status']).toBe(200);
      expect(String(headers['content-type'])).toMatch(/^text\/html/);
      expect(body).toContain('h2ws demo');
    });

    it('/ws/echo over extended CONNECT: a welcome naming HTTP/2 extended CONNECT, then the echo', async () => {
      const res = await openTunnel(client, '/ws/echo');
      expect(res.status).toBe(200);
      const sink = new FrameSink(false);
      res.stream.on('data', (d: Buffer) => sink.write(d));
      await sink.until(() => sink.messages.length >= 1);
      const welcome = JSON.parse(String(sink.messages[0])) as { type: string; room: string; transport: string };
      expect(welcome.type).toBe('welcome');
      expect(welcome.room).toBe('echo');
      expect(welcome.transport).toMatch(/HTTP\/2 extended CONNECT/);
      res.stream.write(clientFrame('hello demo'));
      await sink.until(() => sink.messages.length >= 2);
      expect(sink.messages[1]).toBe('hello demo');
      res.stream.close(H2.NGHTTP2_CANCEL);
    });

    it('/ws/chat with sec-websocket-protocol chat: 200 with sec-websocket-protocol: chat', async () => {
      const res = await openTunnel(client, '/ws/chat', { 'sec-websocket-protocol': 'chat' });
      expect(res.status).toBe(200);
      expect(res.headers['sec-websocket-protocol']).toBe('chat');
      const sink = new FrameSink(false);
      res.stream.on('data', (d: Buffer) => sink.write(d));
      await sink.until(() => sink.messages.length >= 1);
      expect(JSON.parse(String(sink.messages[0]))).toMatchObject({ type: 'welcome', room: 'chat', protocol: 'chat' });
      // The only member of the room gets its own broadcast back.
      res.stream.write(clientFrame('to the room'));
      await sink.until(() => sink.messages.length >= 2);
      expect(sink.messages[1]).toBe('to the room');
      res.stream.close(H2.NGHTTP2_CANCEL);
    });

    it('a WebSocket path outside /ws has no route: 404', async () => {
      const res = await openTunnel(client, '/elsewhere');
      expect(res.status).toBe(404);
    });
  });
});
