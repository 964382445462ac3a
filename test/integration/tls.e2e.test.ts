/**
 * The TLS listener, with `bin/h2ws.js` spawned under Node, Deno and Bun in turn:
 * ALPN h2 and http/1.1 (RFC 7301), TLS 1.2 as the floor, extended CONNECT and HTTP/1.1
 * upgrades over TLS bridged to a real `ws` backend, a certificate from --tls-cert/--tls-key,
 * and slowloris connections dropped after timeouts.handshakeMs (TLS and cleartext alike).
 */
import crypto from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type EchoBackend, startEchoBackend } from '../helpers/backends.ts';
import { type GatewayProcess, RUNTIMES, startGateway } from '../helpers/gateway-process.ts';
import { clientFrame, connectH2, FrameSink, openTunnel } from '../helpers/h2-client.ts';

const H2 = http2.constants;
const HANDSHAKE_MS = 500;

let echo: EchoBackend;
let certPem: string;
let certFile: string;
let keyFile: string;

beforeAll(async () => {
  echo = await startEchoBackend();
  // selfsigned 5 has no `days` option; notAfterDate sets a one-day lifetime.
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 86_400_000),
  });
  certPem = pems.cert;
  const dir = mkdtempSync(path.join(tmpdir(), 'h2ws-tls-'));
  certFile = path.join(dir, 'cert.pem');
  keyFile = path.join(dir, 'key.pem');
  writeFileSync(certFile, pems.cert);
  writeFileSync(keyFile, pems.private);
});

afterAll(async () => {
  await echo?.close();
});

/** A TLS handshake against the gateway; resolves with the socket once it is secure. */
function tlsConnect(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
  });
}

/**
 * Opens a TCP connection that never sends a byte (or only `firstBytes`, then stalls); resolves with how long the server took to
 * close it, or rejects when it is still open after `limitMs`.
 */
