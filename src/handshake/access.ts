import type { WebSocketRequest } from './websocket-request.ts';

/**
 * Who may open a WebSocket on a route. Every rule given must pass; an empty rule lets
 * everyone in.
 */
export interface AccessRule {
  /**
   * Allowed `Origin` values ("https://app.example", scheme://host[:port], compared
   * case-insensitively). Browsers always send Origin on WebSocket handshakes (RFC 6455 §4.1,
   * §10.2), so this stops cross-site WebSocket hijacking: another site's page gets 403.
   * A request without Origin (not a browser) is let through; pair it with a token for those.
   */
  readonly origins?: readonly string[];
  /** Require `Authorization: Bearer <token>` (RFC 6750 §2.1); otherwise 401. */
  readonly bearerToken?: string;
  /** Require a request header with exactly this value (e.g. a shared key set by an edge proxy); otherwise 401. */
  readonly requireHeader?: { readonly name: string; readonly value: string };
}

/** A turned-down handshake: 403 for a foreign Origin, 401 for missing or wrong credentials. */
export interface AccessDenial {
  readonly status: 401 | 403;
  readonly headers: Readonly<Record<string, string>>;
  readonly message: string;
}

/** Checks a validated handshake against a rule. Pure: plain values in, a denial or undefined out. */
export function checkAccess(rule: AccessRule | undefined, request: WebSocketRequest): AccessDenial | undefined {
  if (rule === undefined) return undefined;
  const fields = request.forwardHeaders;
  if (rule.origins !== undefined) {
    const origin = fields['origin'];
    if (origin !== undefined && !rule.origins.some((allowed) => allowed.toLowerCase() === origin.toLowerCase())) {
      return { status: 403, headers: {}, message: `origin ${origin} is not allowed on this route` };
    }
  }
  if (rule.bearerToken !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(fields['authorization'] ?? '');
    if (match === null || !timingSafeEqual(match[1]!, rule.bearerToken)) {
      // RFC 6750 §3: the challenge tells the client which scheme to use.
      return { status: 401, headers: { 'www-authenticate': 'Bearer realm="h2ws"' }, message: 'a valid bearer token is required' };
    }
  }
  if (rule.requireHeader !== undefined) {
    const value = fields[rule.requireHeader.name.toLowerCase()];
    if (value === undefined || !timingSafeEqual(value, rule.requireHeader.value)) {
      return { status: 401, headers: {}, message: `header ${rule.requireHeader.name} is missing or wrong` };
    }
  }
  return undefined;
}

/** Compares secrets in time that depends only on their lengths, not on where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  const n = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}
