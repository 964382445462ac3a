/**
 * The token bucket behind the connection's defences (rapid reset, glitches): `burst` tokens at
 * once, refilled at `perSecond`, on a clock passed in. Plain arithmetic with a fake clock.
 */
import { describe, expect, test } from 'vitest';
import { Budget } from '../../src/h2/budget.ts';

function bucket(burst: number, perSecond: number, start = 1_000_000) {
  const clock = { t: start };
  return { budget: new Budget(burst, perSecond, () => clock.t), clock };
}

describe('Budget: a token bucket on an injected clock', () => {
  test('starts full: burst tokens', () => {
    const { budget } = bucket(400, 100);
    expect(budget.tokens).toBe(400);
    expect(budget.burst).toBe(400);
    expect(budget.perSecond).toBe(100);
  });

  test('each spend() takes one token; the burst-th still succeeds, the next fails', () => {
    const { budget } = bucket(5, 1);
    for (let i = 1; i <= 5; i++) {
      expect(budget.spend()).toBe(true);
      expect(budget.tokens).toBe(5 - i);
    }
    expect(budget.tokens).toBe(0);
    expect(budget.spend()).toBe(false);
    expect(budget.tokens).toBe(-1);
  });

  test('spend(n) takes n tokens, fractions included', () => {
    const { budget } = bucket(10, 1);
    expect(budget.spend(4)).toBe(true);
    expect(budget.tokens).toBe(6);
    expect(budget.spend(0.5)).toBe(true);
    expect(budget.tokens).toBe(5.5);
    expect(budget.spend(5.5)).toBe(true);
    expect(budget.tokens).toBe(0);
    expect(budget.spend(0.25)).toBe(false);
  });

  test('with the clock frozen nothing refills', () => {
    const { budget } = bucket(3, 1_000_000);
    budget.spend(3);
    expect(budget.spend()).toBe(false);
    expect(budget.spend()).toBe(false);
    expect(budget.tokens).toBe(-2);
  });

  test('refills at perSecond × elapsed seconds', () => {
    const { budget, clock } = bucket(400, 100);
    budget.spend(400);
    clock.t += 10; // 10 ms at 100/s: one token
    expect(budget.spend()).toBe(true);
    expect(budget.tokens).toBeCloseTo(0, 10);
    clock.t += 250; // 25 tokens
    expect(budget.spend(25)).toBe(true);
    expect(budget.tokens).toBeCloseTo(0, 10);
    expect(budget.spend(0.001)).toBe(false);
  });

  test('never refills beyond burst, however long the clock ran', () => {
    const { budget, clock } = bucket(10, 100);
    budget.spend(10);
    clock.t += 3_600_000;
    expect(budget.spend()).toBe(true);
    expect(budget.tokens).toBe(9);
  });

  test('a full bucket stays full while idle: the time before a spend is not banked', () => {
    const { budget, clock } = bucket(10, 1);
    clock.t += 60_000;
    expect(budget.spend(10)).toBe(true);
    expect(budget.spend()).toBe(false);
  });

  test('a debt (negative tokens) is repaid by the refill before tokens are available again', () => {
    const { budget, clock } = bucket(2, 1);
    budget.spend(2);
    expect(budget.spend()).toBe(false); // -1
    clock.t += 1_000; // +1 → 0, then spend → -1
    expect(budget.spend()).toBe(false);
    clock.t += 2_000; // +2 → 1, then spend → 0
    expect(budget.spend()).toBe(true);
    expect(budget.tokens).toBe(0);
  });

  test('the rapid-reset defaults: 400 at once, then 100 a second', () => {
    const { budget, clock } = bucket(400, 100);
    for (let i = 0; i < 400; i++) expect(budget.spend()).toBe(true);
    expect(budget.spend()).toBe(false);
    clock.t += 1_000; // the failed spend left -1: 99 more
    for (let i = 0; i < 99; i++) expect(budget.spend()).toBe(true);
    expect(budget.spend()).toBe(false);
  });

  test('the glitch defaults: 1,000 at once, then 200 a second, PINGs at a tenth', () => {
    const { budget, clock } = bucket(1_000, 200);
    expect(budget.spend(999)).toBe(true);
    for (let i = 0; i < 9; i++) expect(budget.spend(0.1)).toBe(true);
    clock.t += 500; // +100
    expect(budget.spend(100)).toBe(true);
    expect(budget.tokens).toBeCloseTo(0.1, 9);
  });

  test('a clock that steps backwards (a wall clock set back) does not drain the bucket', () => {
    const { budget, clock } = bucket(10, 100);
    expect(budget.spend()).toBe(true);
    clock.t -= 60_000; // e.g. Date.now() after an NTP step back by a minute
    expect(budget.spend()).toBe(true);
    expect(budget.tokens).toBeGreaterThanOrEqual(0);
    clock.t += 10;
    expect(budget.spend()).toBe(true);
  });
});
