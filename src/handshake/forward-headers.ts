import type { HeaderMap } from './headers.ts';
import { endToEndFields } from './hop-by-hop.ts';

/**
 * Fields h2ws sets itself on the backend request, so the client's copies are not forwarded:
 * the key and version are regenerated (RFC 6455 §4.1), the offers are sent separately, and
 * Host and X-Forwarded-Proto are rebuilt from what h2ws saw. X-Forwarded-For, Forwarded and
 * X-Real-IP are kept here; backendFields replaces or extends them (see its CLIENT_IDENTITY).
 */
const REBUILT: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'sec-websocket-key',
  'sec-websocket-accept',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'x-forwarded-proto',
]);

/**
 * The end-to-end request fields to pass to the backend: no pseudo-headers, no hop-by-hop
 * fields (including any named in `Connection`, RFC 9110 §7.6.1), no field h2ws rebuilds.
 * HTTP/2 may split `cookie` into several fields; they are joined with "; " (RFC 9113 §8.2.3).
 */
export function forwardableHeaders(headers: HeaderMap): Record<string, string> {
  const out = endToEndFields(headers);
  for (const name of REBUILT) delete out[name];
  return out;
}
