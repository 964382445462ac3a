import { H2ErrorCode } from './error-codes.ts';
import { H2ConnectionError, H2StreamError } from './protocol-error.ts';

/**
 * Stream states (RFC 9113 §5.1) and what each does with a received frame, as tables: a
 * transition that is not in `TRANSITIONS` cannot happen, and `ON_RECEIVE` names the stream or
 * connection error the RFC prescribes for every frame a peer may send in every state.
 * Neither endpoint of h2ws pushes (SETTINGS_ENABLE_PUSH = 0), so the reserved states never occur.
 */
export const StreamState = {
  IDLE: 0,
  OPEN: 1,
  HALF_CLOSED_LOCAL: 2,
  HALF_CLOSED_REMOTE: 3,
  CLOSED: 4,
} as const;
/** One of {@link StreamState}. */
export type StreamStateValue = (typeof StreamState)[keyof typeof StreamState];

export const STATE_NAMES: Readonly<Record<StreamStateValue, string>> = ['idle', 'open', 'half-closed (local)', 'half-closed (remote)', 'closed'];

/** What changes a stream's state (RFC 9113 Figure 2): H = HEADERS, ES = END_STREAM, R = RST_STREAM. */
export const StreamEvent = {
  SEND_HEADERS: 0,
  RECV_HEADERS: 1,
  SEND_END_STREAM: 2,
  RECV_END_STREAM: 3,
  SEND_RST: 4,
  RECV_RST: 5,
} as const;
export type StreamEventValue = (typeof StreamEvent)[keyof typeof StreamEvent];

const { OPEN, HALF_CLOSED_LOCAL: HCL, HALF_CLOSED_REMOTE: HCR, CLOSED } = StreamState;

/** RFC 9113 §5.1, Figure 2 (without the reserved states). Rows: state; columns: StreamEvent. */
export const TRANSITIONS: ReadonlyArray<ReadonlyArray<StreamStateValue | undefined>> = [
  //          send H  recv H  send ES  recv ES  send R   recv R
  /* idle */ [OPEN, OPEN, undefined, undefined, undefined, undefined],
  /* open */ [OPEN, OPEN, HCL, HCR, CLOSED, CLOSED],
  /* hcl  */ [undefined, HCL, undefined, CLOSED, CLOSED, CLOSED],
  /* hcr  */ [HCR, undefined, CLOSED, undefined, CLOSED, CLOSED],
  /* closd*/ [undefined, undefined, undefined, undefined, undefined, undefined],
];

/** The next state, or undefined when the event is not allowed in `state`. */
export function transition(state: StreamStateValue, event: StreamEventValue): StreamStateValue | undefined {
  return TRANSITIONS[state]![event];
}

/** The frames a peer sends on a stream, as the table's columns. */
export const ReceivedKind = {
  HEADERS: 0,
  DATA: 1,
  RST_STREAM: 2,
  WINDOW_UPDATE: 3,
  PRIORITY: 4,
} as const;
export type ReceivedKindValue = (typeof ReceivedKind)[keyof typeof ReceivedKind];

/**
 * What receiving a frame does in a state: accept it, ignore it, or the error the RFC names.
 * `stream` errors are RST_STREAM on that stream (§5.4.2); `connection` errors are GOAWAY (§5.4.1).
 */
export type Verdict =
  | { readonly kind: 'accept' }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'stream'; readonly code: number; readonly why: string }
  | { readonly kind: 'connection'; readonly code: number; readonly why: string };

const accept: Verdict = { kind: 'accept' };
const ignore: Verdict = { kind: 'ignore' };
const idleError = (frame: string): Verdict => ({ kind: 'connection', code: H2ErrorCode.PROTOCOL_ERROR, why: `${frame} on an idle stream (RFC 9113 §5.1)` });
const halfClosedRemote = (frame: string): Verdict => ({ kind: 'stream', code: H2ErrorCode.STREAM_CLOSED, why: `${frame} after the peer's END_STREAM (RFC 9113 §5.1, half-closed (remote))` });

