/**
 * `h2ws client URL …` (wscat for HTTP/2), spawned as `bin/h2ws.js client` under Node, Deno and
 * Bun in turn with stdin piped: lines in → text messages, messages → lines out (binary ones
 * as `binary:<base64>`), the transport it reports, and its exit codes (0 after stdin ended and
 * a 1000 close; 1 with one stderr line for any other close or a failed handshake; 2 for a bad
 * flag). The servers are h2ws's own `serve`, in this process, with ws-compatible routes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { type Gateway, serve, WebSocketServer } from '../../mod.ts';
import { localhostCertificate } from '../helpers/certs.ts';
import { type EchoBackend, startEchoBackend } from '../helpers/backends.ts';
import { RUNTIMES, type RuntimeName, runtimeCommand } from '../helpers/gateway-process.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `h2ws client …args` to completion, writing `input` to its stdin. With `holdStdin`, stdin
 * stays open (the server has to end the session); otherwise it ends after `input`.
 */
function runClient(runtime: RuntimeName, args: string[], input = '', holdStdin = false): Promise<Run> {
  const { cmd, args: base } = runtimeCommand(runtime);
  const proc = spawn(cmd, [...base, 'client', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  proc.stdin.on('error', () => {});
  proc.stdin.write(input);
  if (!holdStdin) proc.stdin.end();
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    proc.once('close', (code) => {
      clearTimeout(timer);
      proc.stdin.destroy();
      resolve({ code, stdout, stderr });
    }),
  );
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

/** A ws-compatible route whose connections run `onConnection`, then echo (synchronously, so echoes precede the reply to a Close). */
function wsRoute(onConnection: (ws: WebSocket, req: http.IncomingMessage) => void = () => {}, options = {}): WebSocketServer {
  const wss = new WebSocketServer(options);
  wss.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
    ws.on('error', () => {});
    onConnection(ws, req);
    ws.on('message', (data, isBinary) => {
      if (!isBinary && String(data) === 'bye') ws.close(4000, 'custom reason');
      else ws.send(data, { binary: isBinary });
    });
  });
  return wss;
}

let gw: Gateway;
let tlsGw: Gateway;
let plain: EchoBackend;
let caFile: string;
const routes = () => ({
  '/echo': wsRoute(),
  '/chat': wsRoute((ws) => ws.send(`protocol=${ws.protocol}`), { handleProtocols: (offered: Set<string>) => (offered.has('chat') ? 'chat' : false) }),
  '/headers': wsRoute((ws, req) => ws.send(`authorization=${req.headers.authorization} origin=${req.headers.origin} x-trace=${req.headers['x-trace']}`)),
  '/binary': wsRoute((ws) => ws.send(Buffer.from([0, 1, 2, 255]), { binary: true })),
});

beforeAll(async () => {
  const pems = await localhostCertificate();
  caFile = path.join(mkdtempSync(path.join(tmpdir(), 'h2ws-client-cli-')), 'ca.pem');
  writeFileSync(caFile, pems.cert);
  [gw, tlsGw, plain] = await Promise.all([
    serve({ listen: '127.0.0.1:0', log: () => {}, routes: routes() }),
    serve({ listen: '127.0.0.1:0', log: () => {}, tls: { cert: pems.cert, key: pems.private }, routes: routes() }),
    startEchoBackend(),
  ]);
});

afterAll(async () => {
  await Promise.all([gw?.close(), tlsGw?.close(), plain?.close()]);
});

