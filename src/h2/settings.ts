import { H2ErrorCode } from './error-codes.ts';
import { DEFAULT_MAX_FRAME_SIZE, SettingId } from './frame/types.ts';
import { H2ConnectionError } from './protocol-error.ts';
import { DEFAULT_WINDOW } from './windows.ts';

/** The SETTINGS parameters an endpoint runs with (RFC 9113 §6.5.2, RFC 8441 §3). */
export interface Settings {
  headerTableSize: number;
  enablePush: boolean;
  /** Infinity: no limit was given. */
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  /** Infinity: no limit was given. */
  maxHeaderListSize: number;
  enableConnectProtocol: boolean;
}

/** RFC 9113 §6.5.2: the values in force before any SETTINGS frame. */
export function defaultSettings(): Settings {
  return {
    headerTableSize: 4096,
    enablePush: true,
    maxConcurrentStreams: Number.POSITIVE_INFINITY,
    initialWindowSize: DEFAULT_WINDOW,
    maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
    maxHeaderListSize: Number.POSITIVE_INFINITY,
    enableConnectProtocol: false,
  };
}

/** The pairs to send for `wanted`: only those that differ from the protocol defaults. */
export function settingsPairs(wanted: Settings): Array<[number, number]> {
  const base = defaultSettings();
  const pairs: Array<[number, number]> = [];
  if (wanted.headerTableSize !== base.headerTableSize) pairs.push([SettingId.HEADER_TABLE_SIZE, wanted.headerTableSize]);
  // Always said: a client that does not want pushes must say so (§6.5.2, §8.4).
  pairs.push([SettingId.ENABLE_PUSH, wanted.enablePush ? 1 : 0]);
  if (Number.isFinite(wanted.maxConcurrentStreams)) pairs.push([SettingId.MAX_CONCURRENT_STREAMS, wanted.maxConcurrentStreams]);
  if (wanted.initialWindowSize !== base.initialWindowSize) pairs.push([SettingId.INITIAL_WINDOW_SIZE, wanted.initialWindowSize]);
  if (wanted.maxFrameSize !== base.maxFrameSize) pairs.push([SettingId.MAX_FRAME_SIZE, wanted.maxFrameSize]);
  if (Number.isFinite(wanted.maxHeaderListSize)) pairs.push([SettingId.MAX_HEADER_LIST_SIZE, wanted.maxHeaderListSize]);
  if (wanted.enableConnectProtocol) pairs.push([SettingId.ENABLE_CONNECT_PROTOCOL, 1]);
  return pairs;
}

/** What applying a peer's SETTINGS changed that the connection must act on. */
export interface AppliedSettings {
  /** How much every open stream's send window moves (RFC 9113 §6.9.2). */
  readonly windowDelta: number;
  /** The peer's new SETTINGS_HEADER_TABLE_SIZE, when it sent one (for the HPACK encoder). */
  readonly headerTableSize: number | undefined;
}

/**
 * Applies a SETTINGS frame's pairs to `remote` (RFC 9113 §6.5.2). The decoder has checked each
 * value's range already; what depends on the role or on earlier values is checked here.
 * Unknown identifiers are ignored.
 */
export function applyRemoteSettings(remote: Settings, pairs: ReadonlyArray<readonly [number, number]>, role: 'server' | 'client'): AppliedSettings {
  let windowDelta = 0;
  let headerTableSize: number | undefined;
  for (const [id, value] of pairs) {
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        remote.headerTableSize = headerTableSize = value;
        break;
      case SettingId.ENABLE_PUSH:
        // RFC 9113 §6.5.2: a server never says 1.
        if (role === 'client' && value === 1) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'a server sent SETTINGS_ENABLE_PUSH = 1 (RFC 9113 §6.5.2)');
        remote.enablePush = value === 1;
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        remote.maxConcurrentStreams = value;
        break;
      case SettingId.INITIAL_WINDOW_SIZE:
        windowDelta += value - remote.initialWindowSize;
        remote.initialWindowSize = value;
        break;
      case SettingId.MAX_FRAME_SIZE:
        remote.maxFrameSize = value;
        break;
      case SettingId.MAX_HEADER_LIST_SIZE:
        remote.maxHeaderListSize = value;
        break;
      case SettingId.ENABLE_CONNECT_PROTOCOL:
        // RFC 8441 §3: once 1, never 0 (only a 1 ever sets it, so the current value says).
        if (value === 0 && remote.enableConnectProtocol) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_CONNECT_PROTOCOL went from 1 to 0 (RFC 8441 §3)');
        remote.enableConnectProtocol = value === 1;
        break;
    }
  }
  return { windowDelta, headerTableSize };
}
