/** Plain HTTP requests to a gateway as a test client: HTTP/2 (node:http2) or HTTP/1.1 (node:http). */
import http from 'node:http';
import type http2 from 'node:http2';

export interface PlainResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface PlainRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string | string[]>>;
  readonly body?: string | Buffer;
}

/** One request on an HTTP/2 session; resolves with the whole response. */
export function h2Request(session: http2.ClientHttp2Session, request: PlainRequest): Promise<PlainResponse> {
  const stream = session.request({ ':method': request.method ?? 'GET', ':path': request.path, ...request.headers }, { endStream: request.body === undefined });
  if (request.body !== undefined) stream.end(request.body);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let headers: Record<string, string | string[] | undefined> = {};
    stream.on('response', (h) => (headers = h as typeof headers));
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
  });
}

/** One HTTP/1.1 request on its own connection; resolves with the whole response. */
export function h1Request(base: string, request: PlainRequest): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(request.path, base), { method: request.method ?? 'GET', headers: request.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(request.body);
  });
}

/** The JSON body of a response. */
export const json = <T = Record<string, unknown>>(response: PlainResponse): T => JSON.parse(response.body.toString('utf8')) as T;
