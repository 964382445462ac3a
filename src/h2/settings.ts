import { DEFAULT_MAX_FRAME_SIZE, SettingId } from './frame/types.ts';
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
