import type http from 'node:http';
import { H2ErrorCode } from '../h2/error-codes.ts';
import type { RequestHead } from '../h2/field-validation.ts';
import type { H2Stream } from '../h2/stream.ts';
import { HOP_BY_HOP } from '../handshake/headers.ts';
import { requestPauseLeaksSocket } from '../runtime/detect.ts';
import { readableBody } from './readable-body.ts';

type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Any `fetch`-style handler: a Hono app's `fetch`, or a plain function. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Builds a WHATWG Request from node-style headers; the body, when any, streams from `body`. */
function toRequest(method: string, url: string, headers: IncomingHeaders, body: () => ReadableStream<Uint8Array>): Request {
  const h = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    // RFC 9113 §8.2.3: split cookie fields are joined with "; ", not the ", " of other lists.
    if (Array.isArray(value)) {
      if (name === 'cookie') h.append(name, value.join('; '));
      else for (const v of value) h.append(name, v);
    }
    else h.append(name, String(value));
  }
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(url, {
    method,
    headers: h,
    body: hasBody ? body() : null,
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

/**
 * A request body as a Web stream, with backpressure: when the consumer's queue is full the
 * h2 stream is paused, which stops its WINDOW_UPDATEs (RFC 9113 §5.2).
 */
function requestBody(stream: H2Stream, ended: boolean): ReadableStream<Uint8Array> {
  let done = ended;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (ended) {
          controller.close();
          return;
        }
        stream.onData = (chunk) => {
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 1) <= 0) stream.pause();
        };
        stream.onEnd = () => {
          if (done) return;
          done = true;
          controller.close();
        };
        stream.onClose = (close) => {
          if (done || close.code === undefined) return;
          done = true;
          controller.error(new Error(`the client reset the request (RST_STREAM ${close.code})`));
        };
      },
      pull() {
        stream.resume();
      },
      cancel() {
        done = true;
        // The application does not want the rest: stop the upload (RFC 9113 §8.1: a server
        // may answer before the request is complete, then reset with NO_ERROR).
        if (stream.headersSent) return;
        stream.pause();
      },
    },
    { highWaterMark: 16 },
  );
}

/** Writes a response body to an h2 stream, waiting for the stream to drain when its buffer is full. */
async function writeH2Body(response: Response, stream: H2Stream): Promise<void> {
  if (response.body === null) {
    stream.end();
    return;
  }
  const reader = response.body.getReader();
  let closed = stream.closed;
  let wake: (() => void) | undefined;
  const previous = stream.onClose;
  stream.onClose = (close) => {
    closed = true;
    previous?.(close);
    wake?.();
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || closed) break;
      if (!stream.write(value)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          stream.onDrain = resolve;
        });
        wake = undefined;
        if (closed) break;
      }
    }
  } finally {
    if (closed) void reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  if (!closed) {
    stream.end();
    // RFC 9113 §8.1: the response is complete; a request body the application never read is
    // not waited for: NO_ERROR tells the client to stop sending it.
    if (!stream.remoteEnded) stream.reset(H2ErrorCode.NO_ERROR);
  }
}

/** Serves a plain (non-CONNECT) HTTP/2 request through a fetch handler. */
export async function serveH2(stream: H2Stream, head: RequestHead, _endStream: boolean, scheme: string, fetch: FetchHandler): Promise<void> {
  // The body has ended only once END_STREAM is delivered: a stream announced with END_STREAM
  // seen may still hold DATA that arrived in the same read (`remoteEnded` is false then).
  const { method } = head;
  const url = `${scheme}://${head.authority ?? (typeof head.headers.host === 'string' ? head.headers.host : 'localhost')}${head.path ?? '/'}`;
  let response: Response;
  try {
    response = await fetch(toRequest(method, url, head.headers, () => requestBody(stream, stream.remoteEnded)));
  } catch (err) {
    response = failed(err);
  }
  if (stream.closed) {
    void response.body?.cancel().catch(() => {});
    return;
  }
  stream.respond({ ':status': response.status, ...responseHeaders(response) });
  if (method === 'HEAD') {
    void response.body?.cancel().catch(() => {});
    stream.end();
  } else {
    await writeH2Body(response, stream).catch(() => stream.reset(H2ErrorCode.INTERNAL_ERROR));
  }
  // Resolves once the client has the whole response (or the stream is gone): a graceful
  // shutdown waits for this before it closes the connection.
  await untilClosed(stream);
}

function untilClosed(stream: H2Stream): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => {
    const previous = stream.onClose;
    stream.onClose = (close) => {
      previous?.(close);
      resolve();
    };
  });
}

/** Serves a plain HTTP/1.1 request through a fetch handler. */
export async function serveH1(req: http.IncomingMessage, res: http.ServerResponse, scheme: string, fetch: FetchHandler): Promise<void> {
  const url = `${scheme}://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`;
  let response: Response;
  try {
    response = await fetch(toRequest(req.method ?? 'GET', url, req.headers, () => readableBody(req, requestPauseLeaksSocket() ? req.socket : undefined)));
  } catch (err) {
    response = failed(err);
  }
  res.writeHead(response.status, responseHeaders(response));
  if (req.method === 'HEAD') {
    void response.body?.cancel().catch(() => {});
    res.end();
  } else {
    await writeBody(response, res).catch(() => res.destroy());
  }
  // Resolves once the response is handed to the socket (or the connection is gone).
  if (!res.writableFinished && !res.destroyed) {
    await new Promise<void>((resolve) => {
      res.once('finish', resolve);
      res.once('close', resolve);
    });
  }
}
