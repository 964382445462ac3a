import type { StatusSnapshot, WorkerStatus } from './admin.ts';
import type { RecentOutcome } from './telemetry.ts';

/** How many recent outcomes the merged page lists, as one process does. */
const RECENT = 20;

/** One worker's own snapshot, as the supervisor collected it. */
export interface WorkerSnapshot {
  readonly worker: number;
  readonly pid: number | undefined;
  readonly status: StatusSnapshot;
}

/**
 * The whole gateway's status from its workers' snapshots: counts and bytes added up, open
 * tunnels per route and transport added up, the newest outcomes of all, and one row per
 * worker. `retiredBytes` are the bytes of workers that have ended, so the totals never drop.
 */
export function mergeStatus(parts: readonly WorkerSnapshot[], retiredBytes: { readonly toBackend: number; readonly toClient: number }): StatusSnapshot {
  const open = new Map<string, { route: string; transport: 'h2' | 'h1'; count: number }>();
  const bytes = { ...retiredBytes };
  const sessions = { h2: 0, h1: 0 };
  let recent: RecentOutcome[] = [];
  const workers: WorkerStatus[] = [];
  for (const { worker, pid, status } of parts) {
    for (const o of status.open) {
      const key = `${o.route}\u0000${o.transport}`;
      const entry = open.get(key) ?? { route: o.route, transport: o.transport, count: 0 };
      entry.count += o.count;
      open.set(key, entry);
    }
    bytes.toBackend += status.bytes.toBackend;
    bytes.toClient += status.bytes.toClient;
    sessions.h2 += status.sessions.h2;
    sessions.h1 += status.sessions.h1;
    recent = recent.concat(status.recent);
    workers.push({ worker, ...(pid !== undefined && { pid }), ready: status.ready, openTotal: status.openTotal, sessions: status.sessions });
  }
  recent.sort((a, b) => b.time.localeCompare(a.time));
  return {
    time: new Date().toISOString(),
    ready: parts.length > 0 && parts.every((p) => p.status.ready),
    openTotal: parts.reduce((n, p) => n + p.status.openTotal, 0),
    open: [...open.values()].sort((a, b) => a.route.localeCompare(b.route) || a.transport.localeCompare(b.transport)),
    sessions,
    bytes,
    recent: recent.slice(0, RECENT),
    workers: workers.sort((a, b) => a.worker - b.worker),
  };
}
