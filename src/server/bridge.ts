import type { ForwardedFor } from '../handshake/backend-request.ts';
import type { Negotiated } from '../handshake/backend-response.ts';
import type { ResponseFields } from '../handshake/client-response.ts';
import type { WebSocketRequest } from '../handshake/websocket-request.ts';
import type { RouteMatch } from '../routing/route-table.ts';
import type { Outcome } from '../tunnel/outcomes.ts';
import { Tunnel, type TunnelEnd } from '../tunnel/relay.ts';
import { upgradeBackend } from './backend-upgrade.ts';
import { h2BackendEnd, upgradeBackendH2 } from './backend-h2.ts';
import { H2ErrorCode } from '../h2/error-codes.ts';
import type { H2SessionPool } from '../h2/client-pool.ts';
import { socketEnd } from './tunnel-ends.ts';

/** What the bridge needs from the client's side, whichever transport it came over. */
export interface ClientHandle {
  readonly forwarded: ForwardedFor;
  /** Aborted when the client goes away while the backend handshake is in flight. */
  readonly signal: AbortSignal;
  /** Bytes the client sent after its handshake (HTTP/1.1 only). */
  readonly initial?: Uint8Array;
  /** Sends the success response (200 on h2, 101 on HTTP/1.1) and returns the client's tunnel end. */
  accept(negotiated: Negotiated): TunnelEnd;
  /** Sends an error response. */
  refuse(status: number, headers: ResponseFields, body: Uint8Array | string): void;
}

export interface BridgeResult {
  /** "cancelled": the client reset or went away before its handshake was answered. */
  readonly outcome: Outcome | 'cancelled';
  /** The status the client got, when the handshake failed. */
  readonly status?: number;
  readonly message?: string;
  readonly tunnel?: Tunnel;
}

/**
 * Opens the backend, and only after its 101 is verified answers the client and starts the
 * relay (design table, first row). Any failure becomes the status in the table.
 */
export async function bridge(
  match: RouteMatch,
  request: WebSocketRequest,
  client: ClientHandle,
  settings: { backendConnectMs: number; backendUpgradeMs: number; maxBufferedBytes: number; closeGraceMs: number; h2Pool: H2SessionPool },
): Promise<BridgeResult> {
  const { h2 } = match.route;
  if (h2 !== undefined) {
    const viaH2 = await upgradeBackendH2(settings.h2Pool, match.route.backend, request, match.backendPath, client.forwarded, settings, client.signal);
    if (viaH2.ok === true) {
      if (client.signal.aborted) {
        h2BackendEnd(viaH2.stream).abort(H2ErrorCode.CANCEL);
        return { outcome: 'cancelled', message: 'the client went away during the handshake' };
      }
      const tunnel = new Tunnel(client.accept(viaH2.negotiated), h2BackendEnd(viaH2.stream), { maxBufferedBytes: settings.maxBufferedBytes, toBackend: client.initial, closeGraceMs: settings.closeGraceMs });
      return { outcome: 'ok', tunnel };
    }
    if (viaH2.ok === false) {
      if (client.signal.aborted) return { outcome: 'cancelled', message: 'the client went away during the handshake' };
      client.refuse(viaH2.status, viaH2.headers, viaH2.body);
      return { outcome: viaH2.outcome, status: viaH2.status, message: viaH2.message };
    }
    if (h2 === 'require') {
      const message = `backend ${match.route.backend.url}: ${viaH2.reason}`;
      client.refuse(502, {}, `${message}\n`);
      return { outcome: 'backend_unreachable', status: 502, message };
    }
    // "prefer": this backend does not do RFC 8441, so this tunnel goes over HTTP/1.1.
  }
  const upgrade = await upgradeBackend(match.route.backend, request, match.backendPath, client.forwarded, settings, client.signal);
  if (!upgrade.ok) {
    if (client.signal.aborted) return { outcome: 'cancelled', message: 'the client went away during the handshake' };
    client.refuse(upgrade.status, upgrade.headers, upgrade.body);
    return { outcome: upgrade.outcome, status: upgrade.status, message: upgrade.message };
  }
  if (client.signal.aborted) {
    // The client reset while the backend was answering: abort the backend the same way.
    socketEnd(upgrade.socket).abort();
    return { outcome: 'cancelled', message: 'the client went away during the handshake' };
  }
  const tunnel = new Tunnel(client.accept(upgrade.negotiated), socketEnd(upgrade.socket), {
    maxBufferedBytes: settings.maxBufferedBytes,
    toBackend: client.initial,
    toClient: upgrade.leftover,
    closeGraceMs: settings.closeGraceMs,
  });
  return { outcome: 'ok', tunnel };
}
