/**
 * The messages between the supervisor and its workers, over the runtime's IPC channel (JSON
 * values). Config travels as a snapshot of the files' contents, read once by the supervisor,
 * so every worker, including one started later to replace another, runs the same generation.
 */
import type { ConfigSnapshot } from '../config/snapshot.ts';
import type { StatusSnapshot } from './admin.ts';

/** What a worker needs besides the command line, decided once by the supervisor. */
export interface WorkerInit {
  readonly t: 'init';
  readonly worker: number;
  readonly workers: number;
  readonly reusePort: boolean;
  readonly snapshot: ConfigSnapshot;
  /** The port to bind: the configured one, or the first worker's when that was 0 (reuse-port). */
  readonly port?: number;
  readonly adminPort?: number;
  /** One self-signed certificate for all workers, so clients see the same one everywhere. */
  readonly selfSigned?: { readonly cert: string; readonly key: string };
  /** The embedded demo's backend, run once by the supervisor. */
  readonly demoUrl?: string;
}

export type Collectable = 'metrics' | 'status';

export type ToWorker =
  | WorkerInit
  | { readonly t: 'reload'; readonly snapshot: ConfigSnapshot }
  | { readonly t: 'drain' }
  /** Send this process's own numbers (answered with `snapshot`). */
  | { readonly t: 'collect'; readonly id: number; readonly what: Collectable }
  /** The whole gateway's numbers, answering `ask`. */
  | { readonly t: 'collected'; readonly id: number; readonly metrics?: string; readonly status?: StatusSnapshot };

export type FromWorker =
  /** The worker listens for messages now: send `init`. */
  | { readonly t: 'hello' }
  | { readonly t: 'ready'; readonly port: number; readonly adminPort?: number; readonly url: string; readonly adminUrl: string }
  | { readonly t: 'reloaded'; readonly ok: boolean; readonly message?: string; readonly restartNeeded?: readonly string[] }
  /** This worker serves /metrics or /status and needs the whole gateway's numbers. */
  | { readonly t: 'ask'; readonly id: number; readonly what: Collectable }
  | { readonly t: 'snapshot'; readonly id: number; readonly metrics?: string; readonly status?: StatusSnapshot };

/** A message from the other side, if it is one of ours. */
export function isMessage<T extends { t: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string';
}
