import type { Http2Stream } from 'node:http2';
import type net from 'node:net';
import { H2ErrorCode } from '../h2/error-codes.ts';
import { resetStream } from '../h2/resets.ts';
import type { ServerHttp2Stream } from '../h2/server.ts';
import { resetSocket } from '../runtime/tcp.ts';
import type { TunnelEnd } from '../tunnel/relay.ts';

// Classes rather than object literals of closures: an idle tunnel holds two ends for its
// whole life, and prototype methods cost nothing per tunnel.

/** An HTTP/2 stream (client or RFC 8441 backend) as a tunnel end; how it aborts is the subclass's. */
export abstract class H2End<S extends Http2Stream = Http2Stream> implements TunnelEnd {
  constructor(readonly stream: S) {}

  abstract abort(code?: number): void;

  // Clean: the peer's END_STREAM was read and no RST_STREAM arrived.
  closedCleanly(): boolean {
    const { stream } = this;
    return (stream.rstCode ?? 0) === H2ErrorCode.NO_ERROR && stream.readableEnded && !stream.aborted;
  }

  wasReset(): boolean {
    return this.stream.aborted || (this.stream.rstCode ?? 0) !== H2ErrorCode.NO_ERROR;
  }

  resetCode(): number | undefined {
    return this.stream.rstCode;
  }
}

/** An h2 client stream as a tunnel end. Aborting it sends RST_STREAM CONNECT_ERROR (RFC 9113 §8.5). */
class H2StreamEnd extends H2End<ServerHttp2Stream> {
  // A socket backend's reset becomes CONNECT_ERROR (RFC 9113 §8.5); an RFC 8441 backend's
  // RST_STREAM code is passed on as it came.
  abort(code?: number): void {
    resetStream(this.stream, code === undefined || code === H2ErrorCode.NO_ERROR ? H2ErrorCode.CONNECT_ERROR : code);
  }
}

/** A TCP socket (backend, or an HTTP/1.1 client) as a tunnel end. Aborting it sends a TCP RST. */
class SocketEnd implements TunnelEnd {
  constructor(readonly stream: net.Socket) {}

  abort(): void {
    resetSocket(this.stream);
  }

  closedCleanly(hadError: boolean): boolean {
    return !hadError && this.stream.readableEnded && this.stream.writableFinished;
  }

  // A TCP reset surfaces as 'error', never as 'end'.
  wasReset(): boolean {
    return false;
  }
}

export function h2StreamEnd(stream: ServerHttp2Stream): TunnelEnd {
  return new H2StreamEnd(stream);
}

export function socketEnd(socket: net.Socket): TunnelEnd {
  return new SocketEnd(socket);
}
