/** Parses "HOST:PORT", "[IPv6]:PORT" or ":PORT"; returns an Error naming what is wrong. */
export function parseListenAddress(value: string, defaultHost: string): { host: string; port: number } | Error {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (m === null) return new Error(`"${value}" is not HOST:PORT (for example 127.0.0.1:8443 or [::1]:8443)`);
  const port = Number(m[3]);
  if (port > 65_535) return new Error(`port ${port} is out of range 0-65535`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? defaultHost : host, port };
}
