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
}

export const capabilities: RuntimeCapabilities = Object.freeze({
  resetBeforeResponse: runtimeName() !== 'bun',
});
