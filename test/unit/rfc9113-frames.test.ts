/**
 * The frame codec (RFC 9113 §4, §6): every frame type round-trips, every framing rule the
 * decoder enforces answers with the exact error, and the decoder parses in place.
 */
import { describe, expect, test } from 'vitest';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import { FrameDecoder } from '../../src/h2/frame/decoder.ts';
import {
  encodeContinuation, encodeData, encodeFrame, encodeFrameHeader, encodeGoaway, encodeHeaders, encodePing, encodePriority,
  encodePushPromise, encodeRstStream, encodeSettings, encodeSettingsAck, encodeWindowUpdate,
} from '../../src/h2/frame/encoder.ts';
import { DEFAULT_MAX_FRAME_SIZE, Flag, type Frame, FrameType, MAX_ALLOWED_FRAME_SIZE, SettingId } from '../../src/h2/frame/types.ts';
import { H2ConnectionError, H2StreamError } from '../../src/h2/protocol-error.ts';
import { concat as concatBytes } from '../helpers/sans-io.ts';

const { PROTOCOL_ERROR, FRAME_SIZE_ERROR, FLOW_CONTROL_ERROR } = H2ErrorCode;

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);
/** A fresh copy with its own ArrayBuffer (encoder output may share Node's Buffer pool). */
const own = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const u32 = (v: number): number[] => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const setting = (id: number, value: number): number[] => [id >>> 8, id & 0xff, ...u32(value)];

/** Frames with byte fields as plain arrays, so views, copies and Buffers compare equal. */
function plain(frame: Frame | undefined): unknown {
  if (frame === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(frame)) out[k] = v instanceof Uint8Array ? Array.from(v) : v;
  return out;
}

/** Every frame in `input`, pushed in the given chunk sizes (cycled), or whole. */
function decodeAll(input: Uint8Array, chunkSizes: readonly number[] = [input.length], decoder = new FrameDecoder()): Frame[] {
  const frames: Frame[] = [];
  let off = 0;
  let i = 0;
  while (off < input.length) {
    const n = Math.max(1, chunkSizes[i++ % chunkSizes.length]!);
    decoder.push(input.subarray(off, off + n));
    off += n;
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
  }
  return frames;
}

const decodeOne = (input: Uint8Array): Frame => {
  const frames = decodeAll(input);
  expect(frames).toHaveLength(1);
  return frames[0]!;
};

const PING_OPAQUE = bytes(1, 2, 3, 4, 5, 6, 7, 8);
const FOLLOWING = encodePing(PING_OPAQUE, false);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

/**
 * Feeds the violating frame followed by a valid PING in one chunk: next() throws `check`'s
 * error, and the following next() still yields the PING (the bad frame's bytes were consumed).
 */
function expectViolation(frame: Uint8Array, check: (err: unknown) => void): void {
  const decoder = new FrameDecoder();
  decoder.push(concat(frame, FOLLOWING));
  const err = thrown(() => decoder.next());
  check(err);
  expect((err as Error).message).toMatch(/^[^\n]*\(RFC (9113|8441) §[\d.]+(, §[\d.]+)?\)$/);
  expect(plain(decoder.next())).toEqual({ type: FrameType.PING, streamId: 0, ack: false, opaque: Array.from(PING_OPAQUE) });
  expect(decoder.next()).toBeUndefined();
  expect(decoder.buffered).toBe(0);
}

const connectionError = (frame: Uint8Array, h2Code: number): void =>
  expectViolation(frame, (err) => {
    expect(err).toBeInstanceOf(H2ConnectionError);
    expect(err).not.toBeInstanceOf(H2StreamError);
    expect((err as H2ConnectionError).h2Code).toBe(h2Code);
  });

const streamError = (frame: Uint8Array, streamId: number, h2Code: number): void =>
  expectViolation(frame, (err) => {
    expect(err).toBeInstanceOf(H2StreamError);
    expect(err).not.toBeInstanceOf(H2ConnectionError);
    expect((err as H2StreamError).h2Code).toBe(h2Code);
    expect((err as H2StreamError).streamId).toBe(streamId);
  });