function silentConnectionLifetime(port: number, limitMs: number, firstBytes?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    if (firstBytes !== undefined) socket.write(firstBytes);
    let openedAt = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the gateway kept a silent connection open for ${limitMs} ms`));
    }, limitMs);
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.once('connect', () => (openedAt = Date.now()));
    socket.once('close', () => {
      clearTimeout(timer);
      if (openedAt === 0) reject(new Error('could not connect'));
      else resolve(Date.now() - openedAt);
    });
  });
}

describe.each(RUNTIMES)('TLS listener under %s', (runtime) => {
  let selfSigned: GatewayProcess;
  let fromFiles: GatewayProcess;
  let cleartext: GatewayProcess;

  beforeAll(async () => {
    [selfSigned, fromFiles, cleartext] = await Promise.all([
      startGateway(runtime, ['--self-signed', '--listen', '127.0.0.1:0', '--backend', echo.url], { timeouts: { handshakeMs: HANDSHAKE_MS } }),
      startGateway(runtime, ['--tls-cert', certFile, '--tls-key', keyFile, '--listen', '127.0.0.1:0', '--backend', echo.url]),
      startGateway(runtime, ['--listen', '127.0.0.1:0', '--backend', echo.url], { timeouts: { handshakeMs: HANDSHAKE_MS } }),
    ]);
  });

  afterAll(async () => {
    const codes = await Promise.all([selfSigned?.stop(), fromFiles?.stop(), cleartext?.stop()]);
    expect(codes, `stderr:\n${selfSigned?.stderr()}\n${fromFiles?.stderr()}\n${cleartext?.stderr()}`).toEqual([0, 0, 0]);
  });

  it('--self-signed prints an https:// URL (and --tls-cert/--tls-key too; no TLS option: http://)', () => {
    expect(selfSigned.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(selfSigned.stdout().split('\n')[0]).toMatch(/^h2ws listening on https:\/\//);
    expect(fromFiles.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(cleartext.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('ALPN: a client offering h2 and http/1.1 gets h2; one offering only http/1.1 gets http/1.1', async () => {
    const both = await tlsConnect(selfSigned.port, { ALPNProtocols: ['h2', 'http/1.1'] });
    expect(both.alpnProtocol).toBe('h2');
    both.destroy();
    const h1Only = await tlsConnect(selfSigned.port, { ALPNProtocols: ['http/1.1'] });
    expect(h1Only.alpnProtocol).toBe('http/1.1');
    h1Only.destroy();
  });

  it('refuses a client whose highest version is TLS 1.1 (the server answers with an alert)', async () => {
    // SECLEVEL=0 lets this client actually offer TLS 1.1, so the refusal comes from the
    // gateway (an alert), not from the client failing to build a ClientHello.
    const err = await tlsConnect(selfSigned.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }).then(
      (socket) => {
        socket.destroy();
        throw new Error(`handshake succeeded with ${socket.getProtocol()}`);
      },
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err.code, err.message).not.toBe('ERR_SSL_NO_PROTOCOLS_AVAILABLE');
    // protocol_version (OpenSSL, BoringSSL) or handshake_failure (rustls under Deno): a server alert.
    expect(`${err.code} ${err.message}`).toMatch(/ALERT|ECONNRESET|socket disconnected/i);
  });

  it('a TLS 1.2 client is accepted (the floor is 1.2, not 1.3)', async () => {
    const socket = await tlsConnect(selfSigned.port, { maxVersion: 'TLSv1.2', ALPNProtocols: ['h2'] });
    expect(socket.getProtocol()).toBe('TLSv1.2');
    expect(socket.alpnProtocol).toBe('h2');
    socket.destroy();
  });

  it('extended CONNECT over TLS (ALPN h2): 200, echoes through a real ws backend, which sees x-forwarded-proto https and via 2 h2ws', async () => {
    const client = await connectH2(selfSigned.url);
    try {
      expect(client.session.encrypted).toBe(true);
      expect(client.session.alpnProtocol).toBe('h2');
      expect(client.settings.enableConnectProtocol).toBe(true);
      const before = echo.requests.length;
      const res = await openTunnel(client, '/tls-h2?n=1', { ':scheme': 'https' });
      expect(res.status).toBe(200);
      const sink = new FrameSink(false);
      res.stream.on('data', (d: Buffer) => sink.write(d));
      res.stream.write(clientFrame('over tls'));
      await sink.until(() => sink.messages.length >= 1);
      expect(sink.messages[0]).toBe('over tls');
      expect(echo.requests.length).toBe(before + 1);
      const req = echo.requests.at(-1)!;
      expect(req.url).toBe('/tls-h2?n=1');
      expect(req.headers['x-forwarded-proto']).toBe('https');
      expect(req.headers.via).toBe('2 h2ws');
      res.stream.close(H2.NGHTTP2_CANCEL);
    } finally {
      await client.close();
    }
  });

  it('HTTP/1.1 upgrade over TLS: ws opens wss://, echoes, and the backend sees via 1.1 h2ws and x-forwarded-proto https', async () => {
    const before = echo.requests.length;
    const ws = new WebSocket(`wss://127.0.0.1:${selfSigned.port}/tls-h1`, { rejectUnauthorized: false });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
      });
      const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
      ws.send('hello over wss');
      expect(await reply).toBe('hello over wss');
      expect(echo.requests.length).toBe(before + 1);
      const req = echo.requests.at(-1)!;
      expect(req.url).toBe('/tls-h1');
      expect(req.headers.via).toBe('1.1 h2ws');
      expect(req.headers['x-forwarded-proto']).toBe('https');
    } finally {
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.close(1000);
      await closed;
    }
  });

  it('--tls-cert/--tls-key: the client sees exactly that certificate', async () => {
    const expected = new crypto.X509Certificate(certPem).fingerprint256;
    const socket = await tlsConnect(fromFiles.port, { ALPNProtocols: ['h2', 'http/1.1'] });
    try {
      expect(socket.getPeerCertificate().fingerprint256).toBe(expected);
      expect(socket.alpnProtocol).toBe('h2');
    } finally {
      socket.destroy();
    }
    // The self-signed gateway made its own, different certificate.
    const other = await tlsConnect(selfSigned.port);
    try {
      expect(other.getPeerCertificate().fingerprint256).not.toBe(expected);
    } finally {
      other.destroy();
    }
  });

  it('--tls-cert/--tls-key: extended CONNECT works over the configured certificate', async () => {
    const client = await connectH2(fromFiles.url);
    try {
      const res = await openTunnel(client, '/files', { ':scheme': 'https' });
      expect(res.status).toBe(200);
      const sink = new FrameSink(false);
      res.stream.on('data', (d: Buffer) => sink.write(d));
      res.stream.write(clientFrame('cert from files'));
      await sink.until(() => sink.messages.length >= 1);
      expect(sink.messages[0]).toBe('cert from files');
      res.stream.close(H2.NGHTTP2_CANCEL);
    } finally {
      await client.close();
    }
  });

  it('slowloris on the TLS port: a connection that sends nothing is closed after timeouts.handshakeMs', async () => {
    const lifetime = await silentConnectionLifetime(selfSigned.port, 3_000);
    expect(lifetime).toBeGreaterThanOrEqual(HANDSHAKE_MS - 100);
    expect(lifetime).toBeLessThan(3_000);
  });

  it('slowloris on the TLS port: an HTTP/1.1 client that stalls inside its request head after the handshake is closed after timeouts.handshakeMs', async () => {
    const socket = await tlsConnect(selfSigned.port, { ALPNProtocols: ['http/1.1'] });
    const lifetime = await new Promise<number>((resolve, reject) => {
      const startedAt = Date.now();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('the gateway kept a stalled HTTP/1.1 head open for 3000 ms'));
      }, 3_000);
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(Date.now() - startedAt);
      });
      socket.write('GET / HTTP/1.1\r\nHost: gateway.test\r\n');
    });
    expect(lifetime).toBeGreaterThanOrEqual(HANDSHAKE_MS - 100);
    expect(lifetime).toBeLessThan(3_000);
  });

  it('slowloris on the cleartext port: a connection that sends nothing is closed after timeouts.handshakeMs', async () => {
    const lifetime = await silentConnectionLifetime(cleartext.port, 3_000);
    expect(lifetime).toBeGreaterThanOrEqual(HANDSHAKE_MS - 100);
    expect(lifetime).toBeLessThan(3_000);
  });

  it('slowloris on the cleartext port: a client that stalls inside the h2c preface is closed after timeouts.handshakeMs', async () => {
    const lifetime = await silentConnectionLifetime(cleartext.port, 3_000, 'PRI * HTTP/2.0\r\n');
    expect(lifetime).toBeGreaterThanOrEqual(HANDSHAKE_MS - 100);
    expect(lifetime).toBeLessThan(3_000);
  });

  it('slowloris on the cleartext port: a client that stalls inside an HTTP/1.1 request head is closed after timeouts.handshakeMs', async () => {
    const lifetime = await silentConnectionLifetime(cleartext.port, 3_000, 'GET / HTTP/1.1\r\nHost: gateway.test\r\n');
    expect(lifetime).toBeGreaterThanOrEqual(HANDSHAKE_MS - 100);
    expect(lifetime).toBeLessThan(3_000);
  });
});
