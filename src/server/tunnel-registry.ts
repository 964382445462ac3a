import { H2wsError } from '../errors.ts';
import { OUTCOME_ERROR_CODE } from '../tunnel/outcomes.ts';
import type { TunnelSummary } from '../tunnel/relay.ts';
import type { OpenTunnel } from '../tunnel/open-tunnel.ts';
import { watchIdle } from '../tunnel/idle-timeout.ts';
import type { StatusSnapshot } from './admin.ts';
import type { TunnelClosedEvent, TunnelEvent } from './gateway-hooks.ts';
import type { Telemetry } from './telemetry.ts';

/** How long tunnels get to close once told to (1001 going away) before they are aborted. */
export const SHUTDOWN_GRACE_MS = 1_000;

/** Which tunnel an open tunnel is, for reports. */
export type TunnelAbout = Omit<TunnelClosedEvent, keyof TunnelSummary>;

/** A handshake outcome to report: the event the application sees, plus what only logs and metrics get. */
export type HandshakeReport = TunnelEvent & { h2Code?: number; client: string };

/** What the registry tells and asks beyond telemetry: the application's hooks and the gateway's state. */
export interface RegistryHooks {
  readonly onTunnel: ((event: TunnelEvent) => void) | undefined;
  readonly onTunnelClosed: ((event: TunnelClosedEvent) => void) | undefined;
  /** `timeouts.idleMs` in force. */
  idleMs(): number;
  /** True once the gateway drains: tunnels opening from then on are told to go away. */
  draining(): boolean;
}

/**
 * The open tunnels and the handshakes in flight: what `limits.maxTunnels` counts, what a drain
 * waits for, and where each handshake outcome and each closed tunnel is reported.
 */
export class TunnelRegistry {
  readonly #telemetry: Telemetry;
  readonly #hooks: RegistryHooks;
  readonly #tunnels = new Map<OpenTunnel, TunnelAbout | undefined>();
  readonly #closedBytes = { toBackend: 0, toClient: 0 };
  #handshakes = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(telemetry: Telemetry, hooks: RegistryHooks) {
    this.#telemetry = telemetry;
    this.#hooks = hooks;
  }

  /** Open tunnels plus handshakes in flight: what `limits.maxTunnels` counts. */
  get open(): number {
    return this.#tunnels.size + this.#handshakes;
  }

  /** A handshake goes on past admission: it counts toward the limit until it ends. */
  handshakeStarted(): void {
    this.#handshakes++;
  }

  /** A handshake has ended, opened or not; callers then check for idle (see checkIdle). */
  handshakeEnded(): void {
    this.#handshakes--;
  }

  report(event: HandshakeReport): void {
    const { h2Code, client, ...rest } = event;
    if (event.outcome !== 'ok') {
      const details = { ...(event.status !== undefined && { status: event.status }), ...(h2Code !== undefined && { h2Code }) };
      (rest as { error?: H2wsError }).error = new H2wsError(OUTCOME_ERROR_CODE[event.outcome], event.message ?? event.outcome, details);
    }
    this.#hooks.onTunnel?.(rest);
    if (event.outcome === 'ok') this.#telemetry.metrics.handshake(event.route, event.transport, 'ok');
    else this.#telemetry.handshakeFailed({ ...event, outcome: event.outcome });
  }

  /**
   * Counts an open tunnel until it closes, with the idle timeout and the drain applied to it.
   * Internal tunnels (the status page's own socket) are drained but not reported.
   */
  track(tunnel: OpenTunnel, about: TunnelAbout, internal: boolean): void {
    this.#tunnels.set(tunnel, internal ? undefined : about);
    if (!internal) this.#telemetry.metrics.tunnelOpened(about.route, about.transport);
    const idleMs = this.#hooks.idleMs();
    if (idleMs > 0) watchIdle(tunnel, idleMs, SHUTDOWN_GRACE_MS);
    if (this.#hooks.draining()) tunnel.shutdown(1001, 'going away', SHUTDOWN_GRACE_MS);
    void tunnel.closed.then((summary) => {
      this.#tunnels.delete(tunnel);
      if (!internal) {
        const closed = { ...summary, ...about };
        this.#closedBytes.toBackend += summary.bytesToBackend;
        this.#closedBytes.toClient += summary.bytesToClient;
        this.#telemetry.tunnelClosed(closed);
        this.#hooks.onTunnelClosed?.(closed);
      }
      this.checkIdle();
    });
  }

  /** Wakes whoever waits for idle once nothing is open or in flight. */
  checkIdle(): void {
    if (this.open > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves once no tunnel is open and no handshake is in flight. */
  whenIdle(): Promise<void> {
    if (this.open === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Tells every open tunnel to close with 1001 (going away), aborting it after a short grace. */
  goingAway(): void {
    for (const tunnel of this.#tunnels.keys()) tunnel.shutdown(1001, 'going away', SHUTDOWN_GRACE_MS);
  }

  /** The open tunnels by route and transport, and the bytes carried, closed tunnels included. */
  tally(): Pick<StatusSnapshot, 'openTotal' | 'open' | 'bytes'> {
    const open = new Map<string, { route: string; transport: 'h2' | 'h1'; count: number }>();
    let toBackend = this.#closedBytes.toBackend;
    let toClient = this.#closedBytes.toClient;
    for (const [tunnel, about] of this.#tunnels) {
      if (about === undefined) continue;
      toBackend += tunnel.bytesToBackend;
      toClient += tunnel.bytesToClient;
      const key = `${about.route}\u0000${about.transport}`;
      const entry = open.get(key) ?? { route: about.route, transport: about.transport, count: 0 };
      entry.count++;
      open.set(key, entry);
    }
    return {
      openTotal: [...open.values()].reduce((n, e) => n + e.count, 0),
      open: [...open.values()].sort((a, b) => a.route.localeCompare(b.route) || a.transport.localeCompare(b.transport)),
      bytes: { toBackend, toClient },
    };
  }
}
