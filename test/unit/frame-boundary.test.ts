/**
 * RFC 6455 §5.2 frame boundaries in a relayed byte stream, and the §5.5.1 Close frame h2ws
 * injects on shutdown. Frames are built, and Close frames read back, by ws's own
 * Sender/Receiver, so these tests do not re-implement RFC 6455.
 */
import { describe, expect, test } from 'vitest';
import * as wsModule from 'ws';
import { closeFrame, FrameBoundary } from '../../src/tunnel/frame-boundary.ts';

// ws exports Sender and Receiver at runtime; @types/ws does not declare them.
interface FrameOptions { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1?: boolean }
interface ReceiverLike {
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (err: Error & { code?: string; [k: symbol]: unknown }) => void): void;
  write(chunk: Buffer): boolean;
}
const { Sender, Receiver } = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] };
  Receiver: new (options: { isServer: boolean }) => ReceiverLike;
};

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_PING = 0x9;

function frame(payloadLength: number, masked: boolean, opcode = OP_BINARY, fin = true): Buffer {
  return Buffer.concat(Sender.frame(Buffer.alloc(payloadLength, 0x61), { fin, opcode, mask: masked, readOnly: false }));
}

function headerLength(payloadLength: number, masked: boolean): number {
  return 2 + (payloadLength >= 65_536 ? 8 : payloadLength > 125 ? 2 : 0) + (masked ? 4 : 0);
}

describe('FrameBoundary (RFC 6455 §5.2)', () => {
  test('a new tracker is at a boundary, and an empty chunk changes nothing', () => {
    const b = new FrameBoundary();
    expect(b.atBoundary).toBe(true);
    b.push(new Uint8Array(0));
    expect(b.atBoundary).toBe(true);
  });

  // Lengths around each encoding switch: 7-bit (<=125), 16-bit (126..65535), 64-bit (>=65536).
  const LENGTHS = [0, 1, 125, 126, 127, 1000, 65_535, 65_536, 70_000];
  const CASES = LENGTHS.flatMap((n) => [[n, false], [n, true]] as Array<[number, boolean]>);

  test.each(CASES)('one %i-byte frame (masked: %s) split at every byte offset', (payloadLength, masked) => {
    const bytes = frame(payloadLength, masked);
    expect(bytes.length).toBe(headerLength(payloadLength, masked) + payloadLength);
    const wrong: number[] = [];
    for (let k = 0; k <= bytes.length; k++) {
      const b = new FrameBoundary();
      b.push(bytes.subarray(0, k));
      if (b.atBoundary !== (k === 0 || k === bytes.length)) wrong.push(k);
      b.push(bytes.subarray(k));
      if (!b.atBoundary) wrong.push(-k);
    }
    expect(wrong).toEqual([]);
  });

  test.each([false, true])('a stream fed one byte at a time is at a boundary exactly at frame ends (masked: %s)', (masked) => {
    // A fragmented text message with a ping between its fragments (§5.4), then 16- and 64-bit frames.
    const frames = [
      frame(10, masked, OP_TEXT, false),
      frame(4, masked, OP_PING, true),
      frame(0, masked, OP_CONTINUATION, false),
      frame(300, masked, OP_CONTINUATION, true),
      frame(65_536, masked, OP_BINARY, true),
      frame(0, masked, OP_BINARY, true),
      frame(5, masked, OP_TEXT, true),
    ];
    const ends = new Set<number>();
    let total = 0;
    for (const f of frames) ends.add((total += f.length));
    const stream = Buffer.concat(frames);
    const b = new FrameBoundary();
    const seen: number[] = [];
    for (let i = 0; i < stream.length; i++) {
      b.push(stream.subarray(i, i + 1));
      if (b.atBoundary) seen.push(i + 1);
    }
    expect(seen).toEqual([...ends]);
  });

  test('several frames in one chunk, then a partial header', () => {
    const b = new FrameBoundary();
    b.push(Buffer.concat([frame(3, false), frame(200, true), frame(0, false)]));
    expect(b.atBoundary).toBe(true);
    b.push(frame(126, false).subarray(0, 3));
    expect(b.atBoundary).toBe(false);
  });

  test('a 64-bit length above 2^32 is read in full', () => {
    // Header only: FIN|binary, 127, then 2^32 + 1 as a 64-bit big-endian length.
    const header = Uint8Array.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 1]);
    const b = new FrameBoundary();
    b.push(header);
    // Read as 1 (low bits only), the zeros after the first byte would be empty frames, ending at a boundary.
    b.push(new Uint8Array(65_537));
    expect(b.atBoundary).toBe(false);
  });

  // RFC 6455 §7.1.1: the closing handshake is a Close frame each way; closeSeen marks one
  // direction's half once the whole frame (header and payload) has passed.
  test.each([false, true])('closeSeen: set once a whole Close frame has passed, at every split (masked: %s)', (masked) => {
    const before = Buffer.concat([frame(10, masked, OP_TEXT), frame(4, masked, OP_PING)]);
    const close = Buffer.from(closeFrame(1000, 'bye', masked));
    const stream = Buffer.concat([before, close]);
    const wrong: number[] = [];
    for (let k = 0; k <= stream.length; k++) {
      const b = new FrameBoundary();
      b.push(stream.subarray(0, k));
      if (b.closeSeen !== (k === stream.length)) wrong.push(k);
      b.push(stream.subarray(k));
      if (!b.closeSeen) wrong.push(-k);
    }
    expect(wrong).toEqual([]);
  });

  test('closeSeen: an empty Close frame (no status code) counts; data frames and pings never do', () => {
    const empty = new FrameBoundary();
    empty.push(Uint8Array.from([0x88, 0x00]));
    expect(empty.closeSeen).toBe(true);
    const other = new FrameBoundary();
    // Payload bytes 0x88 inside data frames are not headers.
    other.push(Buffer.concat([Sender.frame(Buffer.alloc(300, 0x88), { fin: true, opcode: OP_BINARY, mask: false, readOnly: false })[0]!, Buffer.alloc(300, 0x88), frame(3, true, OP_PING)]));
    expect([other.closeSeen, other.atBoundary]).toEqual([false, true]);
  });

  test('the RSV1 bit (permessage-deflate) does not change the framing', () => {
    const bytes = Buffer.concat(Sender.frame(Buffer.alloc(200, 1), { fin: true, opcode: OP_BINARY, mask: false, readOnly: false, rsv1: true }));
    const b = new FrameBoundary();
    b.push(bytes.subarray(0, bytes.length - 1));
    expect(b.atBoundary).toBe(false);
    b.push(bytes.subarray(bytes.length - 1));
    expect(b.atBoundary).toBe(true);
  });
});

