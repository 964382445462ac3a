import { createHash } from 'node:crypto';

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2). */
export function computeAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** Random bytes drawn in batches: one getRandomValues call per 64 keys rather than per key. */
const KEY_BYTES = 16;
const pool = new Uint8Array(KEY_BYTES * 64);
let poolOffset = pool.length;

/**
 * A fresh Sec-WebSocket-Key: 16 random bytes, base64 (RFC 6455 §4.1: "randomly selected").
 * Each key uses its own bytes of the pool; none is handed out twice.
 */
export function generateKey(): string {
  if (poolOffset === pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const key = Buffer.from(pool.buffer, pool.byteOffset + poolOffset, KEY_BYTES).toString('base64');
  poolOffset += KEY_BYTES;
  return key;
}
