import type net from 'node:net';
import { H2ErrorCode } from '../h2/error-codes.ts';
import { resetStream } from '../h2/resets.ts';
import type { ServerHttp2Stream } from '../h2/server.ts';
import { resetSocket } from '../runtime/tcp.ts';
import type { TunnelEnd } from '../tunnel/relay.ts';

/** An h2 client stream as a tunnel end. Aborting it sends RST_STREAM CONNECT_ERROR (RFC 9113 §8.5). */
export function h2StreamEnd(stream: ServerHttp2Stream): TunnelEnd {
  return {
    stream,
    // A socket backend's reset becomes CONNECT_ERROR (RFC 9113 §8.5); an RFC 8441 backend's
    // RST_STREAM code is passed on as it came.
    abort(code?: number) {
      resetStream(stream, code === undefined || code === H2ErrorCode.NO_ERROR ? H2ErrorCode.CONNECT_ERROR : code);
    },
    // Clean: the client's END_STREAM was read and no RST_STREAM arrived.
    closedCleanly: () => (stream.rstCode ?? 0) === H2ErrorCode.NO_ERROR && stream.readableEnded && !stream.aborted,
    wasReset: () => stream.aborted || (stream.rstCode ?? 0) !== H2ErrorCode.NO_ERROR,
    resetCode: () => stream.rstCode,
  };
}

/** A TCP socket (backend, or an HTTP/1.1 client) as a tunnel end. Aborting it sends a TCP RST. */
export function socketEnd(socket: net.Socket): TunnelEnd {
  return {
    stream: socket,
    abort: () => resetSocket(socket),
    closedCleanly: (hadError) => !hadError && socket.readableEnded && socket.writableFinished,
    // A TCP reset surfaces as 'error', never as 'end'.
    wasReset: () => false,
  };
}
