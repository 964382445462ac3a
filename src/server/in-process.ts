import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { OpenTunnel } from '../tunnel/open-tunnel.ts';
import type { TunnelSummary } from '../tunnel/relay.ts';

/**
 * How an HTTP/2 client's stream (H2UpgradedStream) ended: its RST_STREAM code, if it was
 * reset, and whether h2ws released it after the closing handshake (RST_STREAM NO_ERROR).
 */
function resetCodeOf(socket: Duplex): { resetCode?: number; resetAfterClose?: boolean } {
  const { rstCode: code, resetAfterClose } = socket as { rstCode?: number; resetAfterClose?: boolean };
  return { ...(code !== undefined && code !== 0 && { resetCode: code }), ...(resetAfterClose === true && { resetAfterClose }) };
}

/** Byte counters of an upgraded socket: net.Socket and H2UpgradedStream both have them. */
type CountingSocket = Duplex & { readonly bytesRead?: number; readonly bytesWritten?: number };

/**
 * A WebSocket terminated in-process, tracked like a bridged tunnel: it counts toward
 * `limits.maxTunnels`, drains on shutdown with 1001 (going away, RFC 6455 §7.4.1) and reports
 * its bytes. "To backend" is what the client sent to the application.
 */
export class InProcessTunnel implements OpenTunnel {
  readonly closed: Promise<TunnelSummary>;
  readonly #ws: WebSocket;
  readonly #socket: CountingSocket;
  readonly #readBase: number;
  readonly #writtenBase: number;
  readonly #started = Date.now();
  #closedByGateway = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ws: WebSocket, socket: Duplex) {
    this.#ws = ws;
    this.#socket = socket;
    this.#readBase = this.#socket.bytesRead ?? 0;
    this.#writtenBase = this.#socket.bytesWritten ?? 0;
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number) => {
        clearTimeout(this.#graceTimer);
        resolve({
          bytesToBackend: this.bytesToBackend,
          bytesToClient: this.bytesToClient,
          durationMs: Date.now() - this.#started,
          // 1006: the connection ended without a Close frame (RFC 6455 §7.1.5).
          aborted: code === 1006 && !this.#closedByGateway ? 'client' : undefined,
          closedByGateway: this.#closedByGateway,
          closeCode: code,
          ...resetCodeOf(socket),
        });
      });
    });
  }

  get bytesToBackend(): number {
    return (this.#socket.bytesRead ?? 0) - this.#readBase;
  }

  get bytesToClient(): number {
    return (this.#socket.bytesWritten ?? 0) - this.#writtenBase;
  }

  shutdown(code: number, reason: string, graceMs: number): void {
    if (this.#closedByGateway) return;
    this.#closedByGateway = true;
    const ws = this.#ws;
    if (ws.readyState === ws.OPEN) ws.close(code, reason);
    this.#graceTimer = setTimeout(() => ws.terminate(), graceMs);
  }
}
