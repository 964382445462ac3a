import { Hono } from 'hono';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/registry.ts';
import { upgradeWebSocket } from '../websocket/hono.ts';
import type { RecentOutcome } from './telemetry.ts';
import { STATUS_PAGE } from './status-page.ts';

/** What the status page shows, pushed once a second over its WebSocket. */
export interface StatusSnapshot {
  /** When the snapshot was taken (ISO 8601). */
  readonly time: string;
  /** False once a drain has started (what /readyz says). */
  readonly ready: boolean;
  /** Open tunnels plus handshakes in flight. */
  readonly openTotal: number;
  /** Open tunnels by route and transport. */
  readonly open: ReadonlyArray<{ readonly route: string; readonly transport: 'h2' | 'h1'; readonly count: number }>;
  /** Client connections open, by transport. */
  readonly sessions: { readonly h2: number; readonly h1: number };
  /** Bytes relayed so far, open tunnels included. */
  readonly bytes: { readonly toBackend: number; readonly toClient: number };
  /** The latest tunnel outcomes, newest first. */
  readonly recent: readonly RecentOutcome[];
  /** With `--workers`: one entry per worker process (the rest of the snapshot is their sum). */
  readonly workers?: readonly WorkerStatus[];
}

/** One worker process on the status page. */
export interface WorkerStatus {
  /** The worker's number, from 1. */
  readonly worker: number;
  /** Its process id, while it runs. */
  readonly pid?: number;
  /** Whether it serves (`/readyz` would answer 200). */
  readonly ready: boolean;
  /** Its open tunnels. */
  readonly openTotal: number;
  /** Its open client connections, by protocol. */
  readonly sessions: { readonly h2: number; readonly h1: number };
}

/**
 * What the admin endpoints read from a running server. In a worker process, metrics and
 * status are the whole gateway's, gathered from the other workers, hence the promises.
 */
export interface AdminView {
  /** Whether `/readyz` answers 200. */
  ready(): boolean;
  /** The Prometheus text for `/metrics`. */
  metrics(): string | Promise<string>;
  /** The snapshot behind `/status`. */
  status(): StatusSnapshot | Promise<StatusSnapshot>;
}

/** The operational paths; on the main listener they answer before the application's routes. */
export const ADMIN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics', '/status', '/status/ws']);

const STATUS_INTERVAL_MS = 1_000;

/**
 * The admin endpoints, as a Hono app:
 * - `GET /healthz`: 200 while the process serves at all (liveness);
 * - `GET /readyz`: 200, or 503 from the moment a drain starts (readiness);
 * - `GET /metrics`: Prometheus text exposition (when on);
 * - `GET /status` and its WebSocket `/status/ws` (when on).
 */
export function adminApp(view: AdminView, options: { readonly metrics: boolean; readonly status: boolean }): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.text('ok\n'));
  app.get('/readyz', (c) => (view.ready() ? c.text('ready\n') : c.text('draining\n', 503)));
  if (options.metrics) {
    app.get('/metrics', async (c) => c.body(await view.metrics(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' }));
  }
  if (options.status) {
    app.get('/status', (c) => c.html(STATUS_PAGE));
    app.get(
      '/status/ws',
      upgradeWebSocket(() => {
        let timer: ReturnType<typeof setInterval> | undefined;
        return {
          onOpen(_event, ws) {
            const push = () =>
              void Promise.resolve(view.status()).then((snapshot) => {
                if (ws.readyState === 1) ws.send(JSON.stringify(snapshot));
              });
            push();
            timer = setInterval(push, STATUS_INTERVAL_MS);
          },
          onClose() {
            clearInterval(timer);
          },
        };
      }, { pingIntervalMs: 0 }),
    );
  }
  app.notFound((c) => c.text('not found\n', 404));
  return app;
}
