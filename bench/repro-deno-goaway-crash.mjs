#!/usr/bin/env node
// Regression check for a crash h2ws had under Deno while it ran on Deno's node:http2: after
// ~100 tunnels opened and closed on one h2c connection, the client closed the connection
// (GOAWAY) and the Deno process aborted inside nghttp2 (find_stream_on_goaway_func, or
// `free(): invalid pointer`, or SIGSEGV). h2ws now has its own HTTP/2 engine and survives it.
//
//   npm run build && node bench/repro-deno-goaway-crash.mjs [TUNNELS=200] [RUNTIME=deno]
//
// Exits 0 when the gateway survives, 1 when it died.
import path from 'node:path';
import { clientCloseFrame } from './lib/frames.mjs';
import { connectH2, openH2Tunnel, smoke } from './lib/loadgen.mjs';
import { sleep, spawnTracked, stopAll, waitForOutput } from './lib/procs.mjs';
import { ROOT, removeTmp } from './lib/targets.mjs';

const tunnels = Number(process.argv[2] ?? 200);
const runtime = process.argv[3] ?? 'deno';
const cmd = runtime === 'node' ? [process.execPath] : runtime === 'deno' ? [path.join(ROOT, 'node_modules/.bin/deno'), 'run', '-A'] : [path.join(ROOT, 'node_modules/.bin/bun')];

let code = 1;
try {
  const backend = spawnTracked('echo backend', process.execPath, [path.join(ROOT, 'bench/lib/echo-backend.mjs')]);
  const backendPort = Number((await waitForOutput(backend, /listening on (\d+)/))[1]);
  const gw = spawnTracked(`h2ws ${runtime}`, cmd[0], [...cmd.slice(1), path.join(ROOT, 'bin/h2ws.js'), '--listen', '127.0.0.1:0', '--backend', `ws://127.0.0.1:${backendPort}`], { cwd: ROOT });
  const port = Number((await waitForOutput(gw, /listening on http:\/\/127\.0\.0\.1:(\d+)\//))[1]);

  const session = await connectH2(port);
  for (let i = 0; i < tunnels; i++) {
    const stream = await openH2Tunnel(session, port);
    stream.on('data', () => {});
    const closed = new Promise((r) => stream.once('close', r));
    stream.end(clientCloseFrame(1000)); // Close frame + END_STREAM; the backend closes back
    await closed;
  }
  await new Promise((r) => session.close(r)); // GOAWAY
  await sleep(500);
  if (gw.exitCode !== undefined) {
    console.log(`h2ws under ${runtime} DIED (${gw.exitCode}) after ${tunnels} tunnels and a GOAWAY:\n${gw.err.trim().split('\n').slice(-2).join('\n')}`);
  } else {
    await smoke('h2', port);
    console.log(`h2ws under ${runtime} survived ${tunnels} tunnels and a GOAWAY`);
    code = 0;
  }
} finally {
  await stopAll();
  removeTmp();
}
process.exit(code);
