#!/usr/bin/env node
// Measures the two candidate HTTP clients for h2ws's reverse proxy (the runtime's fetch and
// node:http) under Node, Deno and Bun: a 100 MB download and a 100 MB upload through
// proxy.mjs, each in a fresh proxy process. Reports the time and the proxy's peak RSS
// (VmHWM, Linux) above its RSS at rest, and whether a gzip body arrives byte for byte.
//   node bench/http-client/measure.mjs [MB=100]   (RUNTIMES=node,deno,bun to pick)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MB = Number(process.argv[2] ?? 100);
const SIZE = MB * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const GZ = zlib.gzipSync(Buffer.alloc(100_000, 0x62));

const upstream = http.createServer((req, res) => {
  if (req.url === '/download') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': SIZE });
    let sent = 0;
    const pump = () => {
      while (sent < SIZE) {
        sent += CHUNK.length;
        if (!res.write(CHUNK)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  } else if (req.url === '/gzip') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': GZ.length });
    res.end(GZ);
  } else {
    let n = 0;
    req.on('data', (d) => (n += d.length));
    req.on('end', () => res.end(String(n)));
  }
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamUrl = `http://127.0.0.1:${upstream.address().port}`;

const status = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const command = (runtime) =>
  runtime === 'node' ? [process.execPath, []] : [path.join(ROOT, 'node_modules/.bin', runtime), runtime === 'deno' ? ['run', '-A'] : []];

async function startProxy(runtime, client) {
  const [cmd, args] = command(runtime);
  const proc = spawn(cmd, [...args, path.join(import.meta.dirname, 'proxy.mjs'), client, upstreamUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
  });
  const pid = runtime === 'deno' || runtime === 'bun' ? proc.pid : proc.pid;
  await new Promise((r) => setTimeout(r, 500));
  return { url, pid, rest: status(pid, 'VmRSS'), stop: () => proc.kill('SIGKILL') };
}

function download(url) {
  return new Promise((resolve, reject) => {
    http.get(`${url}/download`, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => resolve(n));
    }).on('error', reject);
  });
}

function upload(url) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(Number(body)));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < SIZE) {
        sent += CHUNK.length;
        if (!req.write(CHUNK)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

function gzipIntact(url) {
  return new Promise((resolve) => {
    http.get(`${url}/gzip`, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve(Buffer.concat(parts).equals(GZ) && res.headers['content-encoding'] === 'gzip'));
    }).on('error', () => resolve(false));
  });
}

const rows = [];
for (const runtime of (process.env.RUNTIMES ?? 'node,deno,bun').split(',')) {
  for (const client of ['fetch', 'http']) {
    const row = { runtime, client };
    for (const [name, run] of [['download', download], ['upload', upload]]) {
      const proxy = await startProxy(runtime, client);
      const t0 = performance.now();
      let bytes;
      try {
        bytes = await run(proxy.url);
      } catch (err) {
        bytes = `error ${err.message}`;
      }
      const ms = performance.now() - t0;
      const peak = status(proxy.pid, 'VmHWM');
      row[name] = { ok: bytes === SIZE, s: +(ms / 1000).toFixed(2), peakMiB: +(peak / 1024).toFixed(0), growthMiB: +((peak - proxy.rest) / 1024).toFixed(0) };
      if (name === 'download') row.gzipIntact = await gzipIntact(proxy.url);
      proxy.stop();
    }
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
console.log(`\n| runtime | client | ${MB} MB download: s / peak RSS / growth (MiB) | ${MB} MB upload: s / peak RSS / growth (MiB) | gzip body intact |`);
console.log('|---|---|---|---|---|');
for (const r of rows) {
  const cell = (x) => (x.ok ? `${x.s} / ${x.peakMiB} / +${x.growthMiB}` : `FAILED (${x.s} s)`);
  console.log(`| ${r.runtime} | ${r.client} | ${cell(r.download)} | ${cell(r.upload)} | ${r.gzipIntact ? 'yes' : 'no'} |`);
}
upstream.close();
process.exit(0);
