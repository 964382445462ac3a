/**
 * Issue 15 items 1 and 4 on the wire, with `bin/h2ws.js` under Node, Deno and Bun in turn:
 * the path bypasses past routing and access rules (docs/operations.md, "Request paths"), a repeated Host,
 * and forwarding fields a backend might trust (docs/operations.md, "Forwarding headers"). Each test sends
 * the offending input over h2 (RFC 8441) and HTTP/1.1 and asserts what the client gets and
 * what the backend sees, or that the backend saw nothing.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawBackend, type RawConnection, startRawBackend } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, runCli, startGateway, writeConfig } from '../helpers/gateway-process.ts';
import { connectH2, type H2Client, openTunnel } from '../helpers/h2-client.ts';

const TOKEN = 'sekrit-token';
const H1_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** The bypasses: none may reach a backend; 401 where they normalize to /internal, 400 where they cannot be normalized. */
const BYPASSES: ReadonlyArray<readonly [string, 400 | 401]> = [
  ['/chat/../internal', 401],
  ['/%69nternal', 401],
  ['//internal', 401],
  ['/x/../internal/x', 401],
  ['/feed/../../admin/x', 400],
  ['/%2E%2E/internal', 400],
  ['/chat/%2e%2e/internal', 400],
  ['/internal%2Fx', 400],
  ['/x%5C..%5Cinternal', 400],
  ['/x%00', 400],
  ['/x%zz', 400],
];

/** Sends an HTTP/1.1 upgrade and resolves with the response head (the socket is then destroyed). */
function h1Upgrade(port: number, target: string, extra: string[] = [], host: string[] = ['gateway.test']): Promise<{ status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response to ${target}: ${JSON.stringify(text)}`));
    }, 10_000);
    socket.on('data', (d: string) => {
      text += d;
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(text.split(' ')[1]), head: text.slice(0, end) });
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (text.indexOf('\r\n\r\n') === -1) reject(new Error(`connection closed without a response to ${target}: ${JSON.stringify(text)}`));
    });
    socket.once('connect', () =>
      socket.write(
        [
          `GET ${target} HTTP/1.1`,
          ...host.map((h) => `Host: ${h}`),
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${H1_KEY}`,
          'Sec-WebSocket-Version: 13',
          ...extra,
        ].join('\r\n') + '\r\n\r\n',
        'latin1',
      ),
    );
  });
}

/** Opens an extended CONNECT and, on 200, closes it; resolves with the status (undefined if reset). */
async function h2Open(client: H2Client, path: string, extra: Record<string, string> = {}): Promise<number | undefined> {
  const res = await openTunnel(client, path, extra);
  if (res.status === undefined) return undefined;
  if (res.status !== 200) await res.body();
  res.stream.close();
  return res.status;
}

/** The request line and every field line of a backend's request (names lower-cased, repeats kept). */
function parseHead(conn: RawConnection): { line: string; fields: Array<[string, string]> } {
  const [line, ...rest] = conn.head.split('\r\n');
  return { line: line!, fields: rest.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]) };
}
const all = (fields: Array<[string, string]>, name: string) => fields.filter(([n]) => n === name).map(([, v]) => v);

let dflt: RawBackend;
let feed: RawBackend;

beforeAll(async () => {
  [dflt, feed] = await Promise.all([startRawBackend((c) => c.accept()), startRawBackend((c) => c.accept())]);
});

afterAll(async () => {
  await Promise.all([dflt, feed].map((b) => b?.close()));
});

