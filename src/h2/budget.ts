/**
 * A token bucket: `burst` events at once, refilled at `perSecond`. The defences of the
 * connection (rapid reset, glitches) each spend one; an empty bucket is the verdict.
 * The clock is passed in, so the sans-IO connection stays free of timers.
 */
export class Budget {
  #tokens: number;
  #last: number;

  constructor(
    readonly burst: number,
    readonly perSecond: number,
    readonly now: () => number,
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  /** Spends `n`; false once the bucket is empty. */
  spend(n = 1): boolean {
    const now = this.now();
    // A clock that steps back (a wall clock set back) refills nothing rather than draining.
    const elapsed = Math.max(0, now - this.#last);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed / 1000) * this.perSecond) - n;
    this.#last = now;
    return this.#tokens >= 0;
  }

  get tokens(): number {
    return this.#tokens;
  }
}
