/**
 * RFC 9113 §5.1 stream states, on plain values: the transition table (Figure 2) cell by cell,
 * and, for every state a server-role connection can put a client's stream in, what each frame
 * a peer may send on it becomes: accepted, ignored, RST_STREAM with its code (§5.4.2), or
 * GOAWAY with its code and last stream id (§5.4.1).
 *
 * The expectations are written from the RFC's text, not copied from src/h2/stream-state.ts;
 * a separate block checks that ON_RECEIVE says the same thing.
 */
import { describe, expect, test } from 'vitest';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import {
  ON_RECEIVE, ReceivedKind, type ReceivedKindValue, StreamEvent, type StreamEventValue, StreamState, type StreamStateValue, TRANSITIONS,
  transition,
} from '../../src/h2/stream-state.ts';
import { type Bench, describeFrames, encodePriority, encodeRstStream, encodeWindowUpdate, GET, POST, server } from '../helpers/sans-io.ts';

const { PROTOCOL_ERROR, STREAM_CLOSED, CANCEL } = H2ErrorCode;

// ---------------------------------------------------------------------------------------------
// §5.1 Figure 2: transitions.

const S = StreamState;
const E = StreamEvent;
const STATE_LABEL: Record<StreamStateValue, string> = {
  [S.IDLE]: 'idle',
  [S.OPEN]: 'open',
  [S.HALF_CLOSED_LOCAL]: 'half-closed (local)',
  [S.HALF_CLOSED_REMOTE]: 'half-closed (remote)',
  [S.CLOSED]: 'closed',
};
const EVENT_LABEL: Record<StreamEventValue, string> = {
  [E.SEND_HEADERS]: 'send H',
  [E.RECV_HEADERS]: 'recv H',
  [E.SEND_END_STREAM]: 'send ES',
  [E.RECV_END_STREAM]: 'recv ES',
  [E.SEND_RST]: 'send R',
  [E.RECV_RST]: 'recv R',
};

/**
 * Figure 2 without the reserved states (no push). `null`: the event cannot happen in that
 * state (nothing to END before HEADERS; no RST_STREAM on an idle stream, §6.4; nothing after
 * our own END_STREAM but RST_STREAM; nothing at all once closed).
 */
const FIGURE_2: ReadonlyArray<readonly [StreamStateValue, StreamEventValue, StreamStateValue | null]> = [
  // idle: "Sending a HEADERS frame … / receiving a HEADERS frame causes the stream to become open".
  [S.IDLE, E.SEND_HEADERS, S.OPEN],
  [S.IDLE, E.RECV_HEADERS, S.OPEN],
  [S.IDLE, E.SEND_END_STREAM, null],
  [S.IDLE, E.RECV_END_STREAM, null],
  [S.IDLE, E.SEND_RST, null],
  [S.IDLE, E.RECV_RST, null],
  // open: more HEADERS (1xx, trailers) keep it open; ES half-closes; R closes.
  [S.OPEN, E.SEND_HEADERS, S.OPEN],
  [S.OPEN, E.RECV_HEADERS, S.OPEN],
  [S.OPEN, E.SEND_END_STREAM, S.HALF_CLOSED_LOCAL],
  [S.OPEN, E.RECV_END_STREAM, S.HALF_CLOSED_REMOTE],
  [S.OPEN, E.SEND_RST, S.CLOSED],
  [S.OPEN, E.RECV_RST, S.CLOSED],
  // half-closed (local): "cannot be used for sending frames other than WINDOW_UPDATE, PRIORITY, and RST_STREAM".
  [S.HALF_CLOSED_LOCAL, E.SEND_HEADERS, null],
  [S.HALF_CLOSED_LOCAL, E.RECV_HEADERS, S.HALF_CLOSED_LOCAL],
  [S.HALF_CLOSED_LOCAL, E.SEND_END_STREAM, null],
  [S.HALF_CLOSED_LOCAL, E.RECV_END_STREAM, S.CLOSED],
  [S.HALF_CLOSED_LOCAL, E.SEND_RST, S.CLOSED],
  [S.HALF_CLOSED_LOCAL, E.RECV_RST, S.CLOSED],
  // half-closed (remote): "can be used by the endpoint to send frames of any type".
  [S.HALF_CLOSED_REMOTE, E.SEND_HEADERS, S.HALF_CLOSED_REMOTE],
  [S.HALF_CLOSED_REMOTE, E.RECV_HEADERS, null],
  [S.HALF_CLOSED_REMOTE, E.SEND_END_STREAM, S.CLOSED],
  [S.HALF_CLOSED_REMOTE, E.RECV_END_STREAM, null],
  [S.HALF_CLOSED_REMOTE, E.SEND_RST, S.CLOSED],
  [S.HALF_CLOSED_REMOTE, E.RECV_RST, S.CLOSED],
  // closed: "the terminal state".
  [S.CLOSED, E.SEND_HEADERS, null],
  [S.CLOSED, E.RECV_HEADERS, null],
  [S.CLOSED, E.SEND_END_STREAM, null],
  [S.CLOSED, E.RECV_END_STREAM, null],
  [S.CLOSED, E.SEND_RST, null],
  [S.CLOSED, E.RECV_RST, null],
];

