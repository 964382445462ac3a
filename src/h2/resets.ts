import { addAbortSignal, type Duplex } from 'node:stream';
import type { Http2Session, ServerHttp2Stream } from './server.ts';

export type ResetSide = 'sent' | 'received';
export type ResetReport = (code: number, side: ResetSide) => void;

/** Streams h2ws itself reset, so their 'close' is not mistaken for the peer's RST_STREAM. */
const resetByUs = new WeakSet<ServerHttp2Stream>();
const reporters = new WeakMap<Http2Session, ResetReport>();

/**
 * Reports every RST_STREAM on a session (RFC 9113 §6.4): those h2ws sends through
 * `resetStream`, and those the peer sends, seen when a stream closes aborted with a code.
 */
export function observeResets(session: Http2Session, report: ResetReport): void {
  reporters.set(session, report);
  session.on('stream', (stream: ServerHttp2Stream) => {
    // 'on', not 'once': 'close' fires once, and once() keeps a wrapper alive per open stream.
    stream.on('close', () => {
      if (resetByUs.has(stream)) return;
      // A stream h2ws did not reset that closed with an error code was reset by the peer. (Node
      // sets `aborted` only while the writable side is open, so it cannot be the test.)
      const code = stream.rstCode;
      if (code !== undefined && code !== 0 && !session.destroyed) report(code, 'received');
    });
  });
}

/** Sends RST_STREAM with `code` and reports it as sent. */
export function resetStream(stream: ServerHttp2Stream, code: number): void {
  if (stream.closed || stream.destroyed || resetByUs.has(stream)) return;
  resetByUs.add(stream);
  // Read before close(): Deno clears stream.session when the stream closes.
  const session = stream.session;
  stream.close(code);
  if (session !== undefined) reporters.get(session)?.(code, 'sent');
}

/**
 * Sends RST_STREAM(CANCEL) alone. `stream.close(code)` ends the writable side first, so the
 * peer sees END_STREAM (a clean half-close) before the reset; destroying the stream with an
 * abort error resets it at once with CANCEL (RFC 9113 §8.7: "the stream is no longer
 * needed"). `addAbortSignal` is the public way to destroy a stream with that error.
 */
export function cancelStream(stream: Duplex & { readonly closed?: boolean }): void {
  if (stream.destroyed || stream.closed === true) return;
  const controller = new AbortController();
  addAbortSignal(controller.signal, stream);
  stream.on('error', () => {});
  controller.abort();
}
