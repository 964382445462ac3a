/** The demo page served at "/" by the embedded default. Self-contained: no external assets. */
export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>h2ws demo: WebSocket over HTTP/2</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 14px 24px; }
  header h1 { margin: 0; font-size: 20px; }
  header p { margin: 4px 0 0; color: #b8c0d0; }
  main { max-width: 900px; margin: 20px auto; padding: 0 16px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 14px 16px; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  .facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; }
  .facts dt { color: #5b6577; } .facts dd { margin: 0; font-family: ui-monospace, monospace; }
  #log { height: 260px; overflow: auto; font-family: ui-monospace, monospace; font-size: 13px; background: #fbfbfc; border: 1px solid #e5e8ee; padding: 8px; }
  #log div { white-space: pre-wrap; } .in { color: #0a6b3d; } .out { color: #1f4fb5; } .sys { color: #7a5b00; } .err { color: #b3261e; }
  form { display: flex; gap: 8px; margin-top: 10px; } input[type=text] { flex: 1; padding: 6px 8px; }
  button { padding: 6px 12px; cursor: pointer; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; } td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f4; }
  .badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; }
  .h2 { background: #d9f2e4; color: #0a6b3d; } .h1 { background: #fdecc8; color: #7a5b00; }
</style>
</head>
<body>
<header>
  <h1>h2ws demo</h1>
  <p>Your browser's WebSockets ride on this page's HTTP/2 connection (RFC 8441 extended CONNECT); h2ws bridges them to a plain HTTP/1.1 <code>ws</code> backend.</p>
</header>
<main>
  <section>
    <h2>This page</h2>
    <dl class="facts">
      <dt>page loaded over</dt><dd id="page-proto">?</dd>
      <dt>gateway</dt><dd id="origin"></dd>
    </dl>
  </section>
  <section>
    <h2>Chat (every tab on this page shares the room)</h2>
    <div id="log"></div>
    <form id="send"><input id="text" type="text" placeholder="type a message and press Enter" autocomplete="off"><button>Send</button></form>
    <form id="more"><button id="open10" type="button">Open 10 more echo sockets</button><button id="closeall" type="button">Close all</button></form>
  </section>
  <section>
    <h2>Sockets</h2>
    <table><thead><tr><th>#</th><th>room</th><th>transport</th><th>subprotocol</th><th>extensions</th><th>state</th></tr></thead><tbody id="sockets"></tbody></table>
  </section>
</main>
<script>
  const nav = performance.getEntriesByType('navigation')[0];
  document.getElementById('page-proto').textContent = (nav && nav.nextHopProtocol) || 'unknown';
  document.getElementById('origin').textContent = location.origin;
  const log = (cls, text) => { const d = document.createElement('div'); d.className = cls; d.textContent = text; const l = document.getElementById('log'); l.append(d); l.scrollTop = l.scrollHeight; };
  const rows = document.getElementById('sockets');
  const sockets = [];
  let n = 0;
  function open(room) {
    const id = ++n;
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/' + room;
    const ws = new WebSocket(url, room === 'chat' ? ['chat'] : []);
    const tr = document.createElement('tr');
    tr.innerHTML = '<td>' + id + '</td><td>' + room + '</td><td class="t">…</td><td class="p"></td><td class="e"></td><td class="s">connecting</td>';
    rows.append(tr);
    const cell = (c) => tr.querySelector('.' + c);
    sockets.push(ws);
    ws.onopen = () => { cell('s').textContent = 'open'; cell('p').textContent = ws.protocol; cell('e').textContent = ws.extensions; };
    ws.onmessage = (ev) => {
      let msg = null; try { msg = JSON.parse(ev.data); } catch {}
      if (msg && msg.type === 'welcome') {
        const h2 = msg.transport.startsWith('HTTP/2');
        cell('t').innerHTML = '<span class="badge ' + (h2 ? 'h2' : 'h1') + '">' + msg.transport + '</span>';
        if (room === 'chat') log('sys', 'socket ' + id + ' joined via ' + msg.transport);
        return;
      }
      if (room === 'chat') log('in', '← ' + ev.data);
    };
    ws.onclose = (ev) => { cell('s').textContent = 'closed ' + ev.code; if (room === 'chat') log('sys', 'chat socket closed: ' + ev.code + ' ' + ev.reason); };
    ws.onerror = () => log('err', 'socket ' + id + ' error');
    return ws;
  }
  const chat = open('chat');
  document.getElementById('send').onsubmit = (e) => { e.preventDefault(); const t = document.getElementById('text'); if (!t.value) return; chat.send(t.value); log('out', '→ ' + t.value); t.value = ''; };
  document.getElementById('open10').onclick = () => { for (let i = 0; i < 10; i++) open('echo'); };
  document.getElementById('closeall').onclick = () => { for (const s of sockets) s.close(1000, 'bye'); };
</script>
</body>
</html>
`;
