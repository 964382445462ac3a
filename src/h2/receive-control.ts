import type { ConnectionCore } from './connection-core.ts';
import { H2ErrorCode } from './error-codes.ts';
import { encodePing, encodeSettingsAck } from './frame/encoder.ts';
import { MAX_WINDOW_SIZE, type PingFrame, type RstStreamFrame, type SettingsFrame } from './frame/types.ts';
import { H2ConnectionError } from './protocol-error.ts';
import { applyRemoteSettings } from './settings.ts';
import { onShutdownPingAck } from './shutdown.ts';
import { applyVerdict, ReceivedKind } from './stream-state.ts';

// RST_STREAM, SETTINGS and PING received (RFC 9113 §6.4, §6.5, §6.7). DATA and HEADERS are in
// receive-data.ts and receive-headers.ts, WINDOW_UPDATE in flow-control.ts, GOAWAY in shutdown.ts.

export function onRstStream(c: ConnectionCore, frame: RstStreamFrame): void {
  const stream = c.streams.get(frame.streamId);
  if (stream === undefined) {
    applyVerdict(c.absentVerdict(frame.streamId, ReceivedKind.RST_STREAM), frame.streamId);
    return;
  }
  c.handler.onReset?.(stream, frame.errorCode, 'received');
  // CVE-2023-44487 counts streams reset before they were answered: that is the attack's
  // pattern. Resetting an established tunnel frees resources and costs nothing here.
  const unanswered = c.role === 'server' && !stream.headersSent;
  c.closedRecently.remember(stream.id, 'peer-reset');
  c.closeStream(stream, { code: frame.errorCode, by: 'peer', unprocessed: c.role === 'client' && frame.errorCode === H2ErrorCode.REFUSED_STREAM });
  if (unanswered) c.defences.unansweredReset();
}

export function onSettings(c: ConnectionCore, frame: SettingsFrame): void {
  if (frame.ack) {
    // RFC 9113 §6.5.3: our SETTINGS are in force.
    if (c.settingsAcksPending > 0) c.settingsAcksPending--;
    else c.defences.glitch();
    return;
  }
  const first = !c.sawSettings;
  if (!first) c.defences.glitch(); // each costs an ACK: a flood of them is a glitch flood
  c.sawSettings = true;
  const remote = c.remote;
  const applied = applyRemoteSettings(remote, frame.settings, c.role);
  if (applied.headerTableSize !== undefined) c.hpackOut.setMaxTableSize(Math.min(applied.headerTableSize, 4096));
  const delta = applied.windowDelta;
  if (delta !== 0) {
    // RFC 9113 §6.9.2: the change applies to every open stream's send window.
    for (const stream of c.streams.values()) {
      stream.sendWindow += delta;
      if (stream.sendWindow > MAX_WINDOW_SIZE) throw new H2ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE takes stream ${stream.id}'s window past 2^31-1 (RFC 9113 §6.9.2)`);
      if (delta > 0 && stream.outBytes + (stream.endQueued ? 1 : 0) > 0) c.ready.add(stream);
    }
  }
  c.emit(encodeSettingsAck());
  c.handler.onRemoteSettings?.(remote, first);
  c.handler.onStreamSlot?.();
}

export function onPing(c: ConnectionCore, frame: PingFrame): void {
  if (!frame.ack) {
    c.defences.glitch(0.1); // a PING every few seconds is normal; thousands a second are not
    // RFC 9113 §6.7: answer with the same payload, never answer an ACK.
    c.emit(encodePing(frame.opaque, true));
    return;
  }
  if (onShutdownPingAck(c, frame.opaque)) return;
  c.handler.onPingAck?.(frame.opaque);
}
