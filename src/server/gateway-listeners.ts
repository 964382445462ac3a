import type http from 'node:http';
import type net from 'node:net';
import type { GatewayOptions } from '../config/options.ts';
import type { RequestHead } from '../h2/field-validation.ts';
import { H2Server } from '../h2/server.ts';
import type { H2Stream } from '../h2/stream.ts';
import { flowControlWindows } from '../h2/windows.ts';
import { createH1Server, type H1Handlers, type H1Server } from './h1-server.ts';
import { createFrontListener, type FrontListener } from './listener.ts';
import type { Telemetry } from './telemetry.ts';

/** Where the listeners hand what arrives. */
export interface ListenerHandlers extends H1Handlers {
  /** A new HTTP/2 stream: a plain request, or an extended CONNECT. */
  stream(stream: H2Stream, head: RequestHead, endStream: boolean): void;
}

/**
 * The gateway's listening side: one port (the front listener) feeding its HTTP/2 sessions and
 * its HTTP/1.1 server, and the HTTP/1.1 servers a reload replaced.
 */
export class GatewayListeners {
  readonly #front: FrontListener;
  readonly #sessions: H2Server;
  #h1: H1Server;
  /** HTTP/1.1 servers a reload replaced: they still serve the connections they had. */
  readonly #oldH1 = new Set<http.Server>();
  readonly #handlers: ListenerHandlers;
  readonly #secure: boolean;
  #address!: { host: string; port: number };

  private constructor(options: GatewayOptions, tlsFiles: { cert: string; key: string } | undefined, telemetry: Telemetry, handlers: ListenerHandlers) {
    const { limits, timeouts } = options;
    const { metrics } = telemetry;
    this.#handlers = handlers;
    this.#secure = tlsFiles !== undefined;
    // HTTP/2 receive windows (RFC 9113 §6.9) toward clients.
    const windows = flowControlWindows(limits.maxBufferedBytesPerTunnel);
    const h2 = new H2Server({
      limits,
      initialWindowSize: windows.stream,
      connectionWindow: windows.connection,
      pingIntervalMs: timeouts.pingIntervalMs,
      observer: telemetry.sessionObserver(),
      onStream: (stream, head, endStream) => handlers.stream(stream, head, endStream),
    });
    this.#sessions = h2;

    this.#h1 = this.#h1Server(options);

    this.#front = createFrontListener(tlsFiles, {
      h2: (socket) => h2.accept(socket),
      h1: (socket) => {
        metrics.sessionOpened('h1');
        socket.once('close', () => metrics.sessionClosed('h1'));
        this.#h1.accept(socket);
      },
    }, timeouts.handshakeMs);
  }

  /** Binds `options.host` and `options.port`; resolves once bound. `tlsFiles` undefined: cleartext. */
  static async open(options: GatewayOptions, tlsFiles: { cert: string; key: string } | undefined, reusePort: boolean, telemetry: Telemetry, handlers: ListenerHandlers): Promise<GatewayListeners> {
    const listeners = new GatewayListeners(options, tlsFiles, telemetry, handlers);
    const { server } = listeners.#front;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // reusePort: every worker process binds the same address (runtime/workers.ts).
      server.listen({ port: options.port, host: options.host, ...(reusePort && { reusePort: true }) }, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => telemetry.logger.error('listener_error', { message: err.message }));
    const bound = server.address() as net.AddressInfo;
    listeners.#address = { host: bound.address, port: bound.port };
    return listeners;
  }

  /** The bound address (useful with port 0). */
  get address(): { host: string; port: number } {
    return this.#address;
  }

  /** The URL clients use, e.g. "https://127.0.0.1:8443/". */
  get url(): string {
    const host = this.#address.host.includes(':') ? `[${this.#address.host}]` : this.#address.host;
    return `${this.#secure ? 'https' : 'http'}://${host}:${this.#address.port}/`;
  }

  /**
   * For connections accepted from now on (a reload): a new certificate and key, a new
   * handshake deadline. Throws if the TLS stack refuses the pair (see listener.ts).
   */
  update(next: { tls?: { cert: string; key: string }; handshakeMs: number }): void {
    this.#front.update(next);
  }

  /**
   * Reloaded limits, windows and timeouts for the sessions and connections from now on. A new
   * header-size limit or handshake deadline takes a new HTTP/1.1 server; the old one keeps
   * serving the connections it had.
   */
  reconfigure(next: GatewayOptions, before: GatewayOptions, windows: { readonly stream: number; readonly connection: number }): void {
    this.#sessions.reconfigure({ limits: next.limits, initialWindowSize: windows.stream, connectionWindow: windows.connection, pingIntervalMs: next.timeouts.pingIntervalMs });
    if (next.limits.maxHeaderListSize !== before.limits.maxHeaderListSize || next.timeouts.handshakeMs !== before.timeouts.handshakeMs) {
      this.#oldH1.add(this.#h1.server);
      this.#h1 = this.#h1Server(next);
    }
  }

  /**
   * The start of a drain: the port stops accepting, every session gets GOAWAY (NO_ERROR, last
   * stream id) and idle HTTP/1.1 connections close. Resolves once the port is closed.
   */
  stopAccepting(): Promise<void> {
    const frontClosed = new Promise<void>((resolve) => this.#front.server.close(() => resolve()));
    this.#sessions.goAwayAll();
    for (const h1 of this.#h1Servers()) (h1 as http.Server & { closeIdleConnections?: () => void }).closeIdleConnections?.();
    return frontClosed;
  }

  /** Destroys every connection still open (the last step of a shutdown). */
  destroyAll(): void {
    this.#sessions.destroyAll();
    for (const h1 of this.#h1Servers()) (h1 as http.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    this.#front.destroyAll();
  }

  /** An HTTP/1.1 server with the limits in force, for the connections accepted from now on. */
  #h1Server(options: GatewayOptions): H1Server {
    const { limits, timeouts } = options;
    return createH1Server(limits, timeouts.handshakeMs, {
      request: (req, res) => this.#handlers.request(req, res),
      upgrade: (req, socket, head) => this.#handlers.upgrade(req, socket, head),
    });
  }

  /** The HTTP/1.1 server in use and those that reloads replaced. */
  #h1Servers(): http.Server[] {
    return [this.#h1.server, ...this.#oldH1];
  }
}
