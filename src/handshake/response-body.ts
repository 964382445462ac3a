/**
 * Extracts a small response body that follows a head, for forwarding a backend's non-101
 * answer. Returns `undefined` while more bytes are needed, `null` when the body is too large
 * or its framing cannot be followed (then only the status and headers are forwarded).
 */
import { type HeaderMap, headerValue } from './headers.ts';

export function extractBody(
  headers: HeaderMap,
  bytes: Buffer,
  maxBytes: number,
  ended: boolean,
): Buffer | null | undefined {
  // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length.
  if (/\bchunked\b/i.test(headerValue(headers, 'transfer-encoding') ?? '')) return decodeChunked(bytes, maxBytes, ended);
  const length = headerValue(headers, 'content-length');
  if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length.trim())) return null; // digits only (RFC 9110 §8.6)
    const n = Number(length);
    if (n > maxBytes) return null;
    if (bytes.length >= n) return bytes.subarray(0, n);
    return ended ? bytes : undefined;
  }
  // RFC 9112 §6.3: without a length, the body runs to the end of the connection.
  if (bytes.length > maxBytes) return null;
  return ended ? bytes : undefined;
}

function decodeChunked(bytes: Buffer, maxBytes: number, ended: boolean): Buffer | null | undefined {
  const parts: Buffer[] = [];
  let total = 0;
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) return ended ? Buffer.concat(parts) : undefined;
    const size = parseInt(bytes.toString('latin1', at, lineEnd).split(';')[0]!, 16);
    if (!Number.isFinite(size) || size < 0) return null;
    if (size === 0) return Buffer.concat(parts);
    total += size;
    if (total > maxBytes) return null;
    const start = lineEnd + 2;
    if (bytes.length < start + size + 2) return ended ? Buffer.concat([...parts, bytes.subarray(start)]) : undefined;
    parts.push(bytes.subarray(start, start + size));
    at = start + size + 2;
  }
}
