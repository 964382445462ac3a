import type { Readable } from 'node:stream';

/** Chunks a body may queue ahead of its reader before the source is paused. */
const QUEUED_CHUNKS = 4;

/**
 * A node Readable (an upstream response, a file, an HTTP/1.1 request) as a Web stream that
 * pulls: the source is paused whenever a few chunks wait unread, so a slow reader holds the
 * sender back (TCP backpressure) instead of queueing the whole body. Node 20's
 * `Readable.toWeb` did not: a 100 MB upload through it was held in memory whole.
 * `transport`, when given, is paused and resumed with the source (the socket under a request
 * whose own pause does not reach it).
 */
export function readableBody(source: Readable, transport?: Pick<Readable, 'pause' | 'resume'>): ReadableStream<Uint8Array> {
  let settled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // Paused explicitly first, so the 'data' listener does not start the flow.
        source.pause();
        source.on('data', (chunk: Buffer) => {
          if (settled) return;
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 1) > 0) return;
          source.pause();
          transport?.pause();
        });
        source.once('end', () => {
          if (settled) return;
          settled = true;
          controller.close();
        });
        const failed = (err?: Error) => {
          if (settled) return;
          settled = true;
          controller.error(err ?? new Error('the body ended before it was complete'));
        };
        source.once('error', failed);
        // A source closed without 'end' (a reset connection) is an incomplete body.
        source.once('close', () => failed());
      },
      pull() {
        transport?.resume();
        source.resume();
      },
      cancel() {
        settled = true;
        source.destroy();
      },
    },
    { highWaterMark: QUEUED_CHUNKS },
  );
}
