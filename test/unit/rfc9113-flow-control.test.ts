/**
 * RFC 9113 §5.2 and §6.9 flow control on a sans-IO server-role connection: the arithmetic of
 * both send windows (what h2ws may send) and both receive windows (what the peer may send),
 * SETTINGS_INITIAL_WINDOW_SIZE changes, overflow, padding, batching of WINDOW_UPDATE, and
 * pausing a stream.
 */
import { describe, expect, test } from 'vitest';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import { FrameType, MAX_WINDOW_SIZE, SettingId } from '../../src/h2/frame/types.ts';
import {
  type Bench, dataBytes, describeFrames, encodeSettings, encodeWindowUpdate, ofType, type OutFrame, POST, server,
  windowCredit,
} from '../helpers/sans-io.ts';

const { INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE } = SettingId;
const DEFAULT_WINDOW = 65_535;

/**
 * The peer's view of h2ws's send windows: every DATA frame h2ws emits must fit all three
 * limits at the moment it is sent (§6.9.1, §4.2), and shrinks both windows by its length.
 */
class SendWindows {
  conn = DEFAULT_WINDOW;
  readonly streams = new Map<number, number>();
  constructor(
    public maxFrameSize = 16_384,
    public initial = DEFAULT_WINDOW,
  ) {}
  grant(id: number, n: number): void {
    if (id === 0) this.conn += n;
    else this.streams.set(id, this.win(id) + n);
  }
  win(id: number): number {
    return this.streams.get(id) ?? this.initial;
  }
  /** Checks each DATA frame against the windows and applies it. */
  check(frames: readonly OutFrame[]): void {
    for (const f of ofType(frames, FrameType.DATA)) {
      const n = f.data.length;
      expect(n, `DATA(${f.streamId}, ${n}) within SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`).toBeLessThanOrEqual(this.maxFrameSize);
      expect(n, `DATA(${f.streamId}, ${n}) within the connection window ${this.conn}`).toBeLessThanOrEqual(this.conn);
      expect(n, `DATA(${f.streamId}, ${n}) within the stream window ${this.win(f.streamId)}`).toBeLessThanOrEqual(this.win(f.streamId));
      this.conn -= n;
      this.streams.set(f.streamId, this.win(f.streamId) - n);
    }
  }
}

/** A server with stream `id` open and answered (200), ready to write. */
function answered(b: Bench, id = 1, endStream = false): Bench['streams'][number] {
  b.send(b.headers(id, POST(`/s${id}`), endStream));
  const rec = b.stream(id);
  rec.stream.respond({ ':status': 200 });
  expect(describeFrames(b.take())).toEqual([`HEADERS(${id})`]);
  return rec;
}

const sizes = (frames: readonly OutFrame[]): number[] => ofType(frames, FrameType.DATA).map((f) => f.data.length);

