/** Reading h2ws's Prometheus exposition in tests. */
import http from 'node:http';
import https from 'node:https';

/** The sum of a metric's samples whose labels include `match`. */
export function metric(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * GET /metrics at `baseUrl` (ending in "/") over HTTP/1.1 on a fresh connection, so a scrape
 * never reuses a connection the test is watching. A self-signed certificate is accepted.
 */
export function scrapeMetrics(baseUrl: string): Promise<string> {
  const url = `${baseUrl}metrics`;
  const lib = url.startsWith('https') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { agent: false, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}
