// Medians, ratios and number formats shared by the report and its multi-core row.

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function aggregate(reps) {
  const ok = reps.filter((r) => r.error === undefined);
  const rates = ok.map((r) => r.rate);
  const rate = median(rates);
  return {
    rate,
    p50: median(ok.map((r) => r.p50)),
    p99: median(ok.map((r) => r.p99)),
    reps: ok.length,
    failed: reps.length - ok.length,
    spread: ok.length > 1 ? (Math.max(...rates) - Math.min(...rates)) / rate : NaN,
    // CPU over the measured window: the gateway's µs per message (or tunnel), and the share of
    // one core used by the gateway, the load generator and the backend.
    cpuPerOp: median(ok.map((r) => (r.cpu ? (r.cpu.gatewayMs * 1000) / r.samples : NaN))),
    cpu: {
      gateway: median(ok.map((r) => (r.cpu ? (100 * r.cpu.gatewayMs) / r.cpu.wallMs : NaN))),
      loadgen: median(ok.map((r) => (r.cpu ? (100 * r.cpu.loadgenMs) / r.cpu.wallMs : NaN))),
      backend: median(ok.map((r) => (r.cpu ? (100 * r.cpu.backendMs) / r.cpu.wallMs : NaN))),
    },
    errors: reps.filter((r) => r.error !== undefined).map((r) => r.error),
  };
}

export const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
export const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
export const fmtX = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '—');
export const fmtPct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(Math.abs(x) < 0.1 ? 1 : 0)}%` : '—');
export const fmtKiB = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');