describe('RFC 9113 §6.9.1 the send windows: what h2ws sends', () => {
  test('§6.9.1 the stream and connection windows shrink by exactly the DATA sent, and DATA stops at the window', () => {
    const b = server();
    const w = new SendWindows();
    const { stream } = answered(b);
    expect(stream.sendWindow).toBe(DEFAULT_WINDOW);
    expect(stream.write(new Uint8Array(100_000))).toBe(false); // above the 64 KiB high-water mark
    const out = b.take();
    w.check(out);
    expect(sizes(out)).toEqual([16_384, 16_384, 16_384, 16_383]);
    expect(dataBytes(out, 1)).toBe(DEFAULT_WINDOW);
    expect(stream.sendWindow).toBe(0);
    expect(stream.bufferedAmount).toBe(100_000 - DEFAULT_WINDOW);
    // Nothing more until a WINDOW_UPDATE.
    expect(b.take()).toEqual([]);
  });

  test('§6.9.1 the connection window is shared: one stream\'s DATA leaves the next only the remainder', () => {
    const b = server({ peerSettings: [[INITIAL_WINDOW_SIZE, 1_000_000]] });
    const w = new SendWindows(16_384, 1_000_000);
    const s1 = answered(b, 1).stream;
    const s3 = answered(b, 3).stream;
    s1.write(new Uint8Array(40_000));
    let out = b.take();
    w.check(out);
    expect(dataBytes(out, 1)).toBe(40_000);
    s3.write(new Uint8Array(40_000));
    out = b.take();
    w.check(out);
    expect(dataBytes(out, 3)).toBe(DEFAULT_WINDOW - 40_000);
    expect(s1.sendWindow).toBe(1_000_000 - 40_000);
    expect(s3.sendWindow).toBe(1_000_000 - 25_535);
    // §6.9: a connection WINDOW_UPDATE of 10,000 lets exactly 10,000 more through.
    out = b.send(encodeWindowUpdate(0, 10_000));
    w.grant(0, 10_000);
    w.check(out);
    expect(dataBytes(out)).toBe(10_000);
    expect(dataBytes(out, 3)).toBe(10_000);
    expect(s3.bufferedAmount).toBe(40_000 - 25_535 - 10_000);
  });

  test('§4.2 §6.9.1 DATA frames never exceed min(stream window, connection window, the peer\'s SETTINGS_MAX_FRAME_SIZE)', () => {
    // A larger SETTINGS_MAX_FRAME_SIZE is used in full …
    const b = server({ peerSettings: [[INITIAL_WINDOW_SIZE, 1_000_000], [MAX_FRAME_SIZE, 20_000]] });
    b.send(encodeWindowUpdate(0, 1_000_000));
    const w = new SendWindows(20_000, 1_000_000);
    w.grant(0, 1_000_000);
    answered(b).stream.write(new Uint8Array(100_001));
    let out = b.take();
    w.check(out);
    expect(sizes(out)).toEqual([20_000, 20_000, 20_000, 20_000, 20_000, 1]);

    // … a small stream window cuts frames to the window …
    const c = server({ peerSettings: [[INITIAL_WINDOW_SIZE, 1_000]] });
    const wc = new SendWindows(16_384, 1_000);
    const sc = answered(c).stream;
    sc.write(new Uint8Array(5_000));
    out = c.take();
    wc.check(out);
    expect(sizes(out)).toEqual([1_000]);
    out = c.send(encodeWindowUpdate(1, 300));
    wc.grant(1, 300);
    wc.check(out);
    expect(sizes(out)).toEqual([300]);

    // … and so does a small connection window (stream windows of 1,000,000, connection at 65,535).
    const d = server({ peerSettings: [[INITIAL_WINDOW_SIZE, 1_000_000]] });
    const wd = new SendWindows(16_384, 1_000_000);
    const s1 = answered(d, 1).stream;
    const s3 = answered(d, 3).stream;
    s1.write(new Uint8Array(60_000));
    s3.write(new Uint8Array(60_000));
    out = d.take();
    wd.check(out);
    expect(dataBytes(out)).toBe(DEFAULT_WINDOW);
    out = d.send(encodeWindowUpdate(0, 100));
    wd.grant(0, 100);
    wd.check(out);
    expect(sizes(out)).toEqual([100]);
  });

  test('§6.9 a stream WINDOW_UPDATE adds exactly its increment to the stream window', () => {
    const b = server();
    const w = new SendWindows();
    const { stream } = answered(b);
    stream.write(new Uint8Array(200_000));
    w.check(b.take());
    expect(stream.sendWindow).toBe(0);
    // The connection window alone does not release anything: the stream window is 0.
    let out = b.send(encodeWindowUpdate(0, 1_000_000));
    w.grant(0, 1_000_000);
    expect(dataBytes(out)).toBe(0);
    out = b.send(encodeWindowUpdate(1, 5_000));
    w.grant(1, 5_000);
    w.check(out);
    expect(dataBytes(out, 1)).toBe(5_000);
    expect(stream.sendWindow).toBe(0);
    out = b.send(encodeWindowUpdate(1, 1), encodeWindowUpdate(1, 2));
    w.grant(1, 3);
    w.check(out);
    expect(dataBytes(out, 1)).toBe(3);
  });

  test('§6.9.2 raising SETTINGS_INITIAL_WINDOW_SIZE adds the difference to every open stream\'s window (open and half-closed (remote))', () => {
    const b = server();
    b.send(encodeWindowUpdate(0, 1_000_000));
    const open = answered(b, 1).stream;
    const hcr = answered(b, 3, true).stream;
    open.write(new Uint8Array(100_000));
    hcr.write(new Uint8Array(100_000));
    let out = b.take();
    expect(dataBytes(out, 1)).toBe(DEFAULT_WINDOW);
    expect(dataBytes(out, 3)).toBe(DEFAULT_WINDOW);
    out = b.send(encodeSettings([[INITIAL_WINDOW_SIZE, DEFAULT_WINDOW + 1_000]]));
    // §6.5.3: the SETTINGS is acknowledged; §6.9.2: 1,000 more octets on each stream.
    expect(describeFrames(out)).toContain('SETTINGS(ACK)');
    expect(dataBytes(out, 1)).toBe(1_000);
    expect(dataBytes(out, 3)).toBe(1_000);
    expect(open.sendWindow).toBe(0);
    expect(hcr.sendWindow).toBe(0);
  });

  test('§6.9.2 lowering SETTINGS_INITIAL_WINDOW_SIZE can make a window negative: nothing is sent until WINDOW_UPDATEs bring it above zero', () => {
    const b = server();
    b.send(encodeWindowUpdate(0, 1_000_000));
    const { stream } = answered(b);
    stream.write(new Uint8Array(100_000));
    expect(dataBytes(b.take(), 1)).toBe(DEFAULT_WINDOW);
    expect(describeFrames(b.send(encodeSettings([[INITIAL_WINDOW_SIZE, 15_535]])))).toEqual(['SETTINGS(ACK)']);
    expect(stream.sendWindow).toBe(-50_000);
    // "A sender MUST track the negative flow-control window and MUST NOT send new
    // flow-controlled frames until it receives WINDOW_UPDATE frames that cause the
    // flow-control window to become positive."
    expect(b.send(encodeWindowUpdate(1, 40_000))).toEqual([]);
    expect(stream.sendWindow).toBe(-10_000);
    expect(b.send(encodeWindowUpdate(1, 10_000))).toEqual([]);
    expect(stream.sendWindow).toBe(0);
    const out = b.send(encodeWindowUpdate(1, 1));
    expect(describeFrames(out)).toEqual(['DATA(1, 1)']);
    expect(stream.sendWindow).toBe(0);
  });

  test('§6.9.2 lowering SETTINGS_INITIAL_WINDOW_SIZE before anything is sent caps the next DATA; new streams start at the new value', () => {
    const b = server();
    const { stream } = answered(b);
    b.send(encodeSettings([[INITIAL_WINDOW_SIZE, 100]]));
    expect(stream.sendWindow).toBe(100);
    stream.write(new Uint8Array(1_000));
    expect(describeFrames(b.take())).toEqual(['DATA(1, 100)']);
    const three = answered(b, 3).stream;
    expect(three.sendWindow).toBe(100);
    // Back up: both move by the same difference, and stream 1 sends the 200 octets it gained.
    expect(describeFrames(b.send(encodeSettings([[INITIAL_WINDOW_SIZE, 300]])))).toEqual(['SETTINGS(ACK)', 'DATA(1, 200)']);
    expect(stream.sendWindow).toBe(0);
    expect(three.sendWindow).toBe(300);
  });

  test('§6.9.1 a stream WINDOW_UPDATE that takes the window past 2^31-1 is a stream error FLOW_CONTROL_ERROR', () => {
    const b = server();
    const { stream } = answered(b);
    // Up to exactly 2^31-1 is fine.
    expect(b.send(encodeWindowUpdate(1, MAX_WINDOW_SIZE - DEFAULT_WINDOW))).toEqual([]);
    expect(stream.sendWindow).toBe(MAX_WINDOW_SIZE);
    expect(describeFrames(b.send(encodeWindowUpdate(1, 1)))).toEqual(['RST_STREAM(1, FLOW_CONTROL_ERROR)']);
    expect(b.stream(1).close).toEqual({ code: H2ErrorCode.FLOW_CONTROL_ERROR, by: 'local', unprocessed: false });
    expect(b.conn.closed).toBe(false);
  });

  test('§6.9.1 a connection WINDOW_UPDATE that takes the window past 2^31-1 is a connection error FLOW_CONTROL_ERROR', () => {
    const b = server();
    answered(b);
    expect(b.send(encodeWindowUpdate(0, MAX_WINDOW_SIZE - DEFAULT_WINDOW))).toEqual([]);
    expect(describeFrames(b.send(encodeWindowUpdate(0, 1)))).toEqual(['GOAWAY(FLOW_CONTROL_ERROR, last=1)']);
    expect(b.conn.closed).toBe(true);
  });

  test('§6.9.2 a SETTINGS_INITIAL_WINDOW_SIZE change that takes a stream window past 2^31-1 is a connection error FLOW_CONTROL_ERROR', () => {
    const b = server();
    answered(b);
    b.send(encodeWindowUpdate(1, MAX_WINDOW_SIZE - DEFAULT_WINDOW));
    expect(describeFrames(b.send(encodeSettings([[INITIAL_WINDOW_SIZE, DEFAULT_WINDOW + 1]])))).toEqual(['GOAWAY(FLOW_CONTROL_ERROR, last=1)']);
  });

  test('§6.5.2 SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is a connection error FLOW_CONTROL_ERROR', () => {
    const b = server();
    expect(describeFrames(b.send(encodeSettings([[INITIAL_WINDOW_SIZE, 2 ** 31]])))).toEqual(['GOAWAY(FLOW_CONTROL_ERROR, last=0)']);
  });
});

