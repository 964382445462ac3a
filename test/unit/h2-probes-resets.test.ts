/**
 * Issue 15, items 3 and 5 at the engine's level: the per-address rapid-reset budget
 * (ClientResetBudgets, on a fake clock) and GOAWAY's last stream id never going up
 * (RFC 9113 §6.8), whichever of the defences and the graceful shutdown comes first.
 */
import { describe, expect, test } from 'vitest';
import { DEFENCES } from '../../src/h2/connection.ts';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import { encodeRstStream } from '../../src/h2/frame/encoder.ts';
import { FrameType } from '../../src/h2/frame/types.ts';
import { CLIENT_RAPID_RESET, ClientResetBudgets } from '../../src/h2/server.ts';
import { type Bench, concat, CONNECT_WS, type OutFrame, server } from '../helpers/sans-io.ts';

const { ENHANCE_YOUR_CALM, NO_ERROR, CANCEL } = H2ErrorCode;

function budgets(options: { burst: number; perSecond: number; maxAddresses: number } = CLIENT_RAPID_RESET) {
  const clock = { t: 5_000_000 };
  return { b: new ClientResetBudgets(options, () => clock.t), clock };
}

describe('ClientResetBudgets: rapid reset per client address, across its connections', () => {
  test('the documented defaults: burst 1000, 200 per second, 10,000 addresses; cool-down 5 s', () => {
    expect(CLIENT_RAPID_RESET).toEqual({ burst: 1000, perSecond: 200, maxAddresses: 10_000 });
    expect(new ClientResetBudgets().coolDownMs).toBe(5000);
    // Larger than one connection's budget: a single connection trips its own first.
    expect(CLIENT_RAPID_RESET.burst).toBeGreaterThan(DEFENCES.rapidReset.burst);
  });

  test('burst spends pass; the next one cuts the address off, once; others are unaffected', () => {
    const { b } = budgets({ burst: 10, perSecond: 2, maxAddresses: 100 });
    for (let i = 0; i < 10; i++) expect(b.spend('10.0.0.1')).toBe(false);
    expect(b.blocked('10.0.0.1')).toBe(false);
    expect(b.spend('10.0.0.1')).toBe(true);
    expect(b.blocked('10.0.0.1')).toBe(true);
    // Already cut off: no second verdict (the metric counts each cut-off once).
    expect(b.spend('10.0.0.1')).toBe(false);
    expect(b.blocked('10.0.0.2')).toBe(false);
    expect(b.spend('10.0.0.2')).toBe(false);
  });

  test('an IPv4 client through a dual-stack socket is the same address', () => {
    const { b } = budgets({ burst: 1, perSecond: 1, maxAddresses: 100 });
    expect(b.spend('127.0.0.1')).toBe(false);
    expect(b.spend('::ffff:127.0.0.1')).toBe(true);
    expect(b.blocked('127.0.0.1')).toBe(true);
  });

  test('the cool-down lasts until the bucket has refilled', () => {
    const { b, clock } = budgets({ burst: 10, perSecond: 2, maxAddresses: 100 });
    for (let i = 0; i <= 10; i++) b.spend('a');
    expect(b.blocked('a')).toBe(true);
    clock.t += 4999;
    expect(b.blocked('a')).toBe(true);
    clock.t += 1;
    expect(b.blocked('a')).toBe(false);
    // The refill is the bucket's: a new burst is allowed again.
    for (let i = 0; i < 9; i++) expect(b.spend('a')).toBe(false);
  });

  test('a steady rate at the refill rate is never cut off', () => {
    const { b, clock } = budgets({ burst: 10, perSecond: 100, maxAddresses: 100 });
    for (let i = 0; i < 10_000; i++) {
      clock.t += 10;
      expect(b.spend('steady')).toBe(false);
    }
  });

  test('the map is bounded: idle addresses are evicted first, a cut-off address is kept', () => {
    const { b, clock } = budgets({ burst: 2, perSecond: 1, maxAddresses: 3 });
    for (let i = 0; i < 3; i++) b.spend('cut');
    expect(b.blocked('cut')).toBe(true);
    b.spend('idle-1');
    b.spend('idle-2');
    expect(b.size).toBe(3);
    clock.t += 1000;
    for (let i = 0; i < 100; i++) b.spend(`new-${i}`);
    expect(b.size).toBeLessThanOrEqual(3);
    expect(b.blocked('cut')).toBe(true);
  });
});

/** HEADERS + RST_STREAM CANCEL for `count` new extended CONNECT streams from `first`. */
function openAndReset(b: Bench, first: number, count: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const id = first + 2 * i;
    parts.push(b.headers(id, CONNECT_WS(`/${id}`)), encodeRstStream(id, CANCEL));
  }
  return concat(parts);
}

const goaways = (frames: readonly OutFrame[]) =>
  frames.filter((f): f is Extract<OutFrame, { type: typeof FrameType.GOAWAY }> => f.type === FrameType.GOAWAY).map((f) => ({ code: f.errorCode, last: f.lastStreamId }));

describe('GOAWAY never raises its last stream id (RFC 9113 §6.8)', () => {
  const { burst } = DEFENCES.rapidReset;

  test('rapid-reset GOAWAY ENHANCE_YOUR_CALM, then the graceful shutdown (SIGTERM): no second GOAWAY with a higher id', () => {
    const b = server({ settings: { enableConnectProtocol: true } });
    const out = [...b.send(openAndReset(b, 1, burst)), ...b.send(openAndReset(b, 2 * burst + 1, 400))];
    const first = goaways(out);
    expect(first).toHaveLength(1);
    expect(first[0]!.code).toBe(ENHANCE_YOUR_CALM);
    b.conn.shutdown();
    b.conn.finishShutdown();
    b.conn.abort(NO_ERROR, 'shutdown');
    const later = goaways(b.take());
    for (const g of later) expect(g.last).toBeLessThanOrEqual(first[0]!.last);
    expect(b.goawaysSent.map((g) => g.lastStreamId)).toEqual([...b.goawaysSent.map((g) => g.lastStreamId)].sort((x, y) => y - x));
  });

  test('graceful shutdown first (2^31-1, then the last id), then ENHANCE_YOUR_CALM: ids never go up', () => {
    const b = server({ settings: { enableConnectProtocol: true } });
    b.send(b.headers(1, CONNECT_WS('/a')));
    b.conn.shutdown();
    b.send(b.headers(3, CONNECT_WS('/b')));
    b.conn.finishShutdown();
    b.send(openAndReset(b, 5, 10)); // ignored after the final GOAWAY: newer than its last stream id
    b.conn.abort(ENHANCE_YOUR_CALM, 'calm down');
    b.take();
    const ids = b.goawaysSent.map((g) => g.lastStreamId);
    expect(ids[0]).toBe(2 ** 31 - 1);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeLessThanOrEqual(ids[i - 1]!);
    expect(ids.at(-1)).toBe(3);
  });
});
