import { runtimeName } from './detect.ts';

/**
 * The few things a runtime's node:http2 cannot do, found by the end-to-end suite and listed
 * in the README's table. Everything else behaves the same on Node, Deno and Bun.
 */
export interface RuntimeCapabilities {
  /**
   * Can RST_STREAM a stream before any response HEADERS were sent? Bun 1.4 queues the
   * reset behind the never-started response and never sends it, so there h2ws answers
   * 503 (with retry-after) instead, the status an HTTP/1.1 client gets.
   */
  readonly resetBeforeResponse: boolean;
  /**
   * Streams after which h2ws sends GOAWAY(NO_ERROR) on a session itself. Deno 2.9 aborts
   * the whole process (an nghttp2 assertion in find_stream_on_goaway_func) when a client's
   * GOAWAY arrives on a session that has carried about 175 streams or more; a session the
   * server has already sent GOAWAY on is safe. Elsewhere sessions are unlimited.
   */
  readonly streamsPerSession: number;
  /**
   * Can the connection's receive window be raised (`session.setLocalWindowSize`, RFC 9113
   * §6.9)? On Bun 1.4 the call succeeds, but afterwards multi-megabyte transfers over the
   * connection stall (the design-table suite's 4 MiB and backpressure cases time out). On Deno
   * 2.9 it works, but with it the fault suite's Deno gateway aborted in nghttp2
   * (find_stream_on_goaway_func) in two runs of six, where it had never aborted before. The
   * link is not proven (the benchmark's Deno gateway hits that abort with either setting),
   * but a raised window is not worth more exposure to a known crash. On both
   * the connection window stays at the protocol default; stream windows still grow.
   */
  readonly raiseConnectionWindow: boolean;
}

export const capabilities: RuntimeCapabilities = Object.freeze({
  resetBeforeResponse: runtimeName() !== 'bun',
  streamsPerSession: runtimeName() === 'deno' ? 128 : Number.POSITIVE_INFINITY,
  raiseConnectionWindow: runtimeName() === 'node',
});