describe('RFC 9113 §6.9.1 the receive windows: what the peer may send', () => {
  test('§6.9.1 DATA beyond the stream window h2ws advertised is a stream error FLOW_CONTROL_ERROR', () => {
    const b = server({ settings: { initialWindowSize: 1_000 } });
    b.send(b.headers(1, POST('/')));
    expect(describeFrames(b.send(b.data(1, 1_001)))).toEqual(['RST_STREAM(1, FLOW_CONTROL_ERROR)']);
    expect(b.stream(1).bytes).toBe(0);
    expect(b.conn.closed).toBe(false);
  });

  test('§6.9.1 the stream window is the sum of what arrived: 600 then 401 octets on a paused stream overflow 1,000', () => {
    const b = server({ settings: { initialWindowSize: 1_000 } });
    b.send(b.headers(1, POST('/')));
    b.stream(1).stream.pause();
    expect(describeFrames(b.send(b.data(1, 600)))).toEqual([]);
    expect(b.stream(1).stream.recvWindow).toBe(400);
    expect(describeFrames(b.send(b.data(1, 400)))).toEqual([]);
    expect(b.stream(1).stream.recvWindow).toBe(0);
    expect(describeFrames(b.send(b.data(1, 1)))).toEqual(['RST_STREAM(1, FLOW_CONTROL_ERROR)']);
  });

  test('§6.9.1 DATA beyond the connection window is a connection error FLOW_CONTROL_ERROR', () => {
    // Frames up to 100,000 octets and stream windows of 200,000: only the connection window (65,535) limits.
    const b = server({ settings: { maxFrameSize: 100_000, initialWindowSize: 200_000 } });
    b.send(b.headers(1, POST('/')), b.headers(3, POST('/')));
    expect(describeFrames(b.send(b.data(1, DEFAULT_WINDOW)))).toEqual([`WINDOW_UPDATE(0, +${DEFAULT_WINDOW})`]);
    const c = server({ settings: { maxFrameSize: 100_000, initialWindowSize: 200_000 } });
    c.send(c.headers(1, POST('/')));
    expect(describeFrames(c.send(c.data(1, DEFAULT_WINDOW + 1)))).toEqual(['GOAWAY(FLOW_CONTROL_ERROR, last=1)']);
  });

  test('§6.1 §6.9.1 padding counts toward the windows: 744 octets + 255 of padding fit 1,000, 745 + 255 do not', () => {
    const b = server({ settings: { initialWindowSize: 1_000 } });
    b.send(b.headers(1, POST('/')), b.headers(3, POST('/')));
    b.stream(1).stream.pause(); // no credit in between
    // Flow length = 1 (Pad Length) + data + padding.
    expect(describeFrames(b.send(b.data(1, 744, false, 255)))).toEqual([]);
    expect(b.stream(1).stream.recvWindow).toBe(0);
    expect(describeFrames(b.send(b.data(3, 745, false, 255)))).toEqual(['RST_STREAM(3, FLOW_CONTROL_ERROR)']);
  });

  test('§6.9.1 padding is credited back like data: two padded frames of 16,384 octets → one WINDOW_UPDATE of 32,768 per window', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    // 1 + 16,128 + 255 = 16,384 octets of flow-controlled payload each.
    expect(b.send(b.data(1, 16_128, false, 255))).toEqual([]);
    const out = describeFrames(b.send(b.data(1, 16_128, false, 255)));
    expect(out.sort()).toEqual(['WINDOW_UPDATE(0, +32768)', 'WINDOW_UPDATE(1, +32768)']);
    expect(b.stream(1).bytes).toBe(2 * 16_128);
  });

  test('§6.9 WINDOW_UPDATE is batched: 100 DATA frames of 100 octets → none; the first comes once half the window is consumed', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    const hundred = Array.from({ length: 100 }, () => b.data(1, 100));
    expect(b.send(...hundred)).toEqual([]);
    expect(b.sendEach(Array.from({ length: 100 }, () => b.data(1, 100)))).toEqual([]);
    expect(b.stream(1).bytes).toBe(20_000);
    // Half of 65,535 is 32,767: frame 328 (32,800 octets) crosses it.
    let sent = 200;
    let out: OutFrame[] = [];
    while (out.length === 0) {
      out = b.send(b.data(1, 100));
      sent++;
      expect(sent).toBeLessThanOrEqual(400);
    }
    expect(sent).toBe(328);
    expect(describeFrames(out).sort()).toEqual(['WINDOW_UPDATE(0, +32800)', 'WINDOW_UPDATE(1, +32800)']);
    // And the next one only after another half window.
    expect(b.sendEach(Array.from({ length: 327 }, () => b.data(1, 100)))).toEqual([]);
  });

  test('§5.2 §6.9 a paused stream credits nothing until resumed, then all it delivered', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    const rec = b.stream(1);
    rec.stream.pause();
    const out = describeFrames(b.send(b.data(1, 16_384), b.data(1, 16_384), b.data(1, 7_232)));
    // The connection window is credited (§5.2: one stream must not stall the others) …
    expect(out).toEqual(['WINDOW_UPDATE(0, +32768)']);
    // … the stream window is not: 40,000 octets wait, uncredited.
    expect(rec.bytes).toBe(0);
    expect(rec.stream.recvWindow).toBe(DEFAULT_WINDOW - 40_000);
    expect(b.take()).toEqual([]);
    rec.stream.resume();
    expect(rec.bytes).toBe(40_000);
    // Credited as delivered, still batched: one WINDOW_UPDATE once half the window is reached
    // (16,384 + 16,384); the last 7,232 wait for more.
    expect(describeFrames(b.take())).toEqual(['WINDOW_UPDATE(1, +32768)']);
    expect(rec.stream.recvWindow).toBe(DEFAULT_WINDOW - 40_000 + 32_768);
  });

  test('§5.2 one paused stream does not stall the others: stream 3 keeps flowing far past the 65,535-octet connection window', () => {
    const b = server();
    b.send(b.headers(1, POST('/')), b.headers(3, POST('/')));
    const paused = b.stream(1);
    const flowing = b.stream(3);
    paused.stream.pause();

    // A peer that obeys every window it is given (§6.9.1).
    let conn = DEFAULT_WINDOW;
    const win = new Map([[1, DEFAULT_WINDOW], [3, DEFAULT_WINDOW]]);
    const apply = (frames: OutFrame[]): void => {
      for (const f of ofType(frames, FrameType.WINDOW_UPDATE)) {
        if (f.streamId === 0) conn += f.increment;
        else win.set(f.streamId, win.get(f.streamId)! + f.increment);
      }
      expect(ofType(frames, FrameType.GOAWAY)).toEqual([]);
    };
    const pushAll = (id: number, total: number): number => {
      let left = total;
      while (left > 0) {
        const n = Math.min(16_384, conn, win.get(id)!, left);
        if (n <= 0) return total - left; // stalled
        conn -= n;
        win.set(id, win.get(id)! - n);
        left -= n;
        apply(b.send(b.data(id, n)));
      }
      return total;
    };

    // Fill the paused stream's whole window: nothing is delivered or credited on it.
    expect(pushAll(1, 100_000)).toBe(DEFAULT_WINDOW);
    expect(paused.bytes).toBe(0);
    // The other stream goes on: 500,000 octets, seven connection windows' worth.
    expect(pushAll(3, 500_000)).toBe(500_000);
    expect(flowing.bytes).toBe(500_000);
    expect(paused.bytes).toBe(0);
    expect(b.conn.closed).toBe(false);
    // Resumed, the paused stream gets its 65,535 octets and a WINDOW_UPDATE.
    paused.stream.resume();
    expect(paused.bytes).toBe(DEFAULT_WINDOW);
    expect(windowCredit(b.take(), 1)).toBe(DEFAULT_WINDOW);
  });

  test('§5.1 §6.9 DATA on a stream h2ws reset still counts toward the connection window, and is credited', () => {
    const b = server();
    b.send(b.headers(1, POST('/')));
    b.stream(1).stream.reset(H2ErrorCode.CANCEL);
    b.take();
    // 32,768 octets the peer had in flight: ignored on the stream, credited on the connection.
    expect(describeFrames(b.send(b.data(1, 16_384), b.data(1, 16_384)))).toEqual(['WINDOW_UPDATE(0, +32768)']);
  });

  test('§6.9.1 DATA that draws a stream error still counts toward the connection window', () => {
    const b = server();
    b.send(b.headers(1, POST('/'), true)); // half-closed (remote): DATA is STREAM_CLOSED
    const out = describeFrames(b.send(b.data(1, 16_384), b.data(1, 16_384)));
    expect(out).toContain('WINDOW_UPDATE(0, +32768)');
    expect(out).toContain('RST_STREAM(1, STREAM_CLOSED)');
  });

  test('§6.9.2 the connectionWindow option raises the connection receive window with a WINDOW_UPDATE at the start', () => {
    const b = server({ connectionWindow: 1_000_000, settings: { maxFrameSize: 2_000_000, initialWindowSize: 2_000_000 } });
    expect(describeFrames(b.initialFrames).slice(1)).toEqual([`WINDOW_UPDATE(0, +${1_000_000 - DEFAULT_WINDOW})`]);
    b.send(b.headers(1, POST('/')));
    expect(describeFrames(b.send(b.data(1, 1_000_000)))).not.toContain('GOAWAY(FLOW_CONTROL_ERROR, last=1)');
    const c = server({ connectionWindow: 1_000_000, settings: { maxFrameSize: 2_000_000, initialWindowSize: 2_000_000 } });
    c.send(c.headers(1, POST('/')));
    expect(describeFrames(c.send(c.data(1, 1_000_001)))).toEqual(['GOAWAY(FLOW_CONTROL_ERROR, last=1)']);
  });

  test('§6.9.1 an empty DATA frame with END_STREAM needs no window: received at window 0, and sent at window 0', () => {
    const b = server({ settings: { initialWindowSize: 1_000 } });
    b.send(b.headers(1, POST('/')));
    const rec = b.stream(1);
    rec.stream.pause();
    b.send(b.data(1, 1_000));
    expect(rec.stream.recvWindow).toBe(0);
    expect(describeFrames(b.send(b.data(1, 0, true)))).toEqual([]);
    rec.stream.resume();
    expect(rec.ended).toBe(true);
    // Our side: the window used up, end() still sends its END_STREAM.
    const c = server({ peerSettings: [[INITIAL_WINDOW_SIZE, 10]] });
    const { stream } = answered(c);
    stream.write(new Uint8Array(10));
    expect(describeFrames(c.take())).toEqual(['DATA(1, 10)']);
    expect(stream.sendWindow).toBe(0);
    stream.end();
    expect(describeFrames(c.take())).toEqual(['DATA(1, 0, END_STREAM)']);
  });
});
