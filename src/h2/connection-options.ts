import type { RequestHead } from './field-validation.ts';
import type { H2ConnectionError } from './protocol-error.ts';
import type { Settings } from './settings.ts';
import type { H2Stream } from './stream.ts';

// The connection's contract with its owner: what it is built with, what it reports, and the
// budgets of its defences.

/** The defences' budgets (docs/operations.md, "Defences"). */
export const DEFENCES = Object.freeze({
  /**
   * Rapid reset (CVE-2023-44487): streams the peer resets before h2ws answered them. A
   * browser cancelling a page's requests resets tens at once; a flood resets thousands.
   */
  rapidReset: { burst: 400, perSecond: 100 },
  /**
   * Glitches (HAProxy's term): frames that cost work and do nothing useful, or make h2ws reset
   * a stream (MadeYouReset, CVE-2025-8671): stream errors the peer caused, streams refused
   * over the limit, empty DATA and CONTINUATION, SETTINGS and PING floods, unsolicited SETTINGS ACKs.
   */
  glitches: { burst: 1000, perSecond: 200 },
  /** CONTINUATION frames allowed in one field block (RFC 9113 §6.10 sets no limit; a flood is an attack). */
  maxContinuationFrames: 64,
});

export type Role = 'server' | 'client';

export interface ConnectionOptions {
  readonly role: Role;
  /** What this endpoint advertises; the rest keeps the RFC's defaults. */
  readonly settings?: Partial<Settings>;
  /** The connection's receive window, raised with a WINDOW_UPDATE at the start (RFC 9113 §6.9.2). */
  readonly connectionWindow?: number;
  /** Bytes queued per stream before write() returns false. Default 64 KiB. */
  readonly streamHighWater?: number;
  readonly rapidReset?: { readonly burst: number; readonly perSecond: number };
  readonly glitches?: { readonly burst: number; readonly perSecond: number };
  /** The clock for the budgets (milliseconds). */
  readonly now?: () => number;
  /** For logs and the streams' `remoteAddress`. */
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

/** What the connection tells its owner. Every method is optional but onOutput. */
export interface ConnectionHandler {
  /** Bytes are waiting: call takeOutput() soon (the adapter gathers a tick's frames into one write). */
  onOutput(): void;
  /** Server: a new request. Set the stream's callbacks here. */
  onStream?(stream: H2Stream, head: RequestHead, endStream: boolean): void;
  /** The peer's SETTINGS were applied; `first` for the connection preface's. */
  onRemoteSettings?(settings: Readonly<Settings>, first: boolean): void;
  onGoaway?(code: number, lastStreamId: number, debug: Uint8Array): void;
  onGoawaySent?(code: number, lastStreamId: number): void;
  onPingAck?(opaque: Uint8Array): void;
  /** Every RST_STREAM, sent or received (for metrics). */
  onReset?(stream: H2Stream | undefined, code: number, side: 'sent' | 'received'): void;
  /** A connection error: GOAWAY is queued, every stream is closed; flush and close the transport. */
  onConnectionError?(error: H2ConnectionError): void;
  /** A defence's budget ran out (the connection error follows). */
  onDefence?(kind: 'rapid-reset' | 'glitches' | 'header-block'): void;
  /** Client: a stream slot was freed or the peer's limits changed. */
  onStreamSlot?(): void;
}
