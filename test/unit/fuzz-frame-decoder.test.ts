/**
 * Seeded fuzzing of the frame decoder (RFC 9113 §4, §6): whatever bytes arrive, in whatever
 * chunking, it throws only protocol errors (never a RangeError or TypeError) and holds at
 * most one frame's worth of bytes plus the chunk just pushed. Deterministic: a failure
 * names its seed and reproduces.
 */
import { describe, expect, test } from 'vitest';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import { FrameDecoder } from '../../src/h2/frame/decoder.ts';
import {
  encodeContinuation, encodeData, encodeFrame, encodeGoaway, encodeHeaders, encodePing, encodePriority, encodePushPromise,
  encodeRstStream, encodeSettings, encodeSettingsAck, encodeWindowUpdate,
} from '../../src/h2/frame/encoder.ts';
import { DEFAULT_MAX_FRAME_SIZE, Flag, FRAME_HEADER_LENGTH, FrameType, SettingId } from '../../src/h2/frame/types.ts';
import { H2ConnectionError, H2StreamError } from '../../src/h2/protocol-error.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { concat as concatBytes } from '../helpers/sans-io.ts';


type Rng = () => number;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const randomBytes = (rng: Rng, n: number): Uint8Array => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(rng, 256);
  return out;
};
const concat = concatBytes;

interface Outcome {
  frames: number;
  streamErrors: number;
  connectionError: boolean;
}

/**
 * Feeds `input` in random chunks, draining after each push, checking every throw and the
 * buffered bound. Stops at the first connection error: it ends the connection.
 */
function feed(rng: Rng, input: Uint8Array, maxFrameSize: number, seed: number): Outcome {
  const decoder = new FrameDecoder(maxFrameSize);
  const outcome: Outcome = { frames: 0, streamErrors: 0, connectionError: false };
  const bounded = (chunk: number): void => {
    if (decoder.buffered > maxFrameSize + FRAME_HEADER_LENGTH + chunk) {
      throw new Error(`seed ${seed}: buffered ${decoder.buffered} > ${maxFrameSize} + 9 + ${chunk}`);
    }
  };
  let off = 0;
  while (off < input.length) {
    const mode = int(rng, 4);
    const n = mode === 0 ? 1 : mode === 1 ? 1 + int(rng, 16) : mode === 2 ? 1 + int(rng, 512) : 1 + int(rng, input.length);
    const chunk = input.subarray(off, off + n);
    off += n;
    decoder.push(chunk);
    bounded(chunk.length);
    for (;;) {
      let frame;
      try {
        frame = decoder.next();
      } catch (err) {
        if (err instanceof H2StreamError) {
          outcome.streamErrors++;
          bounded(chunk.length);
          continue;
        }
        if (err instanceof H2ConnectionError) {
          outcome.connectionError = true;
          return outcome;
        }
        throw new Error(`seed ${seed}: unexpected ${String(err)}`, { cause: err });
      }
      bounded(chunk.length);
      if (frame === undefined) break;
      outcome.frames++;
    }
    // Drained: less than one whole frame is left.
    expect(decoder.buffered).toBeLessThan(maxFrameSize + FRAME_HEADER_LENGTH);
  }
  return outcome;
}