/**
 * RFC 9113 §5.1 per state, per received frame. Closed streams are split by how they closed,
 * because the RFC treats them differently: frames may still be in flight after h2ws's own
 * RST_STREAM (ignored), while anything after the peer's END_STREAM or RST_STREAM is an error.
 */
export const ON_RECEIVE: Readonly<Record<'idle' | 'open' | 'half-closed (local)' | 'half-closed (remote)' | 'closed (reset by us)' | 'closed (reset by the peer)' | 'closed (by the peer)', readonly Verdict[]>> = {
  //                HEADERS                 DATA                      RST_STREAM                 WINDOW_UPDATE              PRIORITY
  idle: [accept, idleError('DATA'), idleError('RST_STREAM'), idleError('WINDOW_UPDATE'), accept],
  open: [accept, accept, accept, accept, accept],
  'half-closed (local)': [accept, accept, accept, accept, accept],
  'half-closed (remote)': [halfClosedRemote('HEADERS'), halfClosedRemote('DATA'), accept, accept, accept],
  // §5.4.2: after sending RST_STREAM, frames already in flight arrive and are ignored.
  'closed (reset by us)': [ignore, ignore, ignore, ignore, accept],
  // §5.1 closed: "An endpoint that receives any frame other than PRIORITY after receiving a
  // RST_STREAM MUST treat that as a stream error of type STREAM_CLOSED" (a second RST_STREAM
  // is not answered, §5.4.2).
  'closed (reset by the peer)': [
    { kind: 'stream', code: H2ErrorCode.STREAM_CLOSED, why: 'HEADERS after the peer\'s RST_STREAM (RFC 9113 §5.1)' },
    { kind: 'stream', code: H2ErrorCode.STREAM_CLOSED, why: 'DATA after the peer\'s RST_STREAM (RFC 9113 §5.1)' },
    ignore,
    { kind: 'stream', code: H2ErrorCode.STREAM_CLOSED, why: 'WINDOW_UPDATE after the peer\'s RST_STREAM (RFC 9113 §5.1)' },
    accept,
  ],
  // §5.1 closed: "An endpoint that receives any frames after receiving a frame with the
  // END_STREAM flag set MUST treat that as a connection error of type STREAM_CLOSED";
  // WINDOW_UPDATE and RST_STREAM may still cross in flight with our own END_STREAM.
  'closed (by the peer)': [
    { kind: 'connection', code: H2ErrorCode.STREAM_CLOSED, why: 'HEADERS on a closed stream (RFC 9113 §5.1)' },
    { kind: 'connection', code: H2ErrorCode.STREAM_CLOSED, why: 'DATA on a closed stream (RFC 9113 §5.1)' },
    ignore,
    ignore,
    accept,
  ],
};

/** The verdict for a frame received on a stream the connection still holds, by its state. */
export function verdictInState(state: StreamStateValue, kind: ReceivedKindValue): Verdict {
  switch (state) {
    case StreamState.OPEN:
      return ON_RECEIVE.open[kind]!;
    case StreamState.HALF_CLOSED_LOCAL:
      return ON_RECEIVE['half-closed (local)'][kind]!;
    case StreamState.HALF_CLOSED_REMOTE:
      return ON_RECEIVE['half-closed (remote)'][kind]!;
    default:
      return ON_RECEIVE['closed (by the peer)'][kind]!;
  }
}

/** Carries out a verdict: true to process the frame, false to ignore it; errors are thrown. */
export function applyVerdict(verdict: Verdict, streamId: number): boolean {
  switch (verdict.kind) {
    case 'accept':
      return true;
    case 'ignore':
      return false;
    case 'stream':
      throw new H2StreamError(streamId, verdict.code, verdict.why);
    case 'connection':
      throw new H2ConnectionError(verdict.code, verdict.why);
  }
}
