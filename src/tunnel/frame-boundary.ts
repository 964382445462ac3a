/**
 * Tracks where RFC 6455 frames begin in a byte stream that h2ws relays without decoding,
 * so that on shutdown it knows whether a Close frame can be injected between two frames
 * (RFC 6455 §5.2 frame header; control frames may come between fragments, §5.4).
 * Cost per chunk: a few byte reads per frame header.
 */
export class FrameBoundary {
  /** Header bytes still needed (0 when not inside a header). */
  #header = new Uint8Array(14);
  #headerHave = 0;
  #headerNeed = 0;
  /** Payload bytes still to skip. */
  #payloadLeft = 0;

  /** True when the bytes seen so far end exactly at a frame boundary. */
  get atBoundary(): boolean {
    return this.#headerHave === 0 && this.#payloadLeft === 0;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, n - i);
        this.#payloadLeft -= take;
        i += take;
        continue;
      }
      // Inside a header: collect bytes until its full length is known and present.
      this.#header[this.#headerHave++] = chunk[i++]!;
      if (this.#headerHave === 2) {
        const len7 = this.#header[1]! & 0x7f;
        const mask = this.#header[1]! & 0x80 ? 4 : 0;
        this.#headerNeed = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + mask;
      }
      if (this.#headerHave >= 2 && this.#headerHave === this.#headerNeed) {
        this.#payloadLeft = payloadLength(this.#header);
        this.#headerHave = 0;
      }
    }
  }
}

/** The longest prefix of `text` whose UTF-8 form fits in `max` bytes, never splitting a character. */
function truncateUtf8(text: string, max: number): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back off continuation bytes
  return bytes.subarray(0, end);
}

function payloadLength(h: Uint8Array): number {
  const len7 = h[1]! & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (h[2]! << 8) | h[3]!;
  // 64-bit length; RFC 6455 §5.2 says the most significant bit must be 0.
  let n = 0;
  for (let k = 2; k < 10; k++) n = n * 256 + h[k]!;
  return n;
}

/**
 * A Close frame (RFC 6455 §5.5.1) with a status code and reason. Frames toward a server
 * (the backend) must be masked (§5.3); frames toward a client must not be.
 */
export function closeFrame(code: number, reason: string, masked: boolean): Uint8Array {
  const reasonBytes = truncateUtf8(reason, 123); // §5.5: control payloads are at most 125 bytes
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  const out = new Uint8Array(2 + (masked ? 4 : 0) + payload.length);
  out[0] = 0x88; // FIN + opcode 0x8 (Close)
  out[1] = (masked ? 0x80 : 0) | payload.length;
  if (!masked) {
    out.set(payload, 2);
    return out;
  }
  const key = new Uint8Array(4);
  crypto.getRandomValues(key);
  out.set(key, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ key[i & 3]!;
  return out;
}
