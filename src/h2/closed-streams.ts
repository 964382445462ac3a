/** How a remembered stream closed: h2ws's RST_STREAM, the peer's, or END_STREAM both ways. */
export type Closure = 'us' | 'peer-reset' | 'peer';

/** The row of the state table (stream-state.ts ON_RECEIVE) for each way of closing. */
const ROWS = { us: 'closed (reset by us)', 'peer-reset': 'closed (reset by the peer)', peer: 'closed (by the peer)' } as const;

/** How many closed streams are remembered, to tell "closed" from "never opened" (RFC 9113 §5.1). */
const CLOSED_MEMORY = 1024;

/**
 * The most recently closed stream ids of a connection and how each closed, so a late frame on
 * one gets the answer RFC 9113 §5.1 gives for that way of closing. Bounded: the oldest go first.
 */
export class RecentlyClosed {
  readonly #ids = new Map<number, Closure>();

  remember(id: number, how: Closure): void {
    this.#ids.set(id, how);
    if (this.#ids.size > CLOSED_MEMORY) this.#ids.delete(this.#ids.keys().next().value as number);
  }

  has(id: number): boolean {
    return this.#ids.has(id);
  }

  /** The state-table row for `id`, or undefined when it is not remembered. */
  row(id: number): (typeof ROWS)[Closure] | undefined {
    const how = this.#ids.get(id);
    return how === undefined ? undefined : ROWS[how];
  }
}
