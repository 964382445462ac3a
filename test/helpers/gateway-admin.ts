/** Reading a running gateway from outside: its /metrics, its /status snapshot, its certificate. */
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import type { StatusSnapshot } from '../../src/server/admin.ts';

/** A plain GET on a fresh HTTP/1.1 connection, so a scrape never holds a session open. */
export function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const req = client.get(url, { agent: false, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** The sum of a metric's samples whose labels include `labels` (`{worker="1"}` style pairs). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!(line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
    const brace = line.lastIndexOf('}');
    const labelText = brace === -1 ? '' : line.slice(name.length + 1, brace);
    if (!wanted.every((pair) => labelText.split(',').includes(pair))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** GET /metrics. */
export async function scrape(url: string): Promise<string> {
  const { status, body } = await get(`${url}metrics`);
  if (status !== 200) throw new Error(`GET /metrics answered ${status}`);
  return body;
}

/** Scrapes until `ready` holds, or returns the last scrape after `ms`. */
export async function scrapeUntil(url: string, ready: (text: string) => boolean, ms = 10_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await scrape(url);
    if (ready(text) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The first snapshot the status page's WebSocket pushes (over HTTP/1.1). */
export function status(url: string): Promise<StatusSnapshot> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}status/ws`, { rejectUnauthorized: false });
    const timer = setTimeout(() => reject(new Error('no status snapshot within 5 s')), 5_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolve(JSON.parse(String(data)) as StatusSnapshot);
      ws.close();
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The SHA-256 fingerprint of the certificate a fresh TLS connection is shown. */
export function fingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** The fingerprint of a PEM certificate, as {@link fingerprint} reports it. */
export function pemFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** What a new TCP connection to the port meets: "connected", or the error code (ECONNREFUSED once a drain closed the listener). */
export function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}
