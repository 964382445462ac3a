import { Budget } from './budget.ts';
import { type ConnectionHandler, type ConnectionOptions, DEFENCES } from './connection-options.ts';
import { H2ErrorCode } from './error-codes.ts';
import { H2ConnectionError } from './protocol-error.ts';

/**
 * The accounting of one connection's defences (docs/operations.md, "Defences"): a budget for
 * rapid resets and one for glitches (DEFENCES in connection-options.ts says what each counts).
 * An empty budget tells the owner (onDefence) and ends the connection with ENHANCE_YOUR_CALM.
 */
export class Defences {
  readonly #handler: ConnectionHandler;
  readonly #rapidReset: Budget;
  readonly #glitches: Budget;

  constructor(options: ConnectionOptions, handler: ConnectionHandler) {
    this.#handler = handler;
    const now = options.now ?? monotonicNow;
    const rr = options.rapidReset ?? DEFENCES.rapidReset;
    const gl = options.glitches ?? DEFENCES.glitches;
    this.#rapidReset = new Budget(rr.burst, rr.perSecond, now);
    this.#glitches = new Budget(gl.burst, gl.perSecond, now);
  }

  /** A frame that cost work and did nothing useful, or a stream error the peer caused. */
  glitch(weight = 1): void {
    if (this.#glitches.spend(weight)) return;
    this.#handler.onDefence?.('glitches');
    throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, 'too many protocol glitches (resets caused, refused streams, empty frames, control-frame floods)');
  }

  /** The peer reset a stream h2ws had not answered yet (the pattern of CVE-2023-44487). */
  unansweredReset(): void {
    if (this.#rapidReset.spend()) return;
    this.#handler.onDefence?.('rapid-reset');
    throw new H2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, 'too many streams reset before they were answered (CVE-2023-44487)');
  }
}

/** A monotonic clock in milliseconds (never set back, unlike Date.now). */
function monotonicNow(): number {
  return performance.now();
}
