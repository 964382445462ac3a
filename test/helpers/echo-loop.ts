/**
 * A tunnel kept busy: binary messages of varying sizes, one at a time, each checked byte for
 * byte when the echo comes back. Used to show that open tunnels go on untouched while the
 * gateway reloads or loses a worker.
 */
import type http2 from 'node:http2';
import { clientFrame, FrameSink } from './h2-client.ts';
import { mulberry32 } from './prng.ts';

export class EchoLoop {
  /** Messages that came back intact. */
  verified = 0;
  /** What went wrong first: a wrong echo, a reset, an end. */
  failure: string | undefined;
  readonly #stream: http2.ClientHttp2Stream;
  readonly #sink = new FrameSink(false);
  readonly #random: () => number;
  readonly #maxSize: number;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(stream: http2.ClientHttp2Stream, seed: number, maxSize = 4096) {
    this.#stream = stream;
    this.#random = mulberry32(seed);
    this.#maxSize = maxSize;
    stream.on('data', (d: Buffer) => this.#sink.write(d));
    stream.once('close', () => {
      if (!this.#stopped) this.failure ??= `the stream closed (RST_STREAM code ${stream.rstCode})`;
    });
  }

  /** Starts echoing until {@link stop}. */
  start(): this {
    this.#running = this.#loop();
    return this;
  }

  async #loop(): Promise<void> {
    for (let i = 0; !this.#stopped && this.failure === undefined; i++) {
      const size = 1 + Math.floor(this.#random() * this.#maxSize);
      const payload = Buffer.alloc(size);
      for (let j = 0; j < size; j++) payload[j] = Math.floor(this.#random() * 256);
      this.#stream.write(clientFrame(payload));
      try {
        await this.#sink.until(() => this.#sink.messages.length > i || this.failure !== undefined, 20_000);
      } catch (err) {
        this.failure ??= `no echo for message ${i}: ${(err as Error).message}`;
        return;
      }
      if (this.failure !== undefined) return;
      const echoed = this.#sink.messages[i];
      if (!Buffer.isBuffer(echoed) || !echoed.equals(payload)) {
        this.failure = `message ${i} (${size} bytes) came back different`;
        return;
      }
      this.verified++;
    }
  }

  /** Resolves once at least `n` more messages have come back intact (or the loop failed). */
  async more(n: number, ms = 30_000): Promise<void> {
    const target = this.verified + n;
    const deadline = Date.now() + ms;
    while (this.verified < target && this.failure === undefined) {
      if (Date.now() > deadline) throw new Error(`only ${this.verified} of ${target} echoes in ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops after the message in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }
}
