/**
 * Extracts a small response body that follows a head, for forwarding a backend's non-101
 * answer. Returns `undefined` while more bytes are needed, `null` when the body is too large
 * or its framing cannot be followed (then only the status and headers are forwarded).
 */
export function extractBody(
  headers: Readonly<Record<string, string>>,
  bytes: Buffer,
  maxBytes: number,
  ended: boolean,
): Buffer | null | undefined {
  const length = headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    if (!Number.isSafeInteger(n) || n < 0 || n > maxBytes) return null;
    if (bytes.length >= n) return bytes.subarray(0, n);
    return ended ? bytes : undefined;
  }
  if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) return decodeChunked(bytes, maxBytes, ended);
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