type Received = { code: number; reason: string } | { error: string | undefined };

/** What ws's Receiver makes of some bytes: the Close it concluded, or the error it raised. */
function receive(bytes: Uint8Array, isServer: boolean): Promise<Received> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer });
    const timer = setTimeout(() => reject(new Error('the Receiver neither concluded nor failed on a complete frame')), 1_000);
    const done = (r: Received) => { clearTimeout(timer); resolve(r); };
    receiver.on('conclude', (code, reason) => done({ code, reason: reason.toString('utf8') }));
    // A Writable reports the error on a later tick.
    receiver.on('error', (err) => done({ error: err.code }));
    receiver.write(Buffer.from(bytes));
  });
}

describe('closeFrame (RFC 6455 §5.5.1)', () => {
  test('§5.3: masked toward a server, parsed by a server-side Receiver: 1001 and the reason', async () => {
    const bytes = closeFrame(1001, 'going away', true);
    expect(bytes[0]).toBe(0x88);
    expect(bytes[1]).toBe(0x80 | 12);
    expect(bytes.length).toBe(2 + 4 + 12);
    expect(await receive(bytes, true)).toEqual({ code: 1001, reason: 'going away' });
  });

  test('§5.1: unmasked toward a client, parsed by a client-side Receiver: 1001 and the reason', async () => {
    const bytes = closeFrame(1001, 'going away', false);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x88, 12, 0x03, 0xe9]);
    expect(await receive(bytes, false)).toEqual({ code: 1001, reason: 'going away' });
  });

  test('§5.1: the direction matters, each Receiver refuses the other direction\'s frame', async () => {
    expect(await receive(closeFrame(1001, 'x', true), false)).toEqual({ error: 'WS_ERR_UNEXPECTED_MASK' });
    expect(await receive(closeFrame(1001, 'x', false), true)).toEqual({ error: 'WS_ERR_EXPECTED_MASK' });
  });

  test('an empty reason', async () => {
    expect(await receive(closeFrame(1001, '', false), false)).toEqual({ code: 1001, reason: '' });
  });

  test('a non-ASCII reason round-trips as UTF-8', async () => {
    expect(await receive(closeFrame(1001, 'arrêt 🛑', true), true)).toEqual({ code: 1001, reason: 'arrêt 🛑' });
  });

  test('§5.5: a long reason is cut so the payload fits in 125 bytes', async () => {
    const bytes = closeFrame(1001, 'x'.repeat(300), false);
    expect(bytes.length).toBe(2 + 125);
    expect(await receive(bytes, false)).toEqual({ code: 1001, reason: 'x'.repeat(123) });
  });

  // §5.5.1: the reason "is not guaranteed to be human readable" but "MUST be" UTF-8
  // (§8.1: a Close with invalid UTF-8 fails the connection with 1007). Cutting at byte 123
  // splits the 62nd "é" in half.
  test('§5.5.1: a long non-ASCII reason is cut on a UTF-8 character boundary', async () => {
    const reason = 'é'.repeat(100);
    const result = await receive(closeFrame(1001, reason, false), false);
    expect(result).toEqual({ code: 1001, reason: 'é'.repeat(61) });
  });

  test('FrameBoundary sees an injected Close as one whole frame', async () => {
    for (const masked of [false, true]) {
      const bytes = closeFrame(1001, 'going away', masked);
      const b = new FrameBoundary();
      b.push(bytes.subarray(0, bytes.length - 1));
      expect(b.atBoundary).toBe(false);
      b.push(bytes.subarray(bytes.length - 1));
      expect(b.atBoundary).toBe(true);
    }
  });

  test('masked frames use a fresh key each time', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 8; i++) keys.add(Buffer.from(closeFrame(1001, 'x', true).subarray(2, 6)).toString('hex'));
    expect(keys.size).toBeGreaterThan(1);
  });
});
