/** The one place that knows which runtime h2ws is running on. */
export type RuntimeName = 'node' | 'deno' | 'bun';

declare const Deno: { version: { deno: string } } | undefined;
declare const Bun: { version: string } | undefined;

export function runtimeName(): RuntimeName {
  if (typeof Deno !== 'undefined') return 'deno';
  if (typeof Bun !== 'undefined') return 'bun';
  return 'node';
}

export function runtimeVersion(): string {
  if (typeof Deno !== 'undefined') return `deno ${Deno.version.deno}`;
  if (typeof Bun !== 'undefined') return `bun ${Bun.version}`;
  return `node ${process.versions.node}`;
}

/**
 * Bun's node:http server keeps reading the socket while a request (IncomingMessage) is
 * paused, so a paused upload still fills memory; pausing the socket itself holds the client
 * back. Node and Deno propagate the pause.
 */
export function requestPauseLeaksSocket(): boolean {
  return runtimeName() === 'bun';
}
