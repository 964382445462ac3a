import { H2SessionPool, type PoolWindows } from '../h2/client-pool.ts';

/**
 * HTTP/2 connections to backends that speak RFC 8441, one per backend origin: the pool new
 * tunnels use, and those a reload replaced.
 */
export class BackendPools {
  #current: H2SessionPool;
  /** Backend pools a reload replaced: closed (GOAWAY), their tunnels finishing. */
  readonly #old = new Set<H2SessionPool>();

  constructor(connectTimeoutMs: number, windows: PoolWindows) {
    this.#current = new H2SessionPool({ connectTimeoutMs, windows });
  }

  /** The pool new tunnels use. */
  get current(): H2SessionPool {
    return this.#current;
  }

  /** A new pool for new tunnels, with a reload's connect timeout and windows. */
  replace(connectTimeoutMs: number, windows: PoolWindows): void {
    // Tunnels on the old pool's sessions go on; the pool takes no new ones and its
    // sessions close once their streams end (GOAWAY, RFC 9113 §6.8).
    for (const pool of this.#old) if (pool.sessions === 0) this.#old.delete(pool);
    this.#current.close();
    this.#old.add(this.#current);
    this.#current = new H2SessionPool({ connectTimeoutMs, windows });
  }

  /** Destroys every pool's sessions (the last step of a shutdown). */
  destroy(): void {
    this.#current.destroy();
    for (const pool of this.#old) pool.destroy();
  }
}
