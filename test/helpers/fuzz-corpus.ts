/**
 * Malformed input for the abuse suite: HTTP/2 frames that break RFC 9113 in one precise way
 * each, HTTP/1.1 request heads that no parser should accept, and seeded random bytes, so a
 * failure reproduces byte for byte.
 */
import { frame, FrameType, headerBlock } from './raw-h2.ts';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SETTINGS = frame(FrameType.SETTINGS, 0, 0);
const CONTINUATION = 0x9;

/** HTTP/2 error codes by name (RFC 9113 §7), as the assertions read them. */
export const H2Err = { NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FRAME_SIZE_ERROR: 0x6, COMPRESSION_ERROR: 0x9, ENHANCE_YOUR_CALM: 0xb } as const;

/** A connection-level violation and the GOAWAY code it is answered with (the same on every runtime: one engine). */
export interface H2Case {
  readonly name: string;
  readonly bytes: Buffer;
  readonly goaway: number;
}

const protocolError = H2Err.PROTOCOL_ERROR;

const get = (streamId: number, flags = 0x5) => frame(FrameType.HEADERS, flags, streamId, headerBlock([[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'x']]));

/** Each breaks one rule of RFC 9113 after a valid preface; the section is in the name. */
export const H2_CASES: readonly H2Case[] = [
  // §6.5: a SETTINGS length that is not a multiple of 6 is FRAME_SIZE_ERROR.
  { name: 'SETTINGS with an odd length (§6.5)', bytes: Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(7))]), goaway: H2Err.FRAME_SIZE_ERROR },
  { name: 'SETTINGS ACK with a payload (§6.5)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.SETTINGS, 0x1, 0, Buffer.alloc(6))]), goaway: H2Err.FRAME_SIZE_ERROR },
  { name: 'SETTINGS on a stream (§6.5)', bytes: Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 1)]), goaway: protocolError },
  // §6.1: DATA on stream 0 is PROTOCOL_ERROR.
  { name: 'DATA on stream 0 (§6.1)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.DATA, 0, 0, Buffer.from('x'))]), goaway: H2Err.PROTOCOL_ERROR },
  { name: 'HEADERS on stream 0 (§6.2)', bytes: Buffer.concat([PREFACE, SETTINGS, get(0)]), goaway: protocolError },
  { name: 'HEADERS on an even (server) stream id (§5.1.1)', bytes: Buffer.concat([PREFACE, SETTINGS, get(2)]), goaway: protocolError },
  { name: 'a header block that is not HPACK (RFC 7541)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.HEADERS, 0x5, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]))]), goaway: H2Err.COMPRESSION_ERROR },
  { name: 'PING of 7 bytes (§6.7)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.PING, 0, 0, Buffer.alloc(7))]), goaway: H2Err.FRAME_SIZE_ERROR },
  { name: 'PING on a stream (§6.7)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.PING, 0, 1, Buffer.alloc(8))]), goaway: protocolError },
  { name: 'WINDOW_UPDATE of 3 bytes (§6.9)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))]), goaway: H2Err.FRAME_SIZE_ERROR },
  { name: 'WINDOW_UPDATE with a 0 increment on the connection (§6.9)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(4))]), goaway: protocolError },
  { name: 'RST_STREAM on stream 0 (§6.4)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.RST_STREAM, 0, 0, Buffer.alloc(4))]), goaway: protocolError },
  { name: 'RST_STREAM on an idle stream (§5.1)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.RST_STREAM, 0, 5, Buffer.alloc(4))]), goaway: protocolError },
  { name: 'a frame over SETTINGS_MAX_FRAME_SIZE (§4.2)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.DATA, 0, 1, Buffer.alloc(20_000))]), goaway: H2Err.FRAME_SIZE_ERROR },
  { name: 'GOAWAY of 3 bytes (§6.8)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(FrameType.GOAWAY, 0, 0, Buffer.alloc(3))]), goaway: H2Err.FRAME_SIZE_ERROR },
  { name: 'CONTINUATION without HEADERS (§6.10)', bytes: Buffer.concat([PREFACE, SETTINGS, frame(CONTINUATION, 0x4, 1)]), goaway: H2Err.PROTOCOL_ERROR },
  // §3.4: the preface must be followed by SETTINGS. These bytes read as a frame header of
  // 6.8 MB, over SETTINGS_MAX_FRAME_SIZE, which is refused from the header alone (§4.2).
  { name: 'the preface followed by text (§3.4)', bytes: Buffer.concat([PREFACE, Buffer.from('hello garbage that is not a frame at all')]), goaway: H2Err.FRAME_SIZE_ERROR },
];

/** HTTP/1.1 heads that break RFC 9112; every runtime answers each with 400. */
export const H1_CASES: ReadonlyArray<{ readonly name: string; readonly bytes: Buffer }> = [
  { name: 'garbage after the version', bytes: Buffer.from('GET /echo HTTP/1.1 GARBAGE\r\nHost: x\r\n\r\n') },
  { name: 'binary before the method', bytes: Buffer.from('\x00\x01\x02GET\r\n\r\n', 'latin1') },
  { name: 'a control character in the method', bytes: Buffer.from('G\x7fT / HTTP/1.1\r\n\r\n', 'latin1') },
  { name: 'HTTP/9.9', bytes: Buffer.from('GET / HTTP/9.9\r\nHost: x\r\n\r\n') },
  { name: 'a header line without a colon', bytes: Buffer.from('GET / HTTP/1.1\r\nHost x\r\n\r\n') },
  { name: 'two different Content-Lengths (request smuggling)', bytes: Buffer.from('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello') },
  { name: 'a chunk size that is not hex', bytes: Buffer.from('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n') },
];

/** Inputs that stop part-way: the gateway has to give up on them by itself (timeouts, PING liveness). */
export const TRUNCATED: ReadonlyArray<{ readonly name: string; readonly bytes: Buffer }> = [
  { name: 'half a preface', bytes: PREFACE.subarray(0, 12) },
  { name: 'a frame header cut short', bytes: Buffer.concat([PREFACE, SETTINGS, get(1).subarray(0, 5)]) },
  { name: 'a HEADERS frame cut short', bytes: Buffer.concat([PREFACE, SETTINGS, get(1).subarray(0, 14)]) },
  { name: 'a header block without END_HEADERS', bytes: Buffer.concat([PREFACE, SETTINGS, get(1, 0x1)]) },
  { name: 'a request line cut short', bytes: Buffer.from('GET /echo HTT') },
  { name: 'a head without its blank line', bytes: Buffer.from('GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n') },
];

/** A small seeded PRNG (mulberry32): the same bytes on every run. */
export function seededBytes(seed: number, length: number): Buffer {
  let a = seed >>> 0;
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}
