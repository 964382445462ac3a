import { DEFENCES } from './connection-options.ts';
import type { PrioritySignal } from './frame/types.ts';

/**
 * A field block split over HEADERS and CONTINUATION frames (RFC 9113 §4.3, §6.10), gathered
 * until END_HEADERS. Fragments are copied: the bytes they point into may be reused once the
 * read that carried them is done.
 */
export class FieldBlock {
  readonly #chunks: Uint8Array[];
  bytes: number;
  frames = 1;
  /**
   * The most octets a block may take: HPACK can shrink a field to one octet but never below, so
   * twice the header list limit is generous (capped at 4 MiB), plus one frame.
   */
  readonly #limit: number;

  constructor(
    readonly streamId: number,
    readonly endStream: boolean,
    readonly priority: PrioritySignal | undefined,
    first: Uint8Array,
    maxHeaderListSize: number,
  ) {
    this.#chunks = [first.slice()];
    this.bytes = first.length;
    this.#limit = Math.min(2 * maxHeaderListSize, 4 * 1024 * 1024) + 16_384;
  }

  /**
   * Adds a CONTINUATION's fragment; false when the block has grown past its size or frame
   * limit (a flood: the connection must go, as the block cannot be skipped without losing
   * HPACK's state).
   */
  add(fragment: Uint8Array): boolean {
    this.frames++;
    this.bytes += fragment.length;
    if (this.bytes > this.#limit || this.frames > DEFENCES.maxContinuationFrames) return false;
    this.#chunks.push(fragment.slice());
    return true;
  }

  whole(): Uint8Array {
    return Buffer.concat(this.#chunks, this.bytes);
  }
}