describe.each(RUNTIMES)('h2ws client under %s', (runtime) => {
  const url = (p: string) => `${gw.url.replace(/^http/, 'ws')}${p.slice(1)}`;

  it('sends each stdin line as a message, prints each message as a line, exits 0 after stdin ends', async () => {
    const run = await runClient(runtime, [url('/echo')], 'one\ntwo words\nthree ✓\n');
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('one\ntwo words\nthree ✓\n');
    expect(run.code).toBe(0);
  });

  it('--show-transport: HTTP/2 against h2ws, HTTP/1.1 against a plain ws server', async () => {
    const h2 = await runClient(runtime, [url('/echo'), '--show-transport'], 'x\n');
    expect(h2.code).toBe(0);
    expect(lines(h2.stderr)).toHaveLength(1);
    expect(h2.stderr).toMatch(/HTTP\/2/);
    expect(h2.stdout).toBe('x\n');
    const h1 = await runClient(runtime, [`${plain.url}/`, '--show-transport'], 'y\n');
    expect(h1.code).toBe(0);
    expect(h1.stderr).toMatch(/HTTP\/1\.1/);
    expect(h1.stdout).toBe('y\n');
  });

  it('--protocol offers subprotocols; the server’s choice is the one it picked', async () => {
    const run = await runClient(runtime, [url('/chat'), '--protocol', 'superchat', '--protocol=chat', '--show-transport'], 'hello\n');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('protocol=chat\nhello\n');
    expect(run.stderr).toMatch(/subprotocol chat/);
  });

  it('--header adds request headers (authorization, origin, any other)', async () => {
    const run = await runClient(runtime, [url('/headers'), '--header', 'Authorization: Bearer t0ken', '--header', 'Origin: https://app.test', '--header=X-Trace: abc'], '');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('authorization=Bearer t0ken origin=https://app.test x-trace=abc\n');
  });

  it('prints binary messages as binary:<base64>', async () => {
    const run = await runClient(runtime, [url('/binary')], 'text after\n');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('binary:AAEC/w==\ntext after\n');
  });

  it('a server that closes with 4000: one stderr line naming 4000, exit 1 (stdin still open)', async () => {
    const run = await runClient(runtime, [url('/echo')], 'first\nbye\n', true);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('first\n');
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(/4000/);
    expect(run.stderr).toMatch(/custom reason/);
  });

  it('404: one stderr line with the status, exit 1', async () => {
    const run = await runClient(runtime, [url('/nowhere')], 'x\n');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(/404/);
  });

  it('TLS: --ca FILE trusts the server (h2 over ALPN); without it the handshake fails, exit 1', async () => {
    const tlsUrl = `${tlsGw.url.replace(/^http/, 'ws')}echo`;
    const trusted = await runClient(runtime, [tlsUrl, '--ca', caFile, '--show-transport'], 'secure\n');
    expect(trusted.code).toBe(0);
    expect(trusted.stdout).toBe('secure\n');
    expect(trusted.stderr).toMatch(/HTTP\/2/);
    const untrusted = await runClient(runtime, [tlsUrl], 'secure\n');
    expect(untrusted.code).toBe(1);
    expect(lines(untrusted.stderr)).toHaveLength(1);
    const insecure = await runClient(runtime, [tlsUrl, '--insecure'], 'anyway\n');
    expect(insecure.code).toBe(0);
    expect(insecure.stdout).toBe('anyway\n');
  });

  it.each([
    [['--bogus'], '--bogus'],
    [['--transport', 'h3'], '--transport'],
    [['--header', 'no-colon-here'], '--header'],
    [['--protocol'], '--protocol'],
    [['--ca', '/no/such/file.pem'], '--ca'],
    [[], 'URL'],
    [['ftp://example.com/'], 'ws://'],
  ])('bad arguments %j: exit 2, one line naming %s, no stack trace', async (args, named) => {
    const run = await runClient(runtime, args.includes('ftp://example.com/') || args.length === 0 ? args : [url('/echo'), ...args]);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toContain(named);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  });

  it('--help: usage on stdout, exit 0', async () => {
    const run = await runClient(runtime, ['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^h2ws client/);
    for (const flag of ['--protocol', '--header', '--transport', '--show-transport', '--ca', '--insecure']) expect(run.stdout).toContain(flag);
    expect(run.stderr).toBe('');
  });
});
