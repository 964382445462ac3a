/** The gateway's metric set: names and labels are a contract, so the tests pin the exact text. */
import { describe, expect, test } from 'vitest';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import { DURATION_BUCKETS, GatewayMetrics, h2ErrorName, NO_ROUTE, OUTCOMES } from '../../src/metrics/gateway-metrics.ts';

/** The HELP/TYPE header every fresh GatewayMetrics renders, with sessions seeded at 0. */
const EMPTY = [
  '# HELP h2ws_tunnels_open WebSocket tunnels open now.',
  '# TYPE h2ws_tunnels_open gauge',
  '# HELP h2ws_tunnels_total WebSocket handshakes handled, by outcome.',
  '# TYPE h2ws_tunnels_total counter',
  '# HELP h2ws_tunnel_bytes_total Bytes relayed through closed tunnels, by direction.',
  '# TYPE h2ws_tunnel_bytes_total counter',
  '# HELP h2ws_tunnel_duration_seconds How long tunnels stayed open.',
  '# TYPE h2ws_tunnel_duration_seconds histogram',
  '# HELP h2ws_tunnel_resets_after_close_total Tunnels closed cleanly whose HTTP/2 client sent no END_STREAM after the WebSocket closing handshake; h2ws ended the stream with RST_STREAM NO_ERROR after timeouts.closeGraceMs (RFC 9113 §8.1).',
  '# TYPE h2ws_tunnel_resets_after_close_total counter',
  '# HELP h2ws_resets_total HTTP/2 RST_STREAM frames, by error code (RFC 9113 §7) and side.',
  '# TYPE h2ws_resets_total counter',
  '# HELP h2ws_goaways_total HTTP/2 GOAWAY frames, by error code (RFC 9113 §7) and side.',
  '# TYPE h2ws_goaways_total counter',
  '# HELP h2ws_sessions_open Client connections open now.',
  '# TYPE h2ws_sessions_open gauge',
  'h2ws_sessions_open{transport="h2"} 0',
  'h2ws_sessions_open{transport="h1"} 0',
  '# HELP h2ws_rapid_reset_clients_total Times a client address was cut off for resetting too many streams before they were answered, across its connections (CVE-2023-44487).',
  '# TYPE h2ws_rapid_reset_clients_total counter',
  'h2ws_rapid_reset_clients_total 0',
];

