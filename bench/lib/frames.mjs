// RFC 6455 framing for the load generator: masked client frames out, unmasked server frames in.
// Every echo is checked byte for byte against the message that was sent.

/** Bytes of a client frame header (with its 4-byte mask key) for a payload of `len`. */
export function clientHeaderLength(len) {
  return len < 126 ? 6 : len < 65536 ? 8 : 14;
}

/**
 * Writes a masked client frame header into `buf` at 0 and returns its length. The mask key is
 * all zeros (RFC 6455 §5.3 allows any key; a zero key leaves the payload as is), so the load
 * generator spends no CPU masking and every target sees the same bytes.
 */
export function writeClientHeader(buf, len, opcode = 0x2) {
  buf[0] = 0x80 | opcode;
  let off;
  if (len < 126) {
    buf[1] = 0x80 | len;
    off = 2;
  } else if (len < 65536) {
    buf[1] = 0x80 | 126;
    buf.writeUInt16BE(len, 2);
    off = 4;
  } else {
    buf[1] = 0x80 | 127;
    buf.writeUInt32BE(0, 2);
    buf.writeUInt32BE(len, 6);
    off = 10;
  }
  buf.writeUInt32BE(0, off);
  return off + 4;
}

/** A masked Close frame (RFC 6455 §5.5.1) with a status code. */
export function clientCloseFrame(code = 1000) {
  const buf = Buffer.alloc(6 + 2);
  writeClientHeader(buf, 2, 0x8);
  buf.writeUInt16BE(code, 6);
  return buf;
}

/** A deterministic filler for payloads of `size` bytes; bytes 0..7 are stamped per message. */
export function makeTemplate(size) {
  if (size < 8) throw new Error('payloads must be at least 8 bytes');
  const t = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) t[i] = (i * 31 + 7) & 0xff;
  return t;
}

/**
 * Parses unmasked server frames from arbitrary chunks. Calls onFrame(b0, payload) per frame,
 * where b0 is the first header byte (FIN, RSV and opcode). Chunks of a frame are gathered
 * and joined once, when the whole frame is there.
 */
export class ServerFrameParser {
  #chunks = [];
  #len = 0;
  #need = 0;

  constructor(onFrame, onError) {
    this.onFrame = onFrame;
    this.onError = onError;
  }

  push(chunk) {
    if (this.#len === 0) return this.#parse(chunk);
    this.#chunks.push(chunk);
    this.#len += chunk.length;
    if (this.#len < this.#need) return;
    const buf = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#len);
    this.#chunks = [];
    this.#len = 0;
    this.#parse(buf);
  }

  #parse(buf) {
    let off = 0;
    const end = buf.length;
    for (;;) {
      const avail = end - off;
      if (avail === 0) return;
      if (avail < 2) return this.#keep(buf, off, 2);
      const b0 = buf[off];
      const b1 = buf[off + 1];
      if (b1 & 0x80) return this.onError(new Error('server frame is masked (RFC 6455 §5.1 forbids it)'));
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (avail < 4) return this.#keep(buf, off, 4);
        len = buf.readUInt16BE(off + 2);
        hdr = 4;
      } else if (len === 127) {
        if (avail < 10) return this.#keep(buf, off, 10);
        if (buf.readUInt32BE(off + 2) !== 0) return this.onError(new Error('server frame longer than 4 GiB'));
        len = buf.readUInt32BE(off + 6);
        hdr = 10;
      }
      if (avail < hdr + len) return this.#keep(buf, off, hdr + len);
      const start = off + hdr;
      off = start + len;
      this.onFrame(b0, buf.subarray(start, off));
    }
  }

  #keep(buf, off, need) {
    const rest = off === 0 ? buf : buf.subarray(off);
    this.#chunks = [rest];
    this.#len = rest.length;
    this.#need = need;
  }
}
