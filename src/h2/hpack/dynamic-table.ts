/**
 * The HPACK dynamic table (RFC 7541 §2.3.2, §4): a FIFO of fields, newest at index 1,
 * bounded by a size in octets, where an entry counts name + value + 32 (§4.1).
 *
 * A ring buffer: inserting and evicting are O(1) (amortized when the ring grows); lookups
 * by index are O(1). Strings are latin1 throughout, so a string's length is its octet count.
 */

/** §4.1: the per-entry overhead, an estimate of the memory an entry costs. */
export const ENTRY_OVERHEAD = 32;

/** The size of an entry as §4.1 counts it. */
export const entrySize = (name: string, value: string): number => name.length + value.length + ENTRY_OVERHEAD;

/** Called for each evicted entry with its insertion sequence number (see DynamicTable.inserted). */
export type EvictListener = (name: string, value: string, seq: number) => void;

export class DynamicTable {
  #names: string[] = new Array<string>(16).fill('');
  #values: string[] = new Array<string>(16).fill('');
  #mask = 15;
  /** Ring position of the oldest entry. */
  #head = 0;
  #length = 0;
  #size = 0;
  #maxSize: number;
  #inserted = 0;
  readonly #onEvict: EvictListener | undefined;

  constructor(maxSize: number, onEvict?: EvictListener) {
    this.#maxSize = maxSize;
    this.#onEvict = onEvict;
  }

  /** The number of entries. */
  get length(): number {
    return this.#length;
  }

  /** The current size in octets (§4.1). */
  get size(): number {
    return this.#size;
  }

  /** The maximum size in octets (§4.2). */
  get maxSize(): number {
    return this.#maxSize;
  }

  /**
   * How many entries were ever inserted. The entry inserted as the k-th (0-based sequence
   * number k) has index `inserted - k` while it is still in the table; the encoder keeps
   * sequence numbers because indices shift with every insertion.
   */
  get inserted(): number {
    return this.#inserted;
  }

  /** The name at 1-based `index` (1 is the newest); the caller checks 1 ≤ index ≤ length. */
  name(index: number): string {
    return this.#names[(this.#head + this.#length - index) & this.#mask]!;
  }

  /** The value at 1-based `index`; the caller checks 1 ≤ index ≤ length. */
  value(index: number): string {
    return this.#values[(this.#head + this.#length - index) & this.#mask]!;
  }

  /**
   * Inserts a field as the newest entry, first evicting the oldest until it fits (§4.4).
   * An entry larger than the maximum size empties the table and is not inserted (§4.4:
   * "not an error"); returns whether it was inserted.
   */
  add(name: string, value: string): boolean {
    const size = entrySize(name, value);
    if (size > this.#maxSize) {
      this.#evictTo(0);
      return false;
    }
    this.#evictTo(this.#maxSize - size);
    if (this.#length === this.#names.length) this.#grow();
    const at = (this.#head + this.#length) & this.#mask;
    this.#names[at] = name;
    this.#values[at] = value;
    this.#length++;
    this.#size += size;
    this.#inserted++;
    return true;
  }

  /** Changes the maximum size, evicting the oldest entries until the table fits (§4.3). */
  setMaxSize(maxSize: number): void {
    this.#maxSize = maxSize;
    this.#evictTo(maxSize);
  }

  /** The entries newest first, as [name, value] pairs: for tests and debugging. */
  entries(): [name: string, value: string][] {
    const out: [string, string][] = [];
    for (let i = 1; i <= this.#length; i++) out.push([this.name(i), this.value(i)]);
    return out;
  }

  #evictTo(limit: number): void {
    while (this.#size > limit) {
      const at = this.#head;
      const name = this.#names[at]!;
      const value = this.#values[at]!;
      // Let the strings go: a long-lived connection must not pin evicted headers.
      this.#names[at] = '';
      this.#values[at] = '';
      this.#head = (at + 1) & this.#mask;
      this.#length--;
      this.#size -= entrySize(name, value);
      this.#onEvict?.(name, value, this.#inserted - this.#length - 1);
    }
  }

  #grow(): void {
    const capacity = this.#names.length * 2;
    const names = new Array<string>(capacity).fill('');
    const values = new Array<string>(capacity).fill('');
    for (let i = 0; i < this.#length; i++) {
      const at = (this.#head + i) & this.#mask;
      names[i] = this.#names[at]!;
      values[i] = this.#values[at]!;
    }
    this.#names = names;
    this.#values = values;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}