/** A valid frame of a random type, with random flags where they are free. */
function validFrame(rng: Rng, maxFrameSize: number): Uint8Array {
  const stream = 1 + int(rng, 0x7fff_fffe);
  const small = (): Uint8Array => randomBytes(rng, int(rng, 64));
  switch (int(rng, 13)) {
    case 0:
      return concat(encodeData(stream, randomBytes(rng, int(rng, 2) ? int(rng, 64) : int(rng, maxFrameSize + 1)), rng() < 0.5));
    case 1: {
      const pad = int(rng, 20);
      return encodeFrame(FrameType.DATA, Flag.PADDED, stream, concat([Uint8Array.of(pad), small(), new Uint8Array(pad)]));
    }
    case 2:
      return encodeHeaders(stream, randomBytes(rng, int(rng, 300)), rng() < 0.5, 1 + int(rng, 128));
    case 3: {
      const pad = int(rng, 10);
      const prio = encodePriority(stream, int(rng, 100), 1 + int(rng, 256), rng() < 0.5).subarray(FRAME_HEADER_LENGTH);
      return encodeFrame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY | (int(rng, 2) * Flag.END_HEADERS), stream, concat([Uint8Array.of(pad), prio, small(), new Uint8Array(pad)]));
    }
    case 4:
      return encodePriority(stream, int(rng, 2) ? 0 : stream + 1, 1 + int(rng, 256), rng() < 0.5);
    case 5:
      return encodeRstStream(stream, int(rng, 14));
    case 6: {
      const pairs: Array<readonly [number, number]> = [];
      for (let i = int(rng, 6); i > 0; i--) {
        const id = 1 + int(rng, 8);
        const value = id === SettingId.ENABLE_PUSH || id === SettingId.ENABLE_CONNECT_PROTOCOL ? int(rng, 2)
          : id === SettingId.MAX_FRAME_SIZE ? DEFAULT_MAX_FRAME_SIZE + int(rng, 1000)
          : int(rng, 2 ** 31);
        pairs.push([id, value]);
      }
      return rng() < 0.2 ? encodeSettingsAck() : encodeSettings(pairs);
    }
    case 7:
      return encodePushPromise(stream, 2 * (1 + int(rng, 1000)), small(), rng() < 0.5);
    case 8:
      return encodePing(randomBytes(rng, 8), rng() < 0.5);
    case 9:
      return encodeGoaway(int(rng, 2 ** 31), int(rng, 14), small());
    case 10:
      return encodeWindowUpdate(int(rng, 2) ? 0 : stream, 1 + int(rng, 2 ** 31 - 1));
    case 11:
      return encodeContinuation(stream, small(), rng() < 0.5);
    default:
      return encodeFrame(10 + int(rng, 246), int(rng, 256), int(rng, 2) ? 0 : stream, small());
  }
}

/** One random corruption of `input`: bit flip, truncation, a changed length field, or inserted bytes. */
function mutate(rng: Rng, input: Uint8Array, frameStarts: readonly number[]): Uint8Array {
  if (input.length === 0) return randomBytes(rng, 1 + int(rng, 16));
  switch (int(rng, 5)) {
    case 0: {
      const out = input.slice();
      for (let i = 1 + int(rng, 4); i > 0; i--) out[int(rng, out.length)]! ^= 1 << int(rng, 8);
      return out;
    }
    case 1:
      return input.slice(0, int(rng, input.length));
    case 2: {
      // A length field off by a little, or replaced outright (up to 2^24-1).
      const out = input.slice();
      const at = frameStarts[int(rng, frameStarts.length)]!;
      const old = (out[at]! << 16) | (out[at + 1]! << 8) | out[at + 2]!;
      const length = int(rng, 2) ? Math.max(0, old + int(rng, 17) - 8) : int(rng, 1 << 24);
      out[at] = length >>> 16;
      out[at + 1] = length >>> 8;
      out[at + 2] = length;
      return out;
    }
    case 3: {
      // The header fields that select the rules: type, flags, stream id.
      const out = input.slice();
      const at = frameStarts[int(rng, frameStarts.length)]!;
      out[at + 3 + int(rng, 6)] = int(rng, 2) ? int(rng, 12) : int(rng, 256);
      return out;
    }
    default: {
      const at = int(rng, input.length + 1);
      return concat([input.subarray(0, at), randomBytes(rng, 1 + int(rng, 12)), input.subarray(at)]);
    }
  }
}

