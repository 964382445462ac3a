/** The library entry point (mod.ts) in-process, and the examples, under each runtime. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createGateway, ErrorCode, H2wsError, parseConfigFile } from '../../mod.ts';
import { start } from '../../examples/bridge-legacy-ws.ts';
import { startEchoBackend } from '../helpers/backends.ts';
import { runtimeCommand } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, FrameSink, once, openTunnel } from '../helpers/h2-client.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('createGateway (library)', () => {
  it('bridges extended CONNECT and reports each handshake to onTunnel', async () => {
    const echo = await startEchoBackend();
    const events: string[] = [];
    const closed: Array<{ path: string; transport: string; up: number; down: number; aborted: string | undefined }> = [];
    const errors: Array<{ code: string; status: number | undefined }> = [];
    const gateway = await createGateway({
      listen: '127.0.0.1:0',
      routes: { '/echo': echo.url },
      log: () => {},
      onTunnelClosed: (e) => closed.push({ path: e.path, transport: e.transport, up: e.bytesToBackend, down: e.bytesToClient, aborted: e.aborted }),
      onTunnel: (e) => {
        events.push(`${e.transport} ${e.path} ${e.outcome}`);
        if (e.error) errors.push({ code: e.error.code, status: e.error.status });
      },
    });
    try {
      expect(gateway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const client = await connectH2(gateway.url);
      const res = await openTunnel(client, '/echo');
      expect(res.status).toBe(200);
      const sink = new FrameSink(false);
      res.stream.on('data', (d: Buffer) => sink.write(d));
      res.stream.write(clientFrame('lib'));
      await sink.until(() => sink.messages.includes('lib'));
      expect((await openTunnel(client, '/nope')).status).toBe(404);
      expect(events).toEqual(['h2 /echo ok', 'h2 /nope rejected']);
      expect(errors).toEqual([{ code: 'H2WS_ERR_HANDSHAKE', status: 404 }]);
      res.stream.end();
      await client.close();
    } finally {
      await gateway.close();
      await echo.close();
    }
    expect(gateway.openTunnels).toBe(0);
    // One closed event with the bytes each way: 9 B masked frame up, the 3 B echo + 2 B header down.
    expect(closed).toEqual([{ path: '/echo', transport: 'h2', up: 9, down: 5, aborted: undefined }]);
  });

  it('a bad field throws H2wsError naming it', async () => {
    const attempt = createGateway({ listen: '127.0.0.1:0', routes: { '/x': 'ftp://not-ws' } });
    await expect(attempt).rejects.toMatchObject({ code: ErrorCode.CONFIG, field: 'routes./x' });
    await expect(createGateway({ listen: '127.0.0.1:0' })).rejects.toBeInstanceOf(H2wsError);
    expect(() => parseConfigFile({ timeouts: { idleMs: -1 } })).toThrow(/timeouts\.idleMs/);
  });

  it('the example config file is valid', () => {
    const json = JSON.parse(readFileSync(path.join(ROOT, 'examples/gateway.config.json'), 'utf8'));
    expect(parseConfigFile(json).routes).toEqual({ '/chat': 'ws://127.0.0.1:9001', '/feed': 'ws://127.0.0.1:9002/v2/feed' });
  });
});

describe('examples/bridge-legacy-ws.ts', () => {
  it('runs in-process on Node: an HTTP/1.1 client reaches the legacy server through h2ws', async () => {
    const { gateway, stop } = await start();
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}chat`);
    try {
      const greeting = await once<Buffer>(ws, 'message');
      expect(String(greeting)).toBe('hello from the legacy server; you came via 1.1 h2ws');
    } finally {
      ws.terminate();
      await stop();
    }
  });

  it.each(['deno', 'bun'] as const)('runs unchanged under %s as a script', async (runtime) => {
    const { cmd } = runtimeCommand(runtime);
    const args = runtime === 'deno' ? ['run', '-A', 'examples/bridge-legacy-ws.ts'] : ['examples/bridge-legacy-ws.ts'];
    const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    try {
      const deadline = Date.now() + 20_000;
      while (!/listening on (\S+)/.test(out)) {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`example did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = /listening on (\S+)/.exec(out)![1]!;
      const client = await connectH2(new URL(url).origin);
      const res = await openTunnel(client, '/chat');
      expect(res.status).toBe(200);
      const sink = new FrameSink(false);
      res.stream.on('data', (d: Buffer) => sink.write(d));
      await sink.until(() => sink.messages.length > 0);
      expect(sink.messages[0]).toBe('hello from the legacy server; you came via 2 h2ws');
      res.stream.end();
      await client.close();
    } finally {
      proc.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