describe('RFC 9113 §4.1: frame format', () => {
  test('the nine-octet header: 24-bit length, type, flags, 31-bit stream id', () => {
    expect(Array.from(encodeFrameHeader(0x123456, 0xab, 0xcd, 0x7fff_fffe))).toEqual([0x12, 0x34, 0x56, 0xab, 0xcd, 0x7f, 0xff, 0xff, 0xfe]);
    expect(Array.from(encodeFrame(0x1, 0x4, 3, bytes(9, 8)))).toEqual([0, 0, 2, 1, 4, 0, 0, 0, 3, 9, 8]);
  });

  test('the reserved bit of the stream id is ignored on receipt', () => {
    const frame = own(encodeData(5, bytes(1, 2), false)[0]);
    const whole = concat(frame, bytes(1, 2));
    whole[5]! |= 0x80;
    expect(plain(decodeOne(whole))).toEqual({ type: FrameType.DATA, streamId: 5, data: [1, 2], flowLength: 2, endStream: false });
  });

  test('the reserved bit is masked in the ids inside payloads too (GOAWAY, WINDOW_UPDATE, PUSH_PROMISE)', () => {
    expect(plain(decodeOne(encodeFrame(FrameType.GOAWAY, 0, 0, bytes(0x80, 0, 0, 7, 0, 0, 0, 0))))).toMatchObject({ lastStreamId: 7 });
    expect(plain(decodeOne(encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, bytes(0x80, 0, 0, 9))))).toMatchObject({ increment: 9 });
    expect(plain(decodeOne(encodeFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, bytes(0x80, 0, 0, 2))))).toMatchObject({ promisedStreamId: 2 });
  });

  test('frames of unknown type are returned as unknown, to be ignored (§4.1, §5.5)', () => {
    const input = concat(encodeFrame(0xfa, 0xff, 0, bytes(1, 2, 3)), encodeFrame(0x10, 0, 7, new Uint8Array(0)), FOLLOWING);
    expect(decodeAll(input).map(plain)).toEqual([
      { type: 0xfa, unknown: true, streamId: 0, flags: 0xff, payload: [1, 2, 3] },
      { type: 0x10, unknown: true, streamId: 7, flags: 0, payload: [] },
      { type: FrameType.PING, streamId: 0, ack: false, opaque: Array.from(PING_OPAQUE) },
    ]);
  });

  test('flags that have no meaning for a type are ignored', () => {
    expect(plain(decodeOne(encodeFrame(FrameType.PING, 0xfe, 0, PING_OPAQUE)))).toEqual({ type: FrameType.PING, streamId: 0, ack: false, opaque: Array.from(PING_OPAQUE) });
  });
});

describe('RFC 9113 §4.2: frame size', () => {
  test('a frame longer than SETTINGS_MAX_FRAME_SIZE is FRAME_SIZE_ERROR from its nine-octet header alone', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrameHeader(DEFAULT_MAX_FRAME_SIZE + 1, FrameType.DATA, 0, 1));
    expect(decoder.buffered).toBe(9);
    const err = thrown(() => decoder.next());
    expect(err).toBeInstanceOf(H2ConnectionError);
    expect((err as H2ConnectionError).h2Code).toBe(FRAME_SIZE_ERROR);
    expect((err as Error).message).toContain('§4.2');
    expect(decoder.buffered).toBe(0);
  });

  test('a 16 MiB length is refused before any payload arrives, and its payload is dropped, never buffered', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrameHeader(MAX_ALLOWED_FRAME_SIZE, FrameType.HEADERS, 0, 1));
    expect(() => decoder.next()).toThrow(H2ConnectionError);
    // The payload still in flight is skipped as it arrives; the next frame decodes.
    for (let left = MAX_ALLOWED_FRAME_SIZE; left > 0; left -= 1 << 20) {
      decoder.push(new Uint8Array(Math.min(1 << 20, left)));
      expect(decoder.buffered).toBe(0);
      expect(decoder.next()).toBeUndefined();
    }
    decoder.push(FOLLOWING);
    expect(decoder.next()).toMatchObject({ type: FrameType.PING });
  });

  test('the payload already buffered with an oversized header is consumed with it', () => {
    const decoder = new FrameDecoder();
    decoder.push(concat(encodeFrameHeader(20_000, FrameType.DATA, 0, 1), new Uint8Array(19_000)));
    expect(() => decoder.next()).toThrow(H2ConnectionError);
    expect(decoder.buffered).toBe(0);
    decoder.push(concat(new Uint8Array(1_000), FOLLOWING));
    expect(decoder.next()).toMatchObject({ type: FrameType.PING });
  });

  test('exactly SETTINGS_MAX_FRAME_SIZE is accepted; a larger advertised size takes effect when set', () => {
    const decoder = new FrameDecoder();
    const max = new Uint8Array(DEFAULT_MAX_FRAME_SIZE).fill(7);
    expect(decodeAll(concat(...encodeData(1, max, false)), [4096], decoder)).toHaveLength(1);
    decoder.maxFrameSize = 65_536;
    expect(decoder.maxFrameSize).toBe(65_536);
    const big = decodeAll(concat(...encodeData(1, new Uint8Array(65_536), true)), [65_545], decoder);
    expect(big).toHaveLength(1);
    expect((big[0] as { data: Uint8Array }).data.length).toBe(65_536);
    expect(new FrameDecoder(MAX_ALLOWED_FRAME_SIZE).maxFrameSize).toBe(MAX_ALLOWED_FRAME_SIZE);
  });

  test('maxFrameSize outside [2^14, 2^24-1] is a programming error (RangeError)', () => {
    expect(() => new FrameDecoder(16_383)).toThrow(RangeError);
    expect(() => new FrameDecoder(MAX_ALLOWED_FRAME_SIZE + 1)).toThrow(RangeError);
    expect(() => {
      new FrameDecoder().maxFrameSize = 1.5;
    }).toThrow(RangeError);
  });
});