describe('fuzzing the frame decoder (RFC 9113 §4, §6)', () => {
  test('2,000 random byte strings in random chunkings: only protocol errors, bounded buffering', () => {
    const totals = { frames: 0, streamErrors: 0, connectionErrors: 0, clean: 0 };
    for (let seed = 1; seed <= 2_000; seed++) {
      const rng = mulberry32(seed);
      const maxFrameSize = int(rng, 4) === 0 ? DEFAULT_MAX_FRAME_SIZE * (1 + int(rng, 8)) : DEFAULT_MAX_FRAME_SIZE;
      let input: Uint8Array;
      if (seed % 2 === 0) {
        // Pure noise: the first length field usually exceeds the limit.
        input = randomBytes(rng, int(rng, 4) === 0 ? int(rng, 40_000) : int(rng, 300));
      } else {
        // Noise shaped as frames: small lengths, the known types, small stream ids.
        const parts: Uint8Array[] = [];
        for (let i = 1 + int(rng, 8); i > 0; i--) {
          const payload = randomBytes(rng, int(rng, 3) === 0 ? int(rng, 200) : int(rng, 12));
          parts.push(encodeFrame(int(rng, 12), int(rng, 256), int(rng, 3) === 0 ? 0 : int(rng, 16), payload));
        }
        input = concat(parts);
      }
      const outcome = feed(rng, input, maxFrameSize, seed);
      totals.frames += outcome.frames;
      totals.streamErrors += outcome.streamErrors;
      if (outcome.connectionError) totals.connectionErrors++;
      else totals.clean++;
    }
    // The corpus reaches every path: frames, stream errors, connection errors, clean ends.
    expect(totals.frames).toBeGreaterThan(300);
    expect(totals.streamErrors).toBeGreaterThan(0);
    expect(totals.connectionErrors).toBeGreaterThan(1_000);
    expect(totals.clean).toBeGreaterThan(50);
  });

  test('2,000 mutations of valid frame sequences: only protocol errors, bounded buffering', () => {
    const totals = { frames: 0, streamErrors: 0, connectionErrors: 0, clean: 0 };
    for (let seed = 1; seed <= 2_000; seed++) {
      const rng = mulberry32(0x5eed_0000 + seed);
      const maxFrameSize = int(rng, 4) === 0 ? DEFAULT_MAX_FRAME_SIZE * 2 : DEFAULT_MAX_FRAME_SIZE;
      const frames: Uint8Array[] = [];
      for (let i = 1 + int(rng, 6); i > 0; i--) frames.push(validFrame(rng, maxFrameSize));
      const valid = concat(frames);
      // Every valid sequence decodes without error before it is corrupted.
      const before = feed(mulberry32(seed), valid, maxFrameSize, seed);
      expect(before.connectionError || before.streamErrors > 0).toBe(false);
      const starts: number[] = [];
      let at = 0;
      while (at < valid.length) {
        starts.push(at);
        at += FRAME_HEADER_LENGTH + ((valid[at]! << 16) | (valid[at + 1]! << 8) | valid[at + 2]!);
      }
      let input = valid;
      for (let m = 1 + int(rng, 3); m > 0; m--) input = mutate(rng, input, starts.filter((s) => s + FRAME_HEADER_LENGTH <= input.length));
      const outcome = feed(rng, input, maxFrameSize, seed);
      totals.frames += outcome.frames;
      totals.streamErrors += outcome.streamErrors;
      if (outcome.connectionError) totals.connectionErrors++;
      else totals.clean++;
    }
    expect(totals.frames).toBeGreaterThan(1_000);
    expect(totals.streamErrors).toBeGreaterThan(0);
    expect(totals.connectionErrors).toBeGreaterThan(200);
    expect(totals.clean).toBeGreaterThan(200);
  });

  test('error codes thrown are only the ones the framing rules name', () => {
    const allowed = new Set<number>([H2ErrorCode.PROTOCOL_ERROR, H2ErrorCode.FRAME_SIZE_ERROR, H2ErrorCode.FLOW_CONTROL_ERROR]);
    const seen = new Set<number>();
    for (let seed = 1; seed <= 500; seed++) {
      const rng = mulberry32(0xc0de + seed);
      const decoder = new FrameDecoder();
      decoder.push(concat([validFrame(rng, DEFAULT_MAX_FRAME_SIZE)].map((f) => mutate(rng, f, [0]))));
      try {
        while (decoder.next() !== undefined);
      } catch (err) {
        expect(err instanceof H2ConnectionError || err instanceof H2StreamError).toBe(true);
        seen.add((err as H2ConnectionError).h2Code);
      }
    }
    for (const code of seen) expect(allowed.has(code)).toBe(true);
    expect(seen.has(H2ErrorCode.FRAME_SIZE_ERROR)).toBe(true);
    expect(seen.has(H2ErrorCode.PROTOCOL_ERROR)).toBe(true);
  });
});
