/**
 * Tracks where RFC 6455 frames begin in a byte stream that h2ws relays without decoding,
 * so that on shutdown it knows whether a Close frame can be injected between two frames
 * (RFC 6455 §5.2 frame header; control frames may come between fragments, §5.4), and
 * whether a whole Close frame has gone by (half of the closing handshake, §7.1.1).
 * Cost per chunk: a few byte reads per frame header.
 */
export class FrameBoundary {
  /** A whole Close frame (opcode 0x8, RFC 6455 §5.5.1) has passed: this direction is done. */
  closeSeen = false;
  /** The frame being read is a Close frame. */
  #inClose = false;
  // The header is parsed a byte at a time as it passes, with no buffer: an idle tunnel holds
  // two of these, so they are kept to a few numbers.
  /** Header bytes seen so far (0 when not inside a header). */
  #headerHave = 0;
  /** Header length once its second byte is known: 2 + extended length + masking key (§5.2). */
  #headerNeed = 0;
  /** Extended payload length bytes still to read after byte 1. */
  #lengthBytesLeft = 0;
  /** The payload length as read so far. */
  #length = 0;
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
        if (this.#payloadLeft === 0 && this.#inClose) this.closeSeen = true;
        continue;
      }
      const byte = chunk[i++]!;
      const at = this.#headerHave++;
      if (at === 0) {
        this.#inClose = (byte & 0x0f) === OPCODE_CLOSE;
      } else if (at === 1) {
        // Byte 1: MASK bit and the 7-bit length, which may announce 2 or 8 more length bytes.
        const len7 = byte & 0x7f;
        this.#lengthBytesLeft = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
        this.#length = len7 < 126 ? len7 : 0;
        this.#headerNeed = 2 + this.#lengthBytesLeft + (byte & 0x80 ? 4 : 0);
      } else if (at > 1 && this.#lengthBytesLeft > 0) {
        // Network byte order; RFC 6455 §5.2 says the 64-bit form's top bit is 0.
        this.#length = this.#length * 256 + byte;
        this.#lengthBytesLeft--;
      }
      if (this.#headerHave >= 2 && this.#headerHave === this.#headerNeed) {
        this.#payloadLeft = this.#length;
        this.#headerHave = 0;
        if (this.#length === 0 && this.#inClose) this.closeSeen = true;
      }
    }
  }
}

const OPCODE_CLOSE = 0x8;

/** The longest prefix of `text` whose UTF-8 form fits in `max` bytes, never splitting a character. */
function truncateUtf8(text: string, max: number): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back off continuation bytes
  return bytes.subarray(0, end);
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