describe('RFC 9113 §6.1: DATA', () => {
  test('round trip: [header, data] with the data not copied; END_STREAM', () => {
    const data = bytes(1, 2, 3);
    const [header, body] = encodeData(3, data, true);
    expect(body).toBe(data);
    expect(Array.from(header)).toEqual([0, 0, 3, FrameType.DATA, Flag.END_STREAM, 0, 0, 0, 3]);
    expect(plain(decodeOne(concat(header, body)))).toEqual({ type: FrameType.DATA, streamId: 3, data: [1, 2, 3], flowLength: 3, endStream: true });
    expect(plain(decodeOne(concat(...encodeData(5, new Uint8Array(0), false))))).toEqual({ type: FrameType.DATA, streamId: 5, data: [], flowLength: 0, endStream: false });
  });

  test('padding is stripped; flowLength counts the Pad Length octet and the padding', () => {
    const frame = encodeFrame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, bytes(3, 0xaa, 0xbb, 0, 0, 0));
    expect(plain(decodeOne(frame))).toEqual({ type: FrameType.DATA, streamId: 1, data: [0xaa, 0xbb], flowLength: 6, endStream: true });
    // All padding, no data: pad length = payload length - 1.
    expect(plain(decodeOne(encodeFrame(FrameType.DATA, Flag.PADDED, 1, bytes(2, 0, 0))))).toEqual({ type: FrameType.DATA, streamId: 1, data: [], flowLength: 3, endStream: false });
  });

  test('data is a view into the pushed chunk, not a copy', () => {
    const chunk = own(concat(FOLLOWING, encodeFrame(FrameType.DATA, Flag.PADDED, 1, bytes(1, 0x11, 0x22, 0)), FOLLOWING));
    const decoder = new FrameDecoder();
    decoder.push(chunk);
    decoder.next();
    const frame = decoder.next() as { data: Uint8Array };
    expect(frame.data.buffer).toBe(chunk.buffer);
    expect(frame.data.byteOffset).toBe(chunk.byteOffset + 17 + 9 + 1);
    expect(Array.from(frame.data)).toEqual([0x11, 0x22]);
  });

  test('stream 0 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.DATA, 0, 0, bytes(1)), PROTOCOL_ERROR);
  });

  test('PADDED with an empty payload is a connection FRAME_SIZE_ERROR', () => {
    connectionError(encodeFrame(FrameType.DATA, Flag.PADDED, 1, new Uint8Array(0)), FRAME_SIZE_ERROR);
  });

  test('padding as long as the payload or longer is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.DATA, Flag.PADDED, 1, bytes(3, 0, 0)), PROTOCOL_ERROR);
    connectionError(encodeFrame(FrameType.DATA, Flag.PADDED, 1, bytes(1)), PROTOCOL_ERROR);
    connectionError(encodeFrame(FrameType.DATA, Flag.PADDED, 1, bytes(255, 1, 2)), PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §6.2: HEADERS', () => {
  test('round trip: END_STREAM, END_HEADERS, no priority', () => {
    expect(plain(decodeOne(encodeHeaders(1, bytes(0x82, 0x86), true, DEFAULT_MAX_FRAME_SIZE)))).toEqual({
      type: FrameType.HEADERS, streamId: 1, fragment: [0x82, 0x86], endStream: true, endHeaders: true, priority: undefined,
    });
    expect(plain(decodeOne(encodeHeaders(3, new Uint8Array(0), false, DEFAULT_MAX_FRAME_SIZE)))).toEqual({
      type: FrameType.HEADERS, streamId: 3, fragment: [], endStream: false, endHeaders: true, priority: undefined,
    });
  });

  test('a block larger than the frame size becomes HEADERS + CONTINUATION, END_HEADERS on the last only (§4.3, §6.10)', () => {
    const block = Uint8Array.from({ length: 25 }, (_, i) => i);
    const frames = decodeAll(encodeHeaders(7, block, true, 10)).map(plain);
    expect(frames).toEqual([
      { type: FrameType.HEADERS, streamId: 7, fragment: Array.from(block.subarray(0, 10)), endStream: true, endHeaders: false, priority: undefined },
      { type: FrameType.CONTINUATION, streamId: 7, fragment: Array.from(block.subarray(10, 20)), endHeaders: false },
      { type: FrameType.CONTINUATION, streamId: 7, fragment: Array.from(block.subarray(20)), endHeaders: true },
    ]);
    expect(decodeAll(encodeHeaders(7, block, false, 25)).map(plain)).toEqual([
      { type: FrameType.HEADERS, streamId: 7, fragment: Array.from(block), endStream: false, endHeaders: true, priority: undefined },
    ]);
  });

  test('PRIORITY and PADDED fields are parsed and stripped from the fragment', () => {
    const payload = bytes(2, 0x80, 0, 0, 5, 15, 0xaa, 0xbb, 0, 0);
    expect(plain(decodeOne(encodeFrame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS, 3, payload)))).toEqual({
      type: FrameType.HEADERS, streamId: 3, fragment: [0xaa, 0xbb], endStream: false, endHeaders: true,
      priority: { exclusive: true, dependency: 5, weight: 16 },
    });
    expect(plain(decodeOne(encodeFrame(FrameType.HEADERS, Flag.PRIORITY, 3, bytes(0, 0, 0, 0, 255))))).toEqual({
      type: FrameType.HEADERS, streamId: 3, fragment: [], endStream: false, endHeaders: false,
      priority: { exclusive: false, dependency: 0, weight: 256 },
    });
    // Padding filling everything after the priority fields leaves an empty fragment.
    expect(plain(decodeOne(encodeFrame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 3, bytes(2, 0, 0, 0, 1, 0, 0, 0))))).toMatchObject({ fragment: [] });
  });

  test('the fragment is a view into the pushed chunk', () => {
    const chunk = own(encodeHeaders(1, bytes(1, 2, 3), false, DEFAULT_MAX_FRAME_SIZE));
    const decoder = new FrameDecoder();
    decoder.push(chunk);
    const frame = decoder.next() as { fragment: Uint8Array };
    expect(frame.fragment.buffer).toBe(chunk.buffer);
    expect(frame.fragment.byteOffset).toBe(9);
  });

  test('a self-dependency is returned, not thrown: the connection decides after the field block (§5.3.1)', () => {
    expect(plain(decodeOne(encodeFrame(FrameType.HEADERS, Flag.PRIORITY | Flag.END_HEADERS, 5, bytes(0, 0, 0, 5, 0, 0x82))))).toMatchObject({
      streamId: 5, priority: { exclusive: false, dependency: 5, weight: 1 }, fragment: [0x82],
    });
  });

  test('stream 0 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 0, bytes(0x82)), PROTOCOL_ERROR);
  });

  test('padding rules as for DATA', () => {
    connectionError(encodeFrame(FrameType.HEADERS, Flag.PADDED, 1, new Uint8Array(0)), FRAME_SIZE_ERROR);
    connectionError(encodeFrame(FrameType.HEADERS, Flag.PADDED, 1, bytes(2, 0)), PROTOCOL_ERROR);
    // With PRIORITY, padding may not reach into the five priority octets.
    connectionError(encodeFrame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 1, bytes(1, 0, 0, 0, 0, 0)), PROTOCOL_ERROR);
  });

  test('PRIORITY flag without five priority octets is a connection FRAME_SIZE_ERROR', () => {
    connectionError(encodeFrame(FrameType.HEADERS, Flag.PRIORITY, 1, bytes(0, 0, 0, 0)), FRAME_SIZE_ERROR);
    connectionError(encodeFrame(FrameType.HEADERS, Flag.PRIORITY | Flag.PADDED, 1, bytes(0, 0, 0, 0, 0)), FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §6.3: PRIORITY', () => {
  test('round trip (weight is 1-256, sent as weight - 1)', () => {
    const frame = encodePriority(3, 1, 256, true);
    expect(Array.from(frame)).toEqual([0, 0, 5, FrameType.PRIORITY, 0, 0, 0, 0, 3, 0x80, 0, 0, 1, 255]);
    expect(plain(decodeOne(frame))).toEqual({ type: FrameType.PRIORITY, streamId: 3, priority: { exclusive: true, dependency: 1, weight: 256 } });
    expect(plain(decodeOne(encodePriority(9, 0, 1, false)))).toEqual({ type: FrameType.PRIORITY, streamId: 9, priority: { exclusive: false, dependency: 0, weight: 1 } });
  });

  test('stream 0 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.PRIORITY, 0, 0, bytes(0, 0, 0, 1, 0)), PROTOCOL_ERROR);
  });

  test('a length other than 5 is a stream FRAME_SIZE_ERROR', () => {
    streamError(encodeFrame(FrameType.PRIORITY, 0, 3, bytes(0, 0, 0, 1)), 3, FRAME_SIZE_ERROR);
    streamError(encodeFrame(FrameType.PRIORITY, 0, 5, bytes(0, 0, 0, 1, 0, 0)), 5, FRAME_SIZE_ERROR);
  });

  test('a stream depending on itself is a stream PROTOCOL_ERROR (§5.3.1)', () => {
    streamError(encodePriority(7, 7, 16, false), 7, PROTOCOL_ERROR);
    streamError(encodePriority(7, 7, 16, true), 7, PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §6.4: RST_STREAM', () => {
  test('round trip', () => {
    expect(plain(decodeOne(encodeRstStream(5, H2ErrorCode.CANCEL)))).toEqual({ type: FrameType.RST_STREAM, streamId: 5, errorCode: H2ErrorCode.CANCEL });
    expect(plain(decodeOne(encodeRstStream(5, 0xffff_ffff)))).toMatchObject({ errorCode: 0xffff_ffff });
  });

  test('stream 0 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.RST_STREAM, 0, 0, bytes(0, 0, 0, 8)), PROTOCOL_ERROR);
  });

  test('a length other than 4 is a connection FRAME_SIZE_ERROR', () => {
    connectionError(encodeFrame(FrameType.RST_STREAM, 0, 1, bytes(0, 0, 8)), FRAME_SIZE_ERROR);
    connectionError(encodeFrame(FrameType.RST_STREAM, 0, 1, bytes(0, 0, 0, 8, 0)), FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §6.5: SETTINGS', () => {
  test('round trip, order kept, unknown identifiers kept, values unsigned 32-bit', () => {
    const pairs: Array<readonly [number, number]> = [
      [SettingId.HEADER_TABLE_SIZE, 4096], [SettingId.ENABLE_PUSH, 0], [SettingId.MAX_CONCURRENT_STREAMS, 0xffff_ffff],
      [SettingId.INITIAL_WINDOW_SIZE, 2 ** 31 - 1], [SettingId.MAX_FRAME_SIZE, MAX_ALLOWED_FRAME_SIZE], [SettingId.MAX_HEADER_LIST_SIZE, 8192],
      [SettingId.ENABLE_CONNECT_PROTOCOL, 1], [0xabcd, 0xdead_beef], [SettingId.ENABLE_PUSH, 1],
    ];
    expect(plain(decodeOne(encodeSettings(pairs)))).toEqual({ type: FrameType.SETTINGS, streamId: 0, ack: false, settings: pairs });
    expect(plain(decodeOne(encodeSettings([])))).toEqual({ type: FrameType.SETTINGS, streamId: 0, ack: false, settings: [] });
  });

  test('ACK round trip', () => {
    const ack = encodeSettingsAck();
    expect(Array.from(ack)).toEqual([0, 0, 0, FrameType.SETTINGS, Flag.ACK, 0, 0, 0, 0]);
    expect(plain(decodeOne(ack))).toEqual({ type: FrameType.SETTINGS, streamId: 0, ack: true, settings: [] });
  });

  test('a stream id other than 0 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.SETTINGS, 0, 1, new Uint8Array(0)), PROTOCOL_ERROR);
  });

  test('ACK with a payload is a connection FRAME_SIZE_ERROR', () => {
    connectionError(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0, bytes(...setting(1, 0))), FRAME_SIZE_ERROR);
  });

  test('a length not a multiple of 6 is a connection FRAME_SIZE_ERROR', () => {
    connectionError(encodeFrame(FrameType.SETTINGS, 0, 0, new Uint8Array(7)), FRAME_SIZE_ERROR);
    connectionError(encodeFrame(FrameType.SETTINGS, 0, 0, new Uint8Array(5)), FRAME_SIZE_ERROR);
  });

  test('§6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeSettings([[SettingId.ENABLE_PUSH, 2]]), PROTOCOL_ERROR);
  });

  test('§6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is a connection FLOW_CONTROL_ERROR', () => {
    connectionError(encodeSettings([[SettingId.INITIAL_WINDOW_SIZE, 2 ** 31]]), FLOW_CONTROL_ERROR);
    connectionError(encodeSettings([[SettingId.INITIAL_WINDOW_SIZE, 0xffff_ffff]]), FLOW_CONTROL_ERROR);
  });

  test('§6.5.2: SETTINGS_MAX_FRAME_SIZE outside [2^14, 2^24-1] is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeSettings([[SettingId.MAX_FRAME_SIZE, 16_383]]), PROTOCOL_ERROR);
    connectionError(encodeSettings([[SettingId.MAX_FRAME_SIZE, 2 ** 24]]), PROTOCOL_ERROR);
    expect(plain(decodeOne(encodeSettings([[SettingId.MAX_FRAME_SIZE, 16_384]])))).toMatchObject({ settings: [[5, 16_384]] });
  });

  test('RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL other than 0 or 1 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeSettings([[SettingId.ENABLE_CONNECT_PROTOCOL, 2]]), PROTOCOL_ERROR);
  });

  test('a bad value after good ones still fails the whole frame', () => {
    connectionError(encodeSettings([[SettingId.HEADER_TABLE_SIZE, 0], [SettingId.ENABLE_PUSH, 7]]), PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §6.6: PUSH_PROMISE', () => {
  test('round trip', () => {
    expect(plain(decodeOne(encodePushPromise(1, 2, bytes(0x82), true)))).toEqual({
      type: FrameType.PUSH_PROMISE, streamId: 1, promisedStreamId: 2, fragment: [0x82], endHeaders: true,
    });
    expect(plain(decodeOne(encodePushPromise(3, 4, new Uint8Array(0), false)))).toMatchObject({ promisedStreamId: 4, fragment: [], endHeaders: false });
  });

  test('padding is stripped', () => {
    expect(plain(decodeOne(encodeFrame(FrameType.PUSH_PROMISE, Flag.PADDED, 1, bytes(1, 0, 0, 0, 4, 0x82, 0))))).toMatchObject({ promisedStreamId: 4, fragment: [0x82] });
  });

  test('stream 0 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.PUSH_PROMISE, 0, 0, bytes(0, 0, 0, 2)), PROTOCOL_ERROR);
  });

  test('fewer than 4 octets for the promised id is a connection FRAME_SIZE_ERROR', () => {
    connectionError(encodeFrame(FrameType.PUSH_PROMISE, 0, 1, bytes(0, 0, 2)), FRAME_SIZE_ERROR);
    connectionError(encodeFrame(FrameType.PUSH_PROMISE, Flag.PADDED, 1, bytes(0, 0, 0, 2)), FRAME_SIZE_ERROR);
  });

  test('padding rules as for DATA', () => {
    connectionError(encodeFrame(FrameType.PUSH_PROMISE, Flag.PADDED, 1, new Uint8Array(0)), FRAME_SIZE_ERROR);
    connectionError(encodeFrame(FrameType.PUSH_PROMISE, Flag.PADDED, 1, bytes(1, 0, 0, 0, 2)), PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §6.7: PING', () => {
  test('round trip, with and without ACK; opaque is a view', () => {
    expect(plain(decodeOne(encodePing(PING_OPAQUE, true)))).toEqual({ type: FrameType.PING, streamId: 0, ack: true, opaque: Array.from(PING_OPAQUE) });
    const chunk = own(encodePing(PING_OPAQUE, false));
    const decoder = new FrameDecoder();
    decoder.push(chunk);
    const frame = decoder.next() as { opaque: Uint8Array; ack: boolean };
    expect(frame.ack).toBe(false);
    expect(frame.opaque.buffer).toBe(chunk.buffer);
    expect(() => encodePing(bytes(1, 2, 3), false)).toThrow(RangeError);
  });

  test('a stream id other than 0 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.PING, 0, 1, new Uint8Array(8)), PROTOCOL_ERROR);
  });

  test('a length other than 8 is a connection FRAME_SIZE_ERROR', () => {
    connectionError(encodeFrame(FrameType.PING, 0, 0, new Uint8Array(7)), FRAME_SIZE_ERROR);
    connectionError(encodeFrame(FrameType.PING, Flag.ACK, 0, new Uint8Array(9)), FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §6.8: GOAWAY', () => {
  test('round trip, with and without debug data; debug data is a view', () => {
    expect(plain(decodeOne(encodeGoaway(7, H2ErrorCode.ENHANCE_YOUR_CALM)))).toEqual({
      type: FrameType.GOAWAY, streamId: 0, lastStreamId: 7, errorCode: H2ErrorCode.ENHANCE_YOUR_CALM, debugData: [],
    });
    const chunk = own(encodeGoaway(2 ** 31 - 1, 0xffff_ffff, bytes(0x68, 0x69)));
    const decoder = new FrameDecoder();
    decoder.push(chunk);
    const frame = decoder.next() as { debugData: Uint8Array };
    expect(plain(frame as Frame)).toEqual({ type: FrameType.GOAWAY, streamId: 0, lastStreamId: 2 ** 31 - 1, errorCode: 0xffff_ffff, debugData: [0x68, 0x69] });
    expect(frame.debugData.buffer).toBe(chunk.buffer);
  });

  test('a stream id other than 0 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.GOAWAY, 0, 3, new Uint8Array(8)), PROTOCOL_ERROR);
  });

  test('fewer than 8 octets is a connection FRAME_SIZE_ERROR', () => {
    connectionError(encodeFrame(FrameType.GOAWAY, 0, 0, new Uint8Array(7)), FRAME_SIZE_ERROR);
    connectionError(encodeFrame(FrameType.GOAWAY, 0, 0, new Uint8Array(0)), FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §6.9: WINDOW_UPDATE', () => {
  test('round trip on the connection and on a stream', () => {
    expect(plain(decodeOne(encodeWindowUpdate(0, 2 ** 31 - 1)))).toEqual({ type: FrameType.WINDOW_UPDATE, streamId: 0, increment: 2 ** 31 - 1 });
    expect(plain(decodeOne(encodeWindowUpdate(9, 1)))).toEqual({ type: FrameType.WINDOW_UPDATE, streamId: 9, increment: 1 });
    expect(() => encodeWindowUpdate(1, 0)).toThrow(RangeError);
    expect(() => encodeWindowUpdate(1, 2 ** 31)).toThrow(RangeError);
  });

  test('a length other than 4 is a connection FRAME_SIZE_ERROR, on a stream too', () => {
    connectionError(encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, bytes(0, 0, 1)), FRAME_SIZE_ERROR);
    connectionError(encodeFrame(FrameType.WINDOW_UPDATE, 0, 3, bytes(0, 0, 0, 1, 0)), FRAME_SIZE_ERROR);
  });

  test('an increment of 0 is a connection PROTOCOL_ERROR on stream 0', () => {
    connectionError(encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, bytes(0, 0, 0, 0)), PROTOCOL_ERROR);
    // Only the reserved bit set: still 0.
    connectionError(encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, bytes(0x80, 0, 0, 0)), PROTOCOL_ERROR);
  });

  test('an increment of 0 is a stream PROTOCOL_ERROR on a stream', () => {
    streamError(encodeFrame(FrameType.WINDOW_UPDATE, 0, 11, bytes(0, 0, 0, 0)), 11, PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §6.10: CONTINUATION', () => {
  test('round trip, with and without END_HEADERS', () => {
    expect(plain(decodeOne(encodeContinuation(3, bytes(1, 2), true)))).toEqual({ type: FrameType.CONTINUATION, streamId: 3, fragment: [1, 2], endHeaders: true });
    expect(plain(decodeOne(encodeContinuation(3, new Uint8Array(0), false)))).toEqual({ type: FrameType.CONTINUATION, streamId: 3, fragment: [], endHeaders: false });
  });

  test('stream 0 is a connection PROTOCOL_ERROR', () => {
    connectionError(encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 0, bytes(0x82)), PROTOCOL_ERROR);
  });

  test('a CONTINUATION out of sequence is not the decoder\'s concern: it is returned', () => {
    expect(decodeOne(encodeContinuation(5, bytes(0x82), true))).toMatchObject({ type: FrameType.CONTINUATION, streamId: 5 });
  });
});

describe('RFC 9113 §4: reading a byte stream', () => {
  /** One of each frame type, padding and priority included. */
  const stream = (): Uint8Array => concat(
    encodeSettings([[SettingId.MAX_FRAME_SIZE, 20_000], [SettingId.ENABLE_CONNECT_PROTOCOL, 1]]),
    encodeSettingsAck(),
    encodeHeaders(1, Uint8Array.from({ length: 40 }, (_, i) => i), false, 16),
    encodeFrame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS, 3, bytes(1, 0, 0, 0, 1, 9, 0x82, 0)),
    ...encodeData(1, Uint8Array.from({ length: 300 }, (_, i) => i & 0xff), false),
    encodeFrame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, bytes(2, 7, 0, 0)),
    ...encodeData(3, new Uint8Array(0), true),
    encodePriority(5, 3, 100, false),
    encodeRstStream(3, H2ErrorCode.CANCEL),
    encodePushPromise(1, 2, bytes(0x82, 0x84), true),
    encodePing(PING_OPAQUE, false),
    encodeFrame(0x42, 0x3, 1, bytes(1, 2, 3)),
    encodeWindowUpdate(0, 65_535),
    encodeWindowUpdate(1, 1),
    encodeGoaway(3, H2ErrorCode.NO_ERROR, bytes(0x62, 0x79, 0x65)),
  );
  const whole = stream();
  const expected = decodeAll(whole).map(plain);

  test('many frames in one chunk', () => {
    expect(expected.map((f) => (f as { type: number }).type)).toEqual([4, 4, 1, 9, 9, 1, 0, 0, 0, 2, 3, 5, 6, 0x42, 8, 8, 7]);
    expect(expected[0]).toEqual({ type: FrameType.SETTINGS, streamId: 0, ack: false, settings: [[5, 20_000], [8, 1]] });
    expect(expected.at(-1)).toEqual({ type: FrameType.GOAWAY, streamId: 0, lastStreamId: 3, errorCode: 0, debugData: [0x62, 0x79, 0x65] });
  });

  test('byte-at-a-time feeding gives identical frames', () => {
    const decoder = new FrameDecoder();
    expect(decodeAll(whole, [1], decoder).map(plain)).toEqual(expected);
    expect(decoder.buffered).toBe(0);
  });

  test('frames split across chunks at every awkward size', () => {
    for (const sizes of [[2], [7], [8], [9], [10], [13], [17, 1], [100], [3, 200, 5], [1000]]) {
      expect(decodeAll(whole, sizes).map(plain)).toEqual(expected);
    }
  });

  test('a frame split across chunks is assembled into a copy; the next whole one is a view again', () => {
    const data = concat(...encodeData(1, bytes(1, 2, 3, 4), false));
    const chunk2 = own(concat(data.subarray(6), ...encodeData(3, bytes(5, 6), true)));
    const decoder = new FrameDecoder();
    decoder.push(data.subarray(0, 6));
    expect(decoder.next()).toBeUndefined();
    expect(decoder.buffered).toBe(6);
    decoder.push(chunk2);
    const a = decoder.next() as { data: Uint8Array };
    const b = decoder.next() as { data: Uint8Array };
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4]);
    expect(a.data.buffer).not.toBe(chunk2.buffer);
    expect(Array.from(b.data)).toEqual([5, 6]);
    expect(b.data.buffer).toBe(chunk2.buffer);
    expect(decoder.next()).toBeUndefined();
    expect(decoder.buffered).toBe(0);
  });

  test('a header split across chunks waits for the rest; empty chunks are harmless', () => {
    const decoder = new FrameDecoder();
    const ping = encodePing(PING_OPAQUE, true);
    decoder.push(new Uint8Array(0));
    decoder.push(ping.subarray(0, 4));
    expect(decoder.next()).toBeUndefined();
    decoder.push(ping.subarray(4, 9));
    expect(decoder.next()).toBeUndefined();
    expect(decoder.buffered).toBe(9);
    decoder.push(ping.subarray(9));
    expect(decoder.next()).toMatchObject({ type: FrameType.PING, ack: true });
    expect(decoder.buffered).toBe(0);
  });

  test('after a thrown error the next frame still decodes, also when both were split across chunks', () => {
    const bad = encodeFrame(FrameType.RST_STREAM, 0, 1, bytes(0, 0, 8));
    const input = concat(bad, encodeWindowUpdate(3, 1), encodeFrame(FrameType.WINDOW_UPDATE, 0, 5, bytes(0, 0, 0, 0)), FOLLOWING);
    for (const size of [1, 5, 11, input.length]) {
      const decoder = new FrameDecoder();
      const out: string[] = [];
      for (let off = 0; off < input.length; off += size) {
        decoder.push(input.subarray(off, off + size));
        for (;;) {
          try {
            const f = decoder.next();
            if (f === undefined) break;
            out.push(`frame ${f.type}`);
          } catch (err) {
            out.push(err instanceof H2StreamError ? `stream ${err.streamId} ${err.h2Code}` : `conn ${(err as H2ConnectionError).h2Code}`);
          }
        }
      }
      expect(out).toEqual([`conn ${FRAME_SIZE_ERROR}`, 'frame 8', `stream 5 ${PROTOCOL_ERROR}`, 'frame 6']);
    }
  });
});
