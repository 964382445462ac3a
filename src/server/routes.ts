import type { GatewayOptions } from '../config/options.ts';
import { RouteTable } from '../routing/route-table.ts';
import { type Endpoint, type InProcessRoute, routeEndpoint } from '../websocket/endpoint.ts';

/** The route table: the options' backend routes and the library's in-process ones. */
export function routeTable(options: GatewayOptions, inProcess: Readonly<Record<string, InProcessRoute>>): RouteTable<Endpoint> {
  const local = Object.entries(inProcess).map(([prefix, route]) => {
    const own = typeof route === 'object' && 'handler' in route ? route.access : undefined;
    const access = own === undefined ? options.access : { ...options.access, ...own };
    return { prefix, local: routeEndpoint(route), ...(access !== undefined && { access }) };
  });
  return new RouteTable<Endpoint>([...options.routes, ...local]);
}

/** Every route prefix, backend routes first: what the metrics show at zero from the start. */
export function routePrefixes(options: GatewayOptions, inProcess: Readonly<Record<string, InProcessRoute>>): string[] {
  return options.routes.map((r) => r.prefix).concat(Object.keys(inProcess));
}
