import { createReadStream } from 'node:fs';
import type { Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { getMimeType } from 'hono/utils/mime';
import { ErrorCode, H2wsError } from '../errors.ts';
import { type ByteRange, parseRange } from '../handshake/byte-range.ts';
import { isFresh, isRangeCurrent, type Validators } from '../handshake/conditional.ts';
import { readableBody } from './readable-body.ts';

/**
 * A directory of static files (`--static DIR`, docs/http-proxy.md): content types from
 * Hono's table, `ETag` and `Last-Modified` with 304 answers (RFC 9110 §13), single byte
 * ranges with 206 and 416 (RFC 9110 §14), and no way out of the directory.
 *
 * Written here rather than taken from Hono's `serveStatic`: Hono's core middleware sends no
 * validators and no ranges, and its file access lives in separate adapters for Deno, Bun and
 * Node (the last in another package). node:fs is the one file API all three runtimes share.
 */
export class StaticFiles {
  /** The directory with every symlink resolved: served paths must stay inside it. */
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** Resolves the directory once; throws H2wsError(H2WS_ERR_CONFIG) naming `field` when it is not one. */
  static async open(dir: string, field: string): Promise<StaticFiles> {
    let root: string;
    try {
      root = await realpath(dir);
      if (!(await stat(root)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (err) {
      throw new H2wsError(ErrorCode.CONFIG, `${field}: cannot serve "${dir}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give an existing directory`, { field });
    }
    return new StaticFiles(root);
  }

  /**
   * The file at `filePath` (a normalized path below the route's prefix), or undefined when
   * there is none to serve: no such file, a hidden one (a segment starting with "."), one
   * outside the directory through a symlink, or a method other than GET and HEAD.
   */
  async serve(request: Request, filePath: string): Promise<Response | undefined> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
    const segments = decodeSegments(filePath);
    if (segments === undefined) return undefined;
    let file = await this.#resolve(path.join(this.root, ...segments));
    if (file === undefined) return undefined;
    if (file.info.isDirectory()) {
      // A directory is served by its index.html, under a URL that ends with "/" so that the
      // page's relative links resolve inside it.
      const url = new URL(request.url);
      if (!url.pathname.endsWith('/')) return new Response(null, { status: 301, headers: { location: `${url.pathname}/${url.search}` } });
      file = await this.#resolve(path.join(file.real, 'index.html'));
      if (file === undefined || !file.info.isFile()) return undefined;
    }
    if (!file.info.isFile()) return undefined;
    return answer(request, file.real, file.info.size, file.info.mtimeMs);
  }

  /** The real path and its stat, or undefined when missing or outside the directory. */
  async #resolve(candidate: string): Promise<{ real: string; info: Stats } | undefined> {
    try {
      const real = await realpath(candidate);
      if (real !== this.root && !real.startsWith(this.root.endsWith(path.sep) ? this.root : this.root + path.sep)) return undefined;
      return { real, info: await stat(real) };
    } catch {
      return undefined;
    }
  }
}

/**
 * The path's segments, percent-decoded. Undefined for anything that could name a file other
 * than the one the path spells: bad encoding, a decoded "/" "\" or NUL, "." or "..", and
 * hidden names (".env", ".git").
 */
function decodeSegments(filePath: string): string[] | undefined {
  const out: string[] = [];
  for (const raw of filePath.split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment.startsWith('.') || /[/\\\0]/.test(segment)) return undefined;
    out.push(segment);
  }
  return out;
}

/** The response for a file: 200, 206, 304 or 416, by the request's conditions and Range. */
function answer(request: Request, file: string, size: number, mtimeMs: number): Response {
  const validators: Validators = {
    etag: `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`,
    lastModified: new Date(Math.floor(mtimeMs / 1000) * 1000),
  };
  const headers = new Headers({
    etag: validators.etag,
    'last-modified': validators.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
  });
  const conditions = request.headers;
  if (isFresh(conditions.get('if-none-match'), conditions.get('if-modified-since'), validators)) {
    return new Response(null, { status: 304, headers });
  }
  headers.set('content-type', getMimeType(file) ?? 'application/octet-stream');
  let range: ByteRange | 'unsatisfiable' | undefined;
  const rangeField = conditions.get('range');
  if (request.method === 'GET' && rangeField !== null && isRangeCurrent(conditions.get('if-range'), validators)) range = parseRange(rangeField, size);
  if (range === 'unsatisfiable') {
    // RFC 9110 §15.5.17: the current length, so the client can ask again.
    headers.set('content-range', `bytes */${size}`);
    return new Response(null, { status: 416, headers });
  }
  const [start, end] = range === undefined ? [0, size - 1] : [range.start, range.end];
  headers.set('content-length', String(Math.max(0, end - start + 1)));
  if (range !== undefined) headers.set('content-range', `bytes ${start}-${end}/${size}`);
  const body = request.method === 'HEAD' || size === 0 ? null : readableBody(createReadStream(file, { start, end }));
  return new Response(body, { status: range === undefined ? 200 : 206, headers });
}
