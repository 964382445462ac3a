/**
 * `trustedProxies`: the peers whose forwarding fields (X-Forwarded-For, Forwarded,
 * X-Real-IP) h2ws keeps and extends, the way nginx's `set_real_ip_from` and HAProxy's
 * trusted sources work. Everyone else's are replaced (docs/operations.md, "Forwarding headers").
 * Pure: IPv4 and IPv6 addresses and CIDR ranges, no DNS.
 */

interface Range {
  readonly v6: boolean;
  readonly bits: bigint;
  readonly prefix: number;
}

/** Parses "203.0.113.7", "10.0.0.0/8", "2001:db8::1" or "2001:db8::/32"; an Error says why not. */
export function parseProxyRange(text: string): Range | Error {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const parsed = parseAddress(address);
  if (parsed === undefined) return new Error(`"${text}" is not an IP address or CIDR range`);
  const width = parsed.v6 ? 128 : 32;
  let prefix = width;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > width) return new Error(`"${text}": the prefix length must be 0 to ${width}`);
    prefix = Number(p);
  }
  return { v6: parsed.v6, bits: parsed.bits, prefix };
}

/** Whether a peer address (as a socket reports it) lies in one of the ranges. */
export function isTrustedProxy(address: string | undefined, ranges: readonly string[] | undefined): boolean {
  if (address === undefined || ranges === undefined || ranges.length === 0) return false;
  const peer = parseAddress(address);
  if (peer === undefined) return false;
  for (const range of compiled(ranges)) {
    if (range.v6 !== peer.v6) continue;
    const width = range.v6 ? 128 : 32;
    const shift = BigInt(width - range.prefix);
    if (peer.bits >> shift === range.bits >> shift) return true;
  }
  return false;
}

const cache = new WeakMap<readonly string[], readonly Range[]>();
function compiled(ranges: readonly string[]): readonly Range[] {
  let out = cache.get(ranges);
  if (out === undefined) {
    out = ranges.map(parseProxyRange).filter((r): r is Range => !(r instanceof Error));
    cache.set(ranges, out);
  }
  return out;
}

/** An address as bits; an IPv4-mapped IPv6 address ("::ffff:192.0.2.1") counts as IPv4. */
function parseAddress(text: string): { v6: boolean; bits: bigint } | undefined {
  const zone = text.indexOf('%');
  const a = (zone === -1 ? text : text.slice(0, zone)).replace(/^\[(.*)\]$/, '$1');
  const v4 = parseV4(a);
  if (v4 !== undefined) return { v6: false, bits: v4 };
  const v6 = parseV6(a);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { v6: false, bits: v6 & 0xffffffffn };
  return { v6: true, bits: v6 };
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let bits = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    bits = (bits << 8n) | BigInt(p);
  }
  return bits;
}

function parseV6(text: string): bigint | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let bits = 0n;
  for (const g of [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail]) bits = (bits << 16n) | BigInt(g);
  return bits;
}
