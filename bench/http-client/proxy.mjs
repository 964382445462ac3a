// One minimal streaming reverse proxy, run under Node, Deno or Bun, forwarding with either the
// runtime's fetch or node:http's client (argv[2]: "fetch" or "http"). Used by measure.mjs to
// choose the HTTP upstream client of h2ws's reverse proxy. Prints "listening on URL".
import http from 'node:http';
import { Readable } from 'node:stream';

const [client, upstream] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true });

async function viaFetch(req, res) {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const response = await fetch(upstream + req.url, {
    method: req.method,
    headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' },
    body: hasBody ? Readable.toWeb(req) : null,
    ...(hasBody && { duplex: 'half' }),
    redirect: 'manual',
  });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value)) await new Promise((r) => res.once('drain', r));
  }
  res.end();
}

function viaHttp(req, res) {
  const u = new URL(upstream + req.url);
  const out = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: req.method, headers: req.headers, agent }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  });
  out.on('error', () => res.destroy());
  req.pipe(out);
}

const server = http.createServer((req, res) => {
  if (client === 'fetch') viaFetch(req, res).catch(() => res.destroy());
  else viaHttp(req, res);
});
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
