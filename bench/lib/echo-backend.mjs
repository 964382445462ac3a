// The benchmark's WebSocket echo backend: a plain `ws` server on loopback, run as its own
// process so it does not share an event loop with the load generator.
// Prints `echo backend listening on PORT` once ready.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(process.env.BENCH_BACKEND_PORT ?? 0),
  perMessageDeflate: false,
  clientTracking: false,
  backlog: 4096,
  maxPayload: 16 * 1024 * 1024,
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('error', (err) => {
  console.error(`echo backend: ${err.message}`);
  process.exit(1);
});
wss.on('listening', () => {
  console.log(`echo backend listening on ${wss.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
