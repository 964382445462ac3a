import type { ConnectionCore } from './connection-core.ts';
import { H2ErrorCode } from './error-codes.ts';
import { encodeGoaway, encodePing } from './frame/encoder.ts';
import { type GoawayFrame, MAX_WINDOW_SIZE } from './frame/types.ts';

// GOAWAY either way (RFC 9113 §6.8): h2ws's two-step graceful shutdown, and what the peer's
// GOAWAY does to the streams h2ws opened. A connection error's GOAWAY is ConnectionCore.connectionError.

/** PING payload of the graceful shutdown's first step (RFC 9113 §6.8). */
const SHUTDOWN_PING = new Uint8Array([0x68, 0x32, 0x77, 0x73, 0x2d, 0x62, 0x79, 0x65]);

/** The first GOAWAY went out and the second (the real last stream id) has not yet. */
export function shutdownPending(c: ConnectionCore): boolean {
  return c.goawaySent !== undefined && c.goawaySent.lastStreamId === MAX_WINDOW_SIZE;
}

/**
 * Graceful shutdown (RFC 9113 §6.8): GOAWAY with the largest stream id and a PING, then,
 * once the PING comes back (every stream the client sent before it has arrived), GOAWAY
 * with the real last stream id. Open streams finish; new ones are refused.
 */
export function shutdown(c: ConnectionCore): void {
  if (c.closed || c.goawaySent !== undefined) return;
  if (c.role === 'client') {
    sendGoaway(c, 0, H2ErrorCode.NO_ERROR);
    return;
  }
  sendGoaway(c, MAX_WINDOW_SIZE, H2ErrorCode.NO_ERROR);
  c.emit(encodePing(SHUTDOWN_PING, false));
  c.shutdownPingSent = true;
  c.notify();
}

/** The shutdown's second step: GOAWAY with the last stream id processed (the adapter's timer calls this if the PING never returns). */
export function finishShutdown(c: ConnectionCore): void {
  if (c.closed || c.goawaySent === undefined || c.goawaySent.lastStreamId !== MAX_WINDOW_SIZE) return;
  sendGoaway(c, c.lastPeerStreamId, H2ErrorCode.NO_ERROR);
}

/** A PING ACK: true when it answers the shutdown's PING, which then takes the second step. */
export function onShutdownPingAck(c: ConnectionCore, opaque: Uint8Array): boolean {
  if (!c.shutdownPingSent || !Buffer.from(opaque.buffer, opaque.byteOffset, opaque.byteLength).equals(SHUTDOWN_PING)) return false;
  c.shutdownPingSent = false;
  finishShutdown(c);
  return true;
}

function sendGoaway(c: ConnectionCore, lastStreamId: number, code: number): void {
  // RFC 9113 §6.8: "Endpoints MUST NOT increase the value they send in the last stream identifier".
  const last = c.goawaySent === undefined ? lastStreamId : Math.min(c.goawaySent.lastStreamId, lastStreamId);
  c.emit(encodeGoaway(last, code));
  c.goawaySent = { lastStreamId: last, code };
  c.handler.onGoawaySent?.(code, last);
  c.notify();
}

/** GOAWAY received: streams h2ws opened above its last stream id end as unprocessed. */
export function onGoaway(c: ConnectionCore, frame: GoawayFrame): void {
  const previous = c.goawayReceived;
  // RFC 9113 §6.8: the last stream id never goes up.
  const lastStreamId = previous === undefined ? frame.lastStreamId : Math.min(previous.lastStreamId, frame.lastStreamId);
  c.goawayReceived = { lastStreamId, code: frame.errorCode };
  // Streams we opened above the last id were never processed: safe to retry (§8.7).
  for (const stream of [...c.streams.values()]) {
    const ours = (stream.id % 2 === 1) === (c.role === 'client');
    if (ours && stream.id > lastStreamId) {
      c.closedRecently.remember(stream.id, 'us');
      c.closeStream(stream, { code: H2ErrorCode.REFUSED_STREAM, by: 'connection', unprocessed: true });
    }
  }
  c.handler.onGoaway?.(frame.errorCode, frame.lastStreamId, frame.debugData);
  c.handler.onStreamSlot?.();
}
