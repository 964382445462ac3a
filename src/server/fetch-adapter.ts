import type http from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from '../h2/server.ts';
import { HOP_BY_HOP } from '../handshake/headers.ts';
import { Readable } from 'node:stream';

/** Any `fetch`-style handler: a Hono app's `fetch`, or a plain function. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Builds a WHATWG Request from node-style headers; the body, when any, streams from `body`. */
function toRequest(method: string, url: string, headers: IncomingHttpHeaders, body: Readable | undefined): Request {
  const h = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) h.append(name, v);
    else h.append(name, String(value));
  }
  const hasBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
  return new Request(url, {
    method,
    headers: h,
    body: hasBody ? (Readable.toWeb(body) as unknown as ReadableStream<Uint8Array>) : null,
    ...(hasBody ? { duplex: 'half' } : {}),
  } as RequestInit);
}

function responseHeaders(response: Response): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (HOP_BY_HOP.has(name)) return; // RFC 9113 §8.2.2
    if (name === 'set-cookie') return;
    out[name] = value;
  });
  const cookies = response.headers.getSetCookie?.() ?? [];
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return out;
}

async function writeBody(response: Response, sink: NodeJS.WritableStream & { destroyed?: boolean }): Promise<void> {
  if (response.body === null) {
    sink.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || sink.destroyed) break;
      if (!sink.write(value)) await new Promise((resolve) => sink.once('drain', resolve));
    }
  } finally {
    reader.releaseLock();
  }
  sink.end();
}

function failed(err: unknown): Response {
  return new Response(`internal error: ${(err as Error)?.message ?? err}\n`, { status: 500 });
}

/** Serves a plain (non-CONNECT) HTTP/2 request through a fetch handler. */
export async function serveH2(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, scheme: string, fetch: FetchHandler): Promise<void> {
  const method = String(headers[':method']);
  const url = `${scheme}://${headers[':authority'] ?? 'localhost'}${headers[':path'] ?? '/'}`;
  let response: Response;
  try {
    response = await fetch(toRequest(method, url, headers, stream));
  } catch (err) {
    response = failed(err);
  }
  if (stream.destroyed || stream.closed) return;
  stream.respond({ ':status': response.status, ...responseHeaders(response) });
  if (method === 'HEAD') {
    stream.end();
    return;
  }
  await writeBody(response, stream).catch(() => stream.destroy());
}

/** Serves a plain HTTP/1.1 request through a fetch handler. */
export async function serveH1(req: http.IncomingMessage, res: http.ServerResponse, scheme: string, fetch: FetchHandler): Promise<void> {
  const url = `${scheme}://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`;
  let response: Response;
  try {
    response = await fetch(toRequest(req.method ?? 'GET', url, req.headers, req));
  } catch (err) {
    response = failed(err);
  }
  res.writeHead(response.status, responseHeaders(response));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await writeBody(response, res).catch(() => res.destroy());
}