describe('RFC 9113 §5.1 Figure 2: transition() for every cell of TRANSITIONS', () => {
  test('the table has 5 states × 6 events, and FIGURE_2 lists every cell once', () => {
    expect(TRANSITIONS).toHaveLength(5);
    for (const row of TRANSITIONS) expect(row).toHaveLength(6);
    expect(new Set(FIGURE_2.map(([s, e]) => `${s}/${e}`)).size).toBe(30);
  });

  test.each(FIGURE_2.map(([s, e, next]) => [STATE_LABEL[s], EVENT_LABEL[e], next === null ? '(not allowed)' : STATE_LABEL[next], s, e, next] as const))(
    '§5.1 %s --%s--> %s',
    (_s, _e, _n, state, event, next) => {
      expect(transition(state, event)).toBe(next ?? undefined);
      expect(TRANSITIONS[state]![event]).toBe(next ?? undefined);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// §5.1 per state, per received frame, on a live server-role connection.

type Outcome =
  | { readonly kind: 'accept' }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'stream'; readonly code: number }
  | { readonly kind: 'connection'; readonly code: number };

const accept: Outcome = { kind: 'accept' };
const ignore: Outcome = { kind: 'ignore' };
const streamError = (code: number): Outcome => ({ kind: 'stream', code });
const connectionError = (code: number): Outcome => ({ kind: 'connection', code });

const KINDS = ['HEADERS', 'DATA', 'RST_STREAM', 'WINDOW_UPDATE', 'PRIORITY'] as const;
type Kind = (typeof KINDS)[number];

interface Scenario {
  /** The RFC's words for the row. */
  readonly why: string;
  /** The ON_RECEIVE row the engine should use for it; undefined when the table has none. */
  readonly row: keyof typeof ON_RECEIVE | undefined;
  /** Drives a fresh server into the state; returns the stream id under test. */
  setup(b: Bench): number;
  /** The stream's state after setup, as the engine reports it (for streams it still holds). */
  readonly state: StreamStateValue | 'absent';
  readonly expect: Readonly<Record<Kind, Outcome>>;
}

/** Opens stream 1 with a request that does not end the stream. */
const openOne = (b: Bench): void => {
  b.send(b.headers(1, POST('/up')));
  expect(b.streams).toHaveLength(1);
};

const SCENARIOS: Readonly<Record<string, Scenario>> = {
  idle: {
    why: '§5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on a stream in this state MUST be treated as a connection error (Section 5.4.1) of type PROTOCOL_ERROR"',
    row: 'idle',
    setup(b) {
      openOne(b); // so the GOAWAY's last stream id is 1, not 0
      return 3;
    },
    state: 'absent',
    expect: { HEADERS: accept, DATA: connectionError(PROTOCOL_ERROR), RST_STREAM: connectionError(PROTOCOL_ERROR), WINDOW_UPDATE: connectionError(PROTOCOL_ERROR), PRIORITY: accept },
  },
  open: {
    why: '§5.1 open: "A stream in the open state may be used by both peers to send frames of any type"',
    row: 'open',
    setup(b) {
      openOne(b);
      return 1;
    },
    state: S.OPEN,
    expect: { HEADERS: accept, DATA: accept, RST_STREAM: accept, WINDOW_UPDATE: accept, PRIORITY: accept },
  },
  'half-closed (local)': {
    why: '§5.1 half-closed (local): "An endpoint can receive any type of frame in this state"',
    row: 'half-closed (local)',
    setup(b) {
      openOne(b);
      b.stream(1).stream.respond({ ':status': 200 }, true);
      expect(describeFrames(b.take())).toEqual(['HEADERS(1, END_STREAM)']);
      return 1;
    },
    state: S.HALF_CLOSED_LOCAL,
    expect: { HEADERS: accept, DATA: accept, RST_STREAM: accept, WINDOW_UPDATE: accept, PRIORITY: accept },
  },
  'half-closed (remote)': {
    why: '§5.1 half-closed (remote): "If an endpoint receives additional frames, other than WINDOW_UPDATE, PRIORITY, or RST_STREAM, for a stream that is in this state, it MUST respond with a stream error (Section 5.4.2) of type STREAM_CLOSED"',
    row: 'half-closed (remote)',
    setup(b) {
      b.send(b.headers(1, GET('/'), true));
      expect(b.streams).toHaveLength(1);
      return 1;
    },
    state: S.HALF_CLOSED_REMOTE,
    expect: { HEADERS: streamError(STREAM_CLOSED), DATA: streamError(STREAM_CLOSED), RST_STREAM: accept, WINDOW_UPDATE: accept, PRIORITY: accept },
  },
  'closed (after our RST_STREAM)': {
    why: '§5.1 closed: "An endpoint MUST minimally process and then discard any frames it receives in this state" after sending RST_STREAM; PRIORITY can be received on a closed stream',
    row: 'closed (reset by us)',
    setup(b) {
      openOne(b);
      b.stream(1).stream.reset(CANCEL);
      expect(describeFrames(b.take())).toEqual(['RST_STREAM(1, CANCEL)']);
      return 1;
    },
    state: 'absent',
    expect: { HEADERS: ignore, DATA: ignore, RST_STREAM: ignore, WINDOW_UPDATE: ignore, PRIORITY: accept },
  },
  'closed (END_STREAM both ways, ours last)': {
    why: '§5.1 closed: "an endpoint that receives any frames after receiving a frame with the END_STREAM flag set MUST treat that as a connection error (Section 5.4.1) of type STREAM_CLOSED"; "Endpoints MUST ignore WINDOW_UPDATE or RST_STREAM frames received in this state"',
    row: 'closed (by the peer)',
    setup(b) {
      b.send(b.headers(1, GET('/'), true));
      b.stream(1).stream.respond({ ':status': 204 }, true);
      expect(describeFrames(b.take())).toEqual(['HEADERS(1, END_STREAM)']);
      expect(b.stream(1).close).toEqual({ code: undefined, by: undefined, unprocessed: false });
      return 1;
    },
    state: 'absent',
    expect: { HEADERS: connectionError(STREAM_CLOSED), DATA: connectionError(STREAM_CLOSED), RST_STREAM: ignore, WINDOW_UPDATE: ignore, PRIORITY: accept },
  },
  "closed (END_STREAM both ways, the peer's last)": {
    why: '§5.1 closed: frames after the peer\'s END_STREAM are a connection error STREAM_CLOSED; WINDOW_UPDATE and RST_STREAM still crossing are ignored',
    row: 'closed (by the peer)',
    setup(b) {
      openOne(b);
      b.stream(1).stream.respond({ ':status': 200 }, true);
      b.take();
      expect(describeFrames(b.send(b.data(1, 5, true)))).toEqual([]);
      expect(b.stream(1).close).toEqual({ code: undefined, by: undefined, unprocessed: false });
      return 1;
    },
    state: 'absent',
    expect: { HEADERS: connectionError(STREAM_CLOSED), DATA: connectionError(STREAM_CLOSED), RST_STREAM: ignore, WINDOW_UPDATE: ignore, PRIORITY: accept },
  },
  "closed (after the peer's RST_STREAM)": {
    why: '§5.1 closed: "An endpoint that receives any frame other than PRIORITY after receiving a RST_STREAM MUST treat that as a stream error (Section 5.4.2) of type STREAM_CLOSED"; §5.4.2: "an endpoint MUST NOT send a RST_STREAM in response to a RST_STREAM frame"',
    // ON_RECEIVE has no row for it: the engine remembers this stream as 'peer', like one
    // closed by END_STREAM, and so answers as the row above (GOAWAY, or nothing for WINDOW_UPDATE).
    row: undefined,
    setup(b) {
      openOne(b);
      expect(describeFrames(b.send(encodeRstStream(1, CANCEL)))).toEqual([]);
      expect(b.stream(1).close).toEqual({ code: CANCEL, by: 'peer', unprocessed: false });
      return 1;
    },
    state: 'absent',
    expect: { HEADERS: streamError(STREAM_CLOSED), DATA: streamError(STREAM_CLOSED), RST_STREAM: ignore, WINDOW_UPDATE: streamError(STREAM_CLOSED), PRIORITY: accept },
  },
};

/** The frame of `kind` a peer sends on `id`; HEADERS insert "x-probe: v1" into the HPACK table. */
function frameOf(b: Bench, kind: Kind, id: number, idle: boolean): Uint8Array {
  switch (kind) {
    case 'HEADERS':
      // On an idle stream: a new request. Otherwise: a trailer section, which ends the stream.
      return b.headers(id, idle ? [...GET('/probe'), 'x-probe', 'v1'] : ['x-probe', 'v1'], true);
    case 'DATA':
      return b.data(id, 10);
    case 'RST_STREAM':
      return encodeRstStream(id, CANCEL);
    case 'WINDOW_UPDATE':
      return encodeWindowUpdate(id, 1000);
    case 'PRIORITY':
      return encodePriority(id, 0, 16, false);
  }
}

const codeName = (code: number): string => Object.entries(H2ErrorCode).find(([, c]) => c === code)![0];
const outcomeLabel = (o: Outcome): string =>
  o.kind === 'accept' ? 'accepted' : o.kind === 'ignore' ? 'ignored' : o.kind === 'stream' ? `RST_STREAM ${codeName(o.code)}` : `GOAWAY ${codeName(o.code)}`;

const CASES = Object.entries(SCENARIOS).flatMap(([name, sc]) => KINDS.map((kind) => [name, kind, outcomeLabel(sc.expect[kind])] as const));

describe('RFC 9113 §5.1: every frame a peer may send, in every state of a server-role stream', () => {
  test.each(CASES)('§5.1 %s: %s → %s', (name, kind) => {
    const sc = SCENARIOS[name]!;
    const b = server();
    const id = sc.setup(b);
    const rec = b.streams.find((r) => r.stream.id === id);
    if (sc.state === 'absent') {
      // Not held by the connection (idle, or closed and forgotten but for its id).
      expect(rec === undefined || rec.stream.closed).toBe(true);
    } else {
      expect(rec!.stream.state).toBe(sc.state);
    }
    const before = rec === undefined ? undefined : { bytes: rec.bytes, trailers: rec.trailers, close: rec.close, sendWindow: rec.stream.sendWindow, state: rec.stream.state };
    const announced = b.streams.length;
    const resets = b.resets.length;

    const out = describeFrames(b.send(frameOf(b, kind, id, name === 'idle')));
    const expected = sc.expect[kind];

    switch (expected.kind) {
      case 'connection':
        // §5.4.1: GOAWAY with the code and the last stream id the server processed (stream 1).
        expect(out).toEqual([`GOAWAY(${codeName(expected.code)}, last=1)`]);
        expect(b.conn.closed).toBe(true);
        return;
      case 'stream':
        // §5.4.2: RST_STREAM on that stream, and the connection goes on.
        expect(out).toEqual([`RST_STREAM(${id}, ${codeName(expected.code)})`]);
        expect(b.conn.closed).toBe(false);
        break;
      case 'ignore':
        expect(out).toEqual([]);
        expect(b.conn.closed).toBe(false);
        expect(b.streams).toHaveLength(announced);
        expect(b.resets).toHaveLength(resets);
        if (rec !== undefined) {
          expect({ bytes: rec.bytes, trailers: rec.trailers, close: rec.close, sendWindow: rec.stream.sendWindow, state: rec.stream.state }).toEqual(before);
        }
        break;
      case 'accept':
        expect(out.filter((f) => f.startsWith('GOAWAY') || f.startsWith('RST_STREAM'))).toEqual([]);
        expect(b.conn.closed).toBe(false);
        switch (kind) {
          case 'HEADERS':
            if (name === 'idle') {
              // §5.1 idle → open (here half-closed (remote): the request carried END_STREAM).
              expect(b.streams.map((r) => r.stream.id)).toEqual([1, 3]);
              expect(b.stream(3).head?.headers['x-probe']).toBe('v1');
            } else {
              // A trailer section (§8.1) with END_STREAM.
              expect(rec!.trailers).toEqual({ 'x-probe': 'v1' });
              expect(rec!.ended).toBe(true);
            }
            break;
          case 'DATA':
            expect(rec!.bytes).toBe(before!.bytes + 10);
            break;
          case 'RST_STREAM':
            expect(rec!.close).toEqual({ code: CANCEL, by: 'peer', unprocessed: false });
            expect(rec!.stream.closed).toBe(true);
            break;
          case 'WINDOW_UPDATE':
            expect(rec!.stream.sendWindow).toBe(before!.sendWindow + 1000);
            break;
          case 'PRIORITY':
            // §5.3.2: priority signals change nothing; no answer.
            expect(out).toEqual([]);
            if (rec !== undefined) expect(rec.stream.state).toBe(before!.state);
            break;
        }
        break;
    }

    // Still alive, and HPACK still in step: a new request whose "x-probe: v1" the peer's
    // encoder sends as an index into the dynamic table (inserted by the HEADERS above, when
    // one was sent; RFC 9113 §4.3: every field block is decoded, even one that is discarded).
    if (kind === 'HEADERS') expect(b.hpack.table.length).toBeGreaterThan(0);
    expect(describeFrames(b.send(b.headers(101, [...GET('/after'), 'x-probe', 'v1'], true)))).toEqual([]);
    expect(b.stream(101).head?.headers['x-probe']).toBe('v1');
    if (name === 'idle' && kind === 'PRIORITY') {
      // §5.1: PRIORITY leaves an idle stream idle: stream 3 was never announced.
      expect(b.streams.map((r) => r.stream.id)).toEqual([1, 101]);
    }
  });
});

describe('RFC 9113 §5.1: ON_RECEIVE says what the RFC says', () => {
  const KIND_OF: Record<Kind, ReceivedKindValue> = {
    HEADERS: ReceivedKind.HEADERS,
    DATA: ReceivedKind.DATA,
    RST_STREAM: ReceivedKind.RST_STREAM,
    WINDOW_UPDATE: ReceivedKind.WINDOW_UPDATE,
    PRIORITY: ReceivedKind.PRIORITY,
  };
  const rows = Object.entries(SCENARIOS).filter(([, sc]) => sc.row !== undefined);
  test.each(rows.flatMap(([name, sc]) => KINDS.map((kind) => [sc.row!, kind, outcomeLabel(sc.expect[kind]), name] as const)))(
    '§5.1 ON_RECEIVE[%s][%s] is %s',
    (row, kind, _label, name) => {
      const verdict = ON_RECEIVE[row][KIND_OF[kind]]!;
      const expected = SCENARIOS[name]!.expect[kind];
      expect(verdict.kind).toBe(expected.kind);
      if (expected.kind === 'stream' || expected.kind === 'connection') expect((verdict as { code: number }).code).toBe(expected.code);
    },
  );
});

describe('RFC 9113 §5.1.1 stream identifiers', () => {
  test('§5.1.1 a client-initiated stream with an even id is a connection error PROTOCOL_ERROR', () => {
    const b = server();
    expect(describeFrames(b.send(b.headers(2, GET(), true)))).toEqual(['GOAWAY(PROTOCOL_ERROR, last=0)']);
  });

  test('§5.1.1 a new stream id not greater than every id the client opened is a connection error PROTOCOL_ERROR', () => {
    const b = server();
    b.send(b.headers(5, GET(), true));
    expect(describeFrames(b.send(b.headers(3, GET(), true)))).toEqual(['GOAWAY(PROTOCOL_ERROR, last=5)']);
  });

  test('§5.1.1 the first use of id 5 closes idle stream 3 implicitly: HEADERS on 3 afterwards is never a new stream', () => {
    const b = server();
    b.send(b.headers(5, POST('/')));
    const out = describeFrames(b.send(b.headers(3, GET(), true)));
    expect(out).toHaveLength(1);
    expect(out[0]).toBe('GOAWAY(PROTOCOL_ERROR, last=5)');
    expect(b.streams.map((r) => r.stream.id)).toEqual([5]);
  });

  test.each([
    ['refused over SETTINGS_MAX_CONCURRENT_STREAMS (REFUSED_STREAM)', { maxConcurrentStreams: 0 }, [...POST('/')], 'REFUSED_STREAM'],
    ['malformed (PROTOCOL_ERROR)', {}, [':method', 'POST', ':scheme', 'https', ':authority', 'example.com'], 'PROTOCOL_ERROR'],
    ['over SETTINGS_MAX_HEADER_LIST_SIZE (ENHANCE_YOUR_CALM)', { maxHeaderListSize: 100 }, [...POST('/'), 'x-big', 'z'.repeat(200)], 'ENHANCE_YOUR_CALM'],
  ] as const)('§5.1 closed after our RST_STREAM: a request %s has its DATA, already in flight, ignored', (_name, settings, fields, code) => {
    const b = server({ settings });
    expect(describeFrames(b.send(b.headers(1, fields)))).toEqual([`RST_STREAM(1, ${code})`]);
    expect(describeFrames(b.send(b.data(1, 100), b.data(1, 100, true)))).toEqual([]);
    expect(b.conn.closed).toBe(false);
    expect(b.streams).toHaveLength(0);
  });

  test('§5.1 half-closed (remote): the server may still send HEADERS and DATA, and its END_STREAM closes the stream', () => {
    const b = server();
    b.send(b.headers(1, GET(), true));
    const { stream } = b.stream(1);
    expect(stream.state).toBe(S.HALF_CLOSED_REMOTE);
    stream.respond({ ':status': 200 });
    stream.end(new Uint8Array([1, 2, 3]));
    expect(describeFrames(b.take())).toEqual(['HEADERS(1)', 'DATA(1, 3, END_STREAM)']);
    expect(stream.state).toBe(S.CLOSED);
    expect(b.stream(1).close).toEqual({ code: undefined, by: undefined, unprocessed: false });
  });

  test('§5.1 half-closed (local): after our END_STREAM nothing more is sent, but the peer\'s DATA still arrives', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    const rec = b.stream(1);
    rec.stream.respond({ ':status': 200 }, true);
    b.take();
    expect(rec.stream.write(new Uint8Array(4))).toBe(false);
    rec.stream.sendHeaders(['x-late', '1'], true);
    expect(b.take()).toEqual([]);
    b.send(b.data(1, 7, true));
    expect(rec.bytes).toBe(7);
    expect(rec.stream.state).toBe(S.CLOSED);
  });

  test('§6.4 RST_STREAM is never sent on an idle or closed stream: reset() of a closed stream does nothing', () => {
    const b = server();
    b.send(b.headers(1, GET(), true));
    const rec = b.stream(1);
    rec.stream.respond({ ':status': 204 }, true);
    b.take();
    rec.stream.reset(CANCEL);
    expect(b.take()).toEqual([]);
  });
});
