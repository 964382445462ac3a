/**
 * `--static DIR` under Node, Deno and Bun (docs/http-proxy.md): content types, ETag and
 * Last-Modified with 304 (RFC 9110 §13), single ranges with 206 and 416 (RFC 9110 §14),
 * directories by their index.html, and no way out of the directory: "..", encoded dots and
 * slashes, hidden files and symlinks that point outside are all refused. A route with both
 * files and an upstream serves the file when there is one and proxies otherwise.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, RUNTIMES, runCli, startGateway } from '../helpers/gateway-process.ts';
import { connectH2, type H2Client } from '../helpers/h2-client.ts';
import { h1Request, h2Request, json } from '../helpers/http-clients.ts';
import { type HttpUpstream, startHttpUpstream } from '../helpers/http-upstream.ts';

const BINARY = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 255));
const INDEX = '<!doctype html><title>h2ws static</title><script src="app.js"></script>';

let root: string;
let upstream: HttpUpstream;
beforeAll(async () => {
  upstream = await startHttpUpstream();
  const base = mkdtempSync(path.join(tmpdir(), 'h2ws-static-'));
  root = path.join(base, 'public');
  mkdirSync(path.join(root, 'docs'), { recursive: true });
  mkdirSync(path.join(root, 'mixed'));
  writeFileSync(path.join(root, 'index.html'), INDEX);
  writeFileSync(path.join(root, 'app.js'), 'console.log("h2ws");\n');
  writeFileSync(path.join(root, 'style.css'), 'body { margin: 0 }\n');
  writeFileSync(path.join(root, 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(path.join(root, 'data.bin'), BINARY);
  writeFileSync(path.join(root, 'notes.unknownext'), 'x');
  writeFileSync(path.join(root, 'docs', 'index.html'), '<p>docs</p>');
  writeFileSync(path.join(root, 'mixed', 'here.txt'), 'from disk\n');
  writeFileSync(path.join(root, '.env'), 'SECRET=1\n');
  // Outside the served directory: reachable only by escaping it.
  writeFileSync(path.join(base, 'secret.txt'), 'outside\n');
  mkdirSync(path.join(base, 'private'));
  writeFileSync(path.join(base, 'private', 'key.txt'), 'outside too\n');
  symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link-out.txt'));
  symlinkSync(path.join(base, 'private'), path.join(root, 'dir-out'));
  symlinkSync(path.join(root, 'app.js'), path.join(root, 'link-in.js'));
});
afterAll(async () => {
  await upstream?.close();
});

/** The status line of a raw HTTP/1.1 request, sent byte for byte (clients would normalize the path first). */
function rawStatus(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

describe.each(RUNTIMES)('static files under %s', (runtime) => {
  let gw: GatewayProcess;
  let client: H2Client;
  const get = (p: string, headers: Record<string, string> = {}, method = 'GET') => h2Request(client.session, { path: p, headers, method });

  beforeAll(async () => {
    gw = await startGateway(runtime, ['--listen', '127.0.0.1:0', '--static', root], {
      routes: { '/mixed': { static: path.join(root, 'mixed'), http: upstream.url } },
      timeouts: { drainMs: 1000 },
    });
    client = await connectH2(gw.url);
  });
  afterAll(async () => {
    await client?.close();
    expect(await gw?.stop()).toBe(0);
  });

  it('serves files with their content types, length, validators and Accept-Ranges', async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.body.toString()).toBe(INDEX);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['content-length']).toBe(String(INDEX.length));
    expect(index.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(new Date(String(index.headers['last-modified'])).getTime()).not.toBeNaN();
    expect(index.headers['accept-ranges']).toBe('bytes');
    const types = await Promise.all(['/app.js', '/style.css', '/logo.svg', '/data.bin', '/notes.unknownext', '/docs/'].map(async (p) => [p, (await get(p)).headers['content-type']]));
    expect(Object.fromEntries(types)).toEqual({
      '/app.js': 'text/javascript; charset=utf-8',
      '/style.css': 'text/css; charset=utf-8',
      '/logo.svg': 'image/svg+xml; charset=utf-8',
      '/data.bin': 'application/octet-stream',
      '/notes.unknownext': 'application/octet-stream',
      '/docs/': 'text/html; charset=utf-8',
    });
    expect((await get('/data.bin')).body.equals(BINARY)).toBe(true);
    // Over HTTP/1.1 too.
    const h1 = await h1Request(gw.url, { path: '/app.js' });
    expect([h1.status, h1.headers['content-type'], h1.body.toString()]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log("h2ws");\n']);
  });

  it('HEAD: the same fields, no body', async () => {
    const head = await get('/data.bin', {}, 'HEAD');
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '1000', 0]);
  });

  it('304 for a matching If-None-Match or a current If-Modified-Since; 200 when changed', async () => {
    const first = await get('/style.css');
    const etag = String(first.headers.etag);
    const lastModified = String(first.headers['last-modified']);
    const byTag = await get('/style.css', { 'if-none-match': `"nope", ${etag}` });
    expect([byTag.status, byTag.body.length, byTag.headers.etag]).toEqual([304, 0, etag]);
    expect((await get('/style.css', { 'if-modified-since': lastModified })).status).toBe(304);
    expect((await get('/style.css', { 'if-none-match': '"old"' })).status).toBe(200);
    expect((await get('/style.css', { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status).toBe(200);
  });

  it('ranges: 206 with Content-Range, a suffix range, 416 past the end, and If-Range', async () => {
    const part = await get('/data.bin', { range: 'bytes=10-19' });
    expect([part.status, part.headers['content-range'], part.headers['content-length']]).toEqual([206, 'bytes 10-19/1000', '10']);
    expect(part.body.equals(BINARY.subarray(10, 20))).toBe(true);
    const tail = await get('/data.bin', { range: 'bytes=-100' });
    expect([tail.status, tail.headers['content-range']]).toEqual([206, 'bytes 900-999/1000']);
    expect(tail.body.equals(BINARY.subarray(900))).toBe(true);
    const beyond = await get('/data.bin', { range: 'bytes=5000-' });
    expect([beyond.status, beyond.headers['content-range'], beyond.body.length]).toEqual([416, 'bytes */1000', 0]);
    const etag = String(part.headers.etag);
    expect((await get('/data.bin', { range: 'bytes=0-9', 'if-range': etag })).status).toBe(206);
    const stale = await get('/data.bin', { range: 'bytes=0-9', 'if-range': '"changed"' });
    expect([stale.status, stale.body.length]).toEqual([200, 1000]);
    // Several ranges are not served as multipart: the whole file (RFC 9110 §14.2 allows it).
    expect((await get('/data.bin', { range: 'bytes=0-1,5-6' })).status).toBe(200);
  });

  it('a directory without its slash redirects to it; a symlink inside the directory is served', async () => {
    const redirect = await get('/docs?x=1');
    expect([redirect.status, redirect.headers.location]).toEqual([301, '/docs/?x=1']);
    expect((await get('/docs/')).body.toString()).toBe('<p>docs</p>');
    expect((await get('/link-in.js')).status).toBe(200);
  });

  it('no path escapes: "..", encoded dots and slashes, hidden files, symlinks out of the directory', async () => {
    for (const target of ['/../secret.txt', '/docs/../../secret.txt', '/%2e%2e/secret.txt', '/.%2E/secret.txt', '/..%2Fsecret.txt', '/docs%2F..%2F..%2Fsecret.txt', '/..%5Csecret.txt', '/%00']) {
      expect(await rawStatus(gw.port, target), target).toBe(400);
    }
    for (const target of ['/.env', '/%2Eenv', '/link-out.txt', '/dir-out/key.txt', '/missing.txt']) {
      const response = await get(target);
      expect(response.status, target).toBe(404);
      expect(response.body.toString()).not.toMatch(/SECRET|outside/);
    }
  });

  it('only GET and HEAD on a files-only route: 405 with Allow', async () => {
    const post = await get('/app.js', {}, 'POST');
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
  });

  it('files and an upstream on one prefix: the file when it exists, the upstream otherwise', async () => {
    expect((await get('/mixed/here.txt')).body.toString()).toBe('from disk\n');
    const proxied = await get('/mixed/api/items');
    expect(json<{ url: string }>(proxied).url).toBe('/mixed/api/items');
    const post = await h2Request(client.session, { path: '/mixed/here.txt', method: 'POST', body: 'x' });
    expect(json<{ method: string }>(post).method).toBe('POST');
  });
});

describe('a --static directory that does not exist', () => {
  it.each(RUNTIMES)('under %s: one line naming the flag, exit 2', async (runtime) => {
    const result = await runCli(runtime, ['--listen', '127.0.0.1:0', '--static', '/nonexistent/h2ws-static']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('h2ws: static: cannot serve "/nonexistent/h2ws-static" (ENOENT); give an existing directory\n');
  });
});