describe.each(RUNTIMES)('path policy and forwarding headers under %s', (runtime) => {
  /** The config: a default backend, /internal behind a bearer token, /feed → ws://B/v2/feed. */
  let gw: GatewayProcess;
  /** The same, trusting 127.0.0.1 (the test client) as a proxy. */
  let trusting: GatewayProcess;
  let client: H2Client;
  let trustingClient: H2Client;

  beforeAll(async () => {
    const config = {
      backend: dflt.url,
      routes: { '/internal': { backend: dflt.url, access: { bearerToken: TOKEN } }, '/feed': `${feed.url}/v2/feed` },
      timeouts: { drainMs: 1000 },
    };
    [gw, trusting] = await Promise.all([
      startGateway(runtime, ['--listen', '127.0.0.1:0'], config),
      startGateway(runtime, ['--listen', '127.0.0.1:0', '--trusted-proxy', '127.0.0.0/8', '--trusted-proxy', '::1'], config),
    ]);
    [client, trustingClient] = await Promise.all([connectH2(gw.url), connectH2(trusting.url)]);
  });

  afterAll(async () => {
    await Promise.all([client?.close(), trustingClient?.close()]);
    const codes = await Promise.all([gw?.stop(), trusting?.stop()]);
    expect(codes, `gateway stderr:\n${gw?.stderr()}\ntrusting stderr:\n${trusting?.stderr()}`).toEqual([0, 0]);
  });

  describe('route/access bypass through the path (issue 15 item 1)', () => {
    it('baseline: /internal without a token is 401 on both transports', async () => {
      expect(await h2Open(client, '/internal')).toBe(401);
      expect((await h1Upgrade(gw.port, '/internal')).status).toBe(401);
    });

    it.each(BYPASSES)('h2: :path %s → %i, and no backend sees it', async (path, status) => {
      const before = dflt.connections.length + feed.connections.length;
      expect(await h2Open(client, path)).toBe(status);
      expect(dflt.connections.length + feed.connections.length).toBe(before);
    });

    it.each(BYPASSES)('HTTP/1.1: GET %s → %i, and no backend sees it', async (path, status) => {
      const before = dflt.connections.length + feed.connections.length;
      expect((await h1Upgrade(gw.port, path)).status).toBe(status);
      expect(dflt.connections.length + feed.connections.length).toBe(before);
    });

    it.each([
      ['/chat/../internal/./x?q=/../1', 'GET /internal/x?q=/../1 HTTP/1.1'],
      ['/%69nternal', 'GET /internal HTTP/1.1'],
      ['//internal//x/', 'GET /internal/x/ HTTP/1.1'],
      ['/a/b/../%7Ecd%3f', 'GET /a/~cd%3F HTTP/1.1'],
    ])('with the token, %s reaches the default backend normalized: %s (h2 and HTTP/1.1)', async (path, line) => {
      const auth = { authorization: `Bearer ${TOKEN}` };
      const h2Next = dflt.next();
      expect(await h2Open(client, path, auth)).toBe(200);
      expect(parseHead(await h2Next).line).toBe(line);
      const h1Next = dflt.next();
      expect((await h1Upgrade(gw.port, path, [`Authorization: Bearer ${TOKEN}`])).status).toBe(101);
      expect(parseHead(await h1Next).line).toBe(line);
    });

    it.each([
      ['/feed/a/../b//c?x=1', 'GET /v2/feed/b/c?x=1 HTTP/1.1'],
      ['/feed/./%61', 'GET /v2/feed/a HTTP/1.1'],
      ['/x/../feed', 'GET /v2/feed HTTP/1.1'],
    ])('%s stays under the route\'s base path: the backend sees %s (h2 and HTTP/1.1)', async (path, line) => {
      const h2Next = feed.next();
      expect(await h2Open(client, path)).toBe(200);
      expect(parseHead(await h2Next).line).toBe(line);
      const h1Next = feed.next();
      expect((await h1Upgrade(gw.port, path)).status).toBe(101);
      expect(parseHead(await h1Next).line).toBe(line);
    });

    it('prefix matching is case-sensitive: /INTERNAL goes to the default route, unguarded', async () => {
      const next = dflt.next();
      expect(await h2Open(client, '/INTERNAL')).toBe(200);
      expect(parseHead(await next).line).toBe('GET /INTERNAL HTTP/1.1');
    });
  });

  describe('headers a backend might trust (issue 15 item 4)', () => {
    const SPOOF = { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6;proto=https', 'x-real-ip': '6.6.6.6', 'x-forwarded-proto': 'https' };
    const SPOOF_LINES = ['X-Forwarded-For: 6.6.6.6', 'Forwarded: for=6.6.6.6;proto=https', 'X-Real-IP: 6.6.6.6', 'X-Forwarded-Proto: https'];

    it('HTTP/1.1 upgrade with two Host fields → 400 (RFC 9112 §3.2), no backend connection', async () => {
      const before = dflt.connections.length;
      expect((await h1Upgrade(gw.port, '/x', [], ['a.example', 'b.example'])).status).toBe(400);
      expect((await h1Upgrade(gw.port, '/x', [], ['a.example', 'a.example'])).status).toBe(400);
      expect(dflt.connections.length).toBe(before);
    });

    it.each(['h2', 'h1'] as const)('%s, untrusted client: X-Forwarded-For and Forwarded are h2ws\'s view only, X-Real-IP is gone', async (transport) => {
      const next = dflt.next();
      if (transport === 'h2') expect(await h2Open(client, '/who', SPOOF)).toBe(200);
      else expect((await h1Upgrade(gw.port, '/who', SPOOF_LINES)).status).toBe(101);
      const { fields } = parseHead(await next);
      expect(all(fields, 'x-forwarded-for')).toEqual(['127.0.0.1']);
      expect(all(fields, 'forwarded')).toEqual(['for=127.0.0.1;proto=http']);
      expect(all(fields, 'x-real-ip')).toEqual([]);
      expect(all(fields, 'x-forwarded-proto')).toEqual(['http']);
      expect(fields.map(([, v]) => v).join('\n')).not.toContain('6.6.6.6');
    });

    it.each(['h2', 'h1'] as const)('%s, no forwarding fields sent: h2ws adds its own', async (transport) => {
      const next = dflt.next();
      if (transport === 'h2') expect(await h2Open(client, '/who')).toBe(200);
      else expect((await h1Upgrade(gw.port, '/who')).status).toBe(101);
      const { fields } = parseHead(await next);
      expect([all(fields, 'x-forwarded-for'), all(fields, 'forwarded'), all(fields, 'x-real-ip')]).toEqual([['127.0.0.1'], ['for=127.0.0.1;proto=http'], []]);
    });

    it.each(['h2', 'h1'] as const)('%s, from a trusted proxy: its fields are kept and h2ws appends its hop', async (transport) => {
      const next = dflt.next();
      if (transport === 'h2') expect(await h2Open(trustingClient, '/who', SPOOF)).toBe(200);
      else expect((await h1Upgrade(trusting.port, '/who', SPOOF_LINES)).status).toBe(101);
      const { fields } = parseHead(await next);
      expect(all(fields, 'x-forwarded-for')).toEqual(['6.6.6.6, 127.0.0.1']);
      expect(all(fields, 'forwarded')).toEqual(['for=6.6.6.6;proto=https, for=127.0.0.1;proto=http']);
      expect(all(fields, 'x-real-ip')).toEqual(['6.6.6.6']);
      expect(all(fields, 'x-forwarded-proto')).toEqual(['http']);
    });
  });

  describe('the trustedProxies option on the command line', () => {
    it('--trusted-proxy with a host name: exit 2, one line naming the flag', async () => {
      const r = await runCli(runtime, ['--backend', 'ws://127.0.0.1:1', '--trusted-proxy', 'proxy.example']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('--trusted-proxy');
    });

    it('config trustedProxies with a bad CIDR: exit 2, one line naming the field', async () => {
      const r = await runCli(runtime, ['--config', writeConfig({ backend: 'ws://127.0.0.1:1', trustedProxies: ['10.0.0.0/8', '10.0.0.0/99'] })]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('trustedProxies.1');
    });
  });
});