/** Sample lines only (no HELP/TYPE), for one metric name or its _bucket/_sum/_count. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name}_`) || l.startsWith(`${name} `));
}

test('a fresh instance renders every metric, sessions seeded at zero', () => {
  expect(new GatewayMetrics().render()).toBe(`${EMPTY.join('\n')}\n`);
});

test('two ok handshakes and one refused', () => {
  const m = new GatewayMetrics();
  m.handshake('/chat', 'h2', 'ok');
  m.handshake('/chat', 'h2', 'ok');
  m.handshake(undefined, 'h2', 'refused');
  expect(samples(m.render(), 'h2ws_tunnels_total')).toEqual([
    'h2ws_tunnels_total{route="/chat",transport="h2",outcome="ok"} 2',
    'h2ws_tunnels_total{route="none",transport="h2",outcome="refused"} 1',
  ]);
  expect(m.tunnelsTotal.value({ route: NO_ROUTE, transport: 'h2', outcome: 'refused' })).toBe(1);
});

test('a tunnel opens and closes: gauge, bytes and duration', () => {
  const m = new GatewayMetrics();
  m.sessionOpened('h2');
  m.tunnelOpened('/chat', 'h2');
  m.tunnelOpened('/chat', 'h1');
  expect(samples(m.render(), 'h2ws_tunnels_open')).toEqual([
    'h2ws_tunnels_open{route="/chat",transport="h2"} 1',
    'h2ws_tunnels_open{route="/chat",transport="h1"} 1',
  ]);
  m.tunnelClosed('/chat', 'h2', { bytesToBackend: 10, bytesToClient: 2 ** 33, durationMs: 1500 });
  m.tunnelClosed('/chat', 'h1', { bytesToBackend: 5, bytesToClient: 0, durationMs: 7 });
  m.sessionClosed('h2');
  const text = m.render();
  expect(samples(text, 'h2ws_tunnels_open')).toEqual([
    'h2ws_tunnels_open{route="/chat",transport="h2"} 0',
    'h2ws_tunnels_open{route="/chat",transport="h1"} 0',
  ]);
  expect(samples(text, 'h2ws_tunnel_bytes_total')).toEqual([
    'h2ws_tunnel_bytes_total{route="/chat",direction="to_backend"} 15',
    'h2ws_tunnel_bytes_total{route="/chat",direction="to_client"} 8589934592',
  ]);
  expect(samples(text, 'h2ws_tunnel_duration_seconds')).toEqual([
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="0.01"} 1',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="0.05"} 1',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="0.1"} 1',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="0.5"} 1',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="1"} 1',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="5"} 2',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="10"} 2',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="30"} 2',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="60"} 2',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="300"} 2',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="600"} 2',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="1800"} 2',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="3600"} 2',
    'h2ws_tunnel_duration_seconds_bucket{route="/chat",le="+Inf"} 2',
    'h2ws_tunnel_duration_seconds_sum{route="/chat"} 1.507',
    'h2ws_tunnel_duration_seconds_count{route="/chat"} 2',
  ]);
  expect(samples(text, 'h2ws_sessions_open')).toEqual(['h2ws_sessions_open{transport="h2"} 0', 'h2ws_sessions_open{transport="h1"} 0']);
});

test('duration sum stays exact for whole milliseconds (no 0.1 + 0.2 drift)', () => {
  const m = new GatewayMetrics();
  for (const durationMs of [100, 200]) m.tunnelClosed('/a', 'h2', { bytesToBackend: 0, bytesToClient: 0, durationMs });
  expect(m.tunnelDuration.value({ route: '/a' })?.sum).toBe(0.3);
  expect(m.render()).toContain('h2ws_tunnel_duration_seconds_sum{route="/a"} 0.3\n');
});

test('an hour-plus tunnel lands only in +Inf', () => {
  const m = new GatewayMetrics();
  m.tunnelClosed('/a', 'h2', { bytesToBackend: 0, bytesToClient: 0, durationMs: 3_600_001 });
  expect(m.tunnelDuration.value({ route: '/a' })?.buckets).toEqual([...DURATION_BUCKETS.map(() => 0), 1]);
});

describe('RFC 9113 §7: resets and GOAWAYs are labelled with the error name', () => {
  test('known codes by name, both sides', () => {
    const m = new GatewayMetrics();
    m.reset(H2ErrorCode.CANCEL, 'received');
    m.reset(H2ErrorCode.CONNECT_ERROR, 'sent');
    m.reset(H2ErrorCode.REFUSED_STREAM, 'sent');
    m.reset(H2ErrorCode.CANCEL, 'received');
    m.goaway(H2ErrorCode.NO_ERROR, 'sent');
    m.goaway(0x1f, 'received');
    const text = m.render();
    expect(samples(text, 'h2ws_resets_total')).toEqual([
      'h2ws_resets_total{code="CANCEL",side="received"} 2',
      'h2ws_resets_total{code="CONNECT_ERROR",side="sent"} 1',
      'h2ws_resets_total{code="REFUSED_STREAM",side="sent"} 1',
    ]);
    expect(samples(text, 'h2ws_goaways_total')).toEqual([
      'h2ws_goaways_total{code="NO_ERROR",side="sent"} 1',
      'h2ws_goaways_total{code="0x1f",side="received"} 1',
    ]);
  });

  test('h2ErrorName: every named code round-trips; unknown codes in lowercase hex', () => {
    for (const [name, code] of Object.entries(H2ErrorCode)) expect(h2ErrorName(code)).toBe(name);
    expect(h2ErrorName(0x8)).toBe('CANCEL');
    expect(h2ErrorName(0xe)).toBe('0xe');
    expect(h2ErrorName(0xdeadbeef)).toBe('0xdeadbeef');
  });
});

test('seeded routes show every outcome, transport and direction at zero', () => {
  const m = new GatewayMetrics({ routes: ['/chat'] });
  const text = m.render();
  expect(samples(text, 'h2ws_tunnels_open')).toEqual([
    'h2ws_tunnels_open{route="/chat",transport="h2"} 0',
    'h2ws_tunnels_open{route="/chat",transport="h1"} 0',
  ]);
  const totals = samples(text, 'h2ws_tunnels_total');
  expect(totals).toHaveLength(OUTCOMES.length * 2);
  expect(totals.slice(0, 3)).toEqual([
    'h2ws_tunnels_total{route="/chat",transport="h2",outcome="ok"} 0',
    'h2ws_tunnels_total{route="/chat",transport="h2",outcome="backend_unreachable"} 0',
    'h2ws_tunnels_total{route="/chat",transport="h2",outcome="backend_timeout"} 0',
  ]);
  expect(totals.every((l) => l.endsWith(' 0'))).toBe(true);
  expect(samples(text, 'h2ws_tunnel_bytes_total')).toEqual([
    'h2ws_tunnel_bytes_total{route="/chat",direction="to_backend"} 0',
    'h2ws_tunnel_bytes_total{route="/chat",direction="to_client"} 0',
  ]);
  expect(samples(text, 'h2ws_tunnel_resets_after_close_total')).toEqual(['h2ws_tunnel_resets_after_close_total{route="/chat"} 0']);
  m.handshake('/chat', 'h1', 'forbidden');
  expect(m.render()).toContain('h2ws_tunnels_total{route="/chat",transport="h1",outcome="forbidden"} 1\n');
});

test('a tunnel released after its closing handshake (RST_STREAM NO_ERROR) is counted per route', () => {
  const m = new GatewayMetrics({ routes: ['/chat'] });
  m.tunnelOpened('/chat', 'h2');
  m.tunnelOpened('/chat', 'h2');
  m.tunnelClosed('/chat', 'h2', { bytesToBackend: 8, bytesToClient: 4, durationMs: 260, resetAfterClose: true });
  m.tunnelClosed('/chat', 'h2', { bytesToBackend: 8, bytesToClient: 4, durationMs: 3 });
  const text = m.render();
  expect(samples(text, 'h2ws_tunnel_resets_after_close_total')).toEqual(['h2ws_tunnel_resets_after_close_total{route="/chat"} 1']);
  expect(samples(text, 'h2ws_tunnels_open')[0]).toBe('h2ws_tunnels_open{route="/chat",transport="h2"} 0');
});

test('OUTCOMES lists every outcome once', () => {
  expect(new Set(OUTCOMES).size).toBe(9);
  expect([...OUTCOMES].sort()).toEqual([
    'backend_status', 'backend_timeout', 'backend_unreachable', 'bad_accept', 'bad_subprotocol', 'forbidden', 'ok', 'refused', 'rejected',
  ]);
});

test('route labels are escaped', () => {
  const m = new GatewayMetrics();
  m.handshake('/a"b\\c', 'h1', 'ok');
  expect(m.render()).toContain('h2ws_tunnels_total{route="/a\\"b\\\\c",transport="h1",outcome="ok"} 1\n');
});
