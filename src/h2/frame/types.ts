/**
 * HTTP/2 frames as plain values (RFC 9113 §4, §6). The decoder produces these, the
 * connection consumes them; payloads are views (`subarray`) into the bytes read, never copies.
 */

/** Frame type codes (RFC 9113 §6, §11.2). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113 §6). The same bit means different things per type. */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** RFC 9113 §4.1: the frame header is nine octets. */
export const FRAME_HEADER_LENGTH = 9;
/** RFC 9113 §4.2: SETTINGS_MAX_FRAME_SIZE starts at, and may not go below, 2^14. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** RFC 9113 §4.2: the largest SETTINGS_MAX_FRAME_SIZE allowed, 2^24-1. */
export const MAX_ALLOWED_FRAME_SIZE = 16_777_215;

/** RFC 9113 §5.3.2: priority signals are parsed (for the frame-size rules) and ignored. */
export interface PrioritySignal {
  readonly exclusive: boolean;
  readonly dependency: number;
  readonly weight: number;
}

export interface DataFrame {
  readonly type: typeof FrameType.DATA;
  readonly streamId: number;
  /** The data without padding: a view into the bytes read. */
  readonly data: Uint8Array;
  /** The whole payload length, padding included: what flow control counts (RFC 9113 §6.9). */
  readonly flowLength: number;
  readonly endStream: boolean;
}

export interface HeadersFrame {
  readonly type: typeof FrameType.HEADERS;
  readonly streamId: number;
  /** The field block fragment without padding or priority fields. */
  readonly fragment: Uint8Array;
  readonly endStream: boolean;
  readonly endHeaders: boolean;
  readonly priority: PrioritySignal | undefined;
}

export interface PriorityFrame {
  readonly type: typeof FrameType.PRIORITY;
  readonly streamId: number;
  readonly priority: PrioritySignal;
}

export interface RstStreamFrame {
  readonly type: typeof FrameType.RST_STREAM;
  readonly streamId: number;
  readonly errorCode: number;
}

export interface SettingsFrame {
  readonly type: typeof FrameType.SETTINGS;
  readonly streamId: 0;
  readonly ack: boolean;
  /** [identifier, value] pairs in the order sent; unknown identifiers included (the connection ignores them, §6.5.2). */
  readonly settings: ReadonlyArray<readonly [number, number]>;
}

export interface PushPromiseFrame {
  readonly type: typeof FrameType.PUSH_PROMISE;
  readonly streamId: number;
  readonly promisedStreamId: number;
  readonly fragment: Uint8Array;
  readonly endHeaders: boolean;
}

export interface PingFrame {
  readonly type: typeof FrameType.PING;
  readonly streamId: 0;
  readonly ack: boolean;
  /** Eight octets of opaque data. */
  readonly opaque: Uint8Array;
}

export interface GoawayFrame {
  readonly type: typeof FrameType.GOAWAY;
  readonly streamId: 0;
  readonly lastStreamId: number;
  readonly errorCode: number;
  readonly debugData: Uint8Array;
}

export interface WindowUpdateFrame {
  readonly type: typeof FrameType.WINDOW_UPDATE;
  readonly streamId: number;
  /** 1 to 2^31-1; an increment of 0 is reported by the decoder as an error (§6.9). */
  readonly increment: number;
}

export interface ContinuationFrame {
  readonly type: typeof FrameType.CONTINUATION;
  readonly streamId: number;
  readonly fragment: Uint8Array;
  readonly endHeaders: boolean;
}

/** A frame of a type this implementation does not know: ignored (RFC 9113 §4.1, §5.5). */
export interface UnknownFrame {
  readonly type: number;
  readonly unknown: true;
  readonly streamId: number;
  readonly flags: number;
  readonly payload: Uint8Array;
}

export type Frame =
  | DataFrame
  | HeadersFrame
  | PriorityFrame
  | RstStreamFrame
  | SettingsFrame
  | PushPromiseFrame
  | PingFrame
  | GoawayFrame
  | WindowUpdateFrame
  | ContinuationFrame
  | UnknownFrame;

/** SETTINGS identifiers (RFC 9113 §6.5.2; RFC 8441 §3 for ENABLE_CONNECT_PROTOCOL). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
} as const;

/** RFC 9113 §6.9.1: the largest flow-control window, 2^31-1. */
export const MAX_WINDOW_SIZE = 2 ** 31 - 1;
