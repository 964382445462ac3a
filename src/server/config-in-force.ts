import type { GatewayOptions } from '../config/options.ts';
import type { RouteTable } from '../routing/route-table.ts';
import type { Endpoint, InProcessRoute } from '../websocket/endpoint.ts';
import { routeTable } from './routes.ts';

/**
 * The options in force and the route table made from them: those the gateway started with,
 * then each reload's. Whoever reads them at the time of a handshake or a connection gets
 * the current ones; what is already running keeps what it was made with.
 */
export class ConfigInForce {
  #options: GatewayOptions;
  /** The library's in-process routes, kept across reloads that do not replace them. */
  #inProcess: Readonly<Record<string, InProcessRoute>>;
  #routes: RouteTable<Endpoint>;

  constructor(options: GatewayOptions, inProcess: Readonly<Record<string, InProcessRoute>>) {
    this.#options = options;
    this.#inProcess = inProcess;
    this.#routes = routeTable(options, inProcess);
  }

  get options(): GatewayOptions {
    return this.#options;
  }

  get inProcess(): Readonly<Record<string, InProcessRoute>> {
    return this.#inProcess;
  }

  get routes(): RouteTable<Endpoint> {
    return this.#routes;
  }

  /** Swaps in reloaded options and in-process routes; only what is created from now on sees them. */
  replace(options: GatewayOptions, inProcess: Readonly<Record<string, InProcessRoute>>): void {
    this.#options = options;
    this.#inProcess = inProcess;
    this.#routes = routeTable(options, inProcess);
  }
}
