import type { TunnelSummary } from './relay.ts';

/** An open tunnel as the server tracks it: bridged to a backend, or handled in-process. */
export interface OpenTunnel {
  readonly bytesToBackend: number;
  readonly bytesToClient: number;
  readonly closed: Promise<TunnelSummary>;
  /** Closes with a Close frame (e.g. 1001 going away) where possible; aborts what is left after `graceMs`. */
  shutdown(code: number, reason: string, graceMs: number): void;
}
