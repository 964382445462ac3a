/**
 * The live status page at /status. Self-contained (no external assets): it opens a WebSocket
 * to /status/ws on the same origin, which over TLS rides on the page's HTTP/2 connection
 * (RFC 8441), and redraws from the snapshot h2ws pushes every second.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>h2ws status</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 12px 24px; display: flex; gap: 18px; align-items: baseline; }
  header h1 { margin: 0; font-size: 19px; } header span { color: #b8c0d0; }
  main { max-width: 980px; margin: 18px auto; padding: 0 16px; display: grid; gap: 14px; grid-template-columns: 1fr 1fr; }
  section { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 12px 14px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; } td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f4; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; }
  .h2 { background: #d9f2e4; color: #0a6b3d; } .h1 { background: #fdecc8; color: #7a5b00; }
  .ok { color: #0a6b3d; } .bad { color: #b3261e; }
  .big { font-size: 26px; font-weight: 600; } .muted { color: #5b6577; }
  svg { width: 100%; height: 140px; background: #fbfbfc; border: 1px solid #e5e8ee; }
</style>
</head>
<body>
<header><h1>h2ws status</h1><span id="state">connecting…</span><span id="transport"></span></header>
<main>
  <section><h2>Open tunnels</h2><div class="big" id="open-total">–</div>
    <table><thead><tr><th>route</th><th>transport</th><th class="n">open</th></tr></thead><tbody id="open"></tbody></table></section>
  <section><h2>Connections</h2>
    <table><tbody><tr><td><span class="badge h2">h2</span> sessions</td><td class="n" id="sessions-h2">–</td></tr>
    <tr><td><span class="badge h1">HTTP/1.1</span> connections</td><td class="n" id="sessions-h1">–</td></tr>
    <tr><td>bytes to backends</td><td class="n" id="bytes-up">–</td></tr>
    <tr><td>bytes to clients</td><td class="n" id="bytes-down">–</td></tr></tbody></table></section>
  <section class="wide" id="workers-section" hidden><h2>Workers</h2>
    <table><thead><tr><th>worker</th><th>pid</th><th>state</th><th class="n">open tunnels</th><th class="n">h2 sessions</th><th class="n">HTTP/1.1 connections</th></tr></thead><tbody id="workers"></tbody></table></section>
  <section class="wide"><h2>Throughput (bytes/s, last 60 s: <span class="ok">to clients</span>, <span style="color:#1f4fb5">to backends (dashed)</span>)</h2>
    <svg id="chart" viewBox="0 0 600 140" preserveAspectRatio="none"><polyline id="down" fill="none" stroke="#0a6b3d" stroke-width="2"/><polyline id="up" fill="none" stroke="#1f4fb5" stroke-width="2" stroke-dasharray="6 4"/></svg>
    <div class="muted" id="rate">–</div></section>
  <section class="wide"><h2>Recent outcomes</h2>
    <table><thead><tr><th>time</th><th>transport</th><th>route</th><th>outcome</th><th>detail</th></tr></thead><tbody id="recent"></tbody></table></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const samples = [];
let last;
function cell(text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; }
function badge(t) { const s = document.createElement('span'); s.className = 'badge ' + t; s.textContent = t === 'h2' ? 'h2' : 'HTTP/1.1'; const td = document.createElement('td'); td.append(s); return td; }
function draw() {
  const max = Math.max(1, ...samples.map((s) => Math.max(s.up, s.down)));
  const pts = (key) => samples.map((s, i) => (i * 600 / 59).toFixed(1) + ',' + (138 - s[key] / max * 132).toFixed(1)).join(' ');
  $('up').setAttribute('points', pts('up'));
  $('down').setAttribute('points', pts('down'));
}
function render(s) {
  $('state').textContent = s.ready ? 'ready' : 'draining';
  $('state').className = s.ready ? 'ok' : 'bad';
  $('open-total').textContent = s.openTotal;
  $('open').replaceChildren(...s.open.map((o) => { const tr = document.createElement('tr'); tr.dataset.route = o.route; tr.dataset.transport = o.transport; tr.append(cell(o.route), badge(o.transport), cell(o.count, 'n')); return tr; }));
  $('sessions-h2').textContent = s.sessions.h2; $('sessions-h1').textContent = s.sessions.h1;
  $('bytes-up').textContent = s.bytes.toBackend; $('bytes-down').textContent = s.bytes.toClient;
  $('workers-section').hidden = !s.workers;
  if (s.workers) $('workers').replaceChildren(...s.workers.map((w) => { const tr = document.createElement('tr'); tr.append(cell(w.worker), cell(w.pid ?? ''), cell(w.ready ? 'ready' : 'draining', w.ready ? 'ok' : 'bad'), cell(w.openTotal, 'n'), cell(w.sessions.h2, 'n'), cell(w.sessions.h1, 'n')); return tr; }));
  $('recent').replaceChildren(...s.recent.map((r) => { const tr = document.createElement('tr'); tr.append(cell(r.time.slice(11, 19)), badge(r.transport), cell(r.route), cell(r.outcome, r.outcome === 'ok' ? 'ok' : 'bad'), cell(r.detail)); return tr; }));
  if (last) {
    const dt = Math.max(0.001, (Date.parse(s.time) - Date.parse(last.time)) / 1000);
    samples.push({ up: Math.max(0, s.bytes.toBackend - last.bytes.toBackend) / dt, down: Math.max(0, s.bytes.toClient - last.bytes.toClient) / dt });
    if (samples.length > 60) samples.shift();
    const now = samples[samples.length - 1];
    $('rate').textContent = 'now: ' + Math.round(now.down) + ' B/s to clients, ' + Math.round(now.up) + ' B/s to backends';
    draw();
  }
  last = s;
}
function connect() {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/status/ws');
  ws.onmessage = (e) => render(JSON.parse(e.data));
  ws.onopen = () => { $('transport').textContent = 'live over ' + (performance.getEntriesByType('navigation')[0]?.nextHopProtocol || 'a WebSocket'); };
  ws.onclose = () => { $('state').textContent = 'disconnected; retrying…'; $('state').className = 'bad'; setTimeout(connect, 2000); };
}
connect();
</script>
</body>
</html>
`;
