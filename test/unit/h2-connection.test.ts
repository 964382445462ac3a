import { describe, expect, test } from 'vitest';
import { H2Connection, type ConnectionHandler } from '../../src/h2/connection.ts';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import type { RequestHead } from '../../src/h2/field-validation.ts';
import type { H2Stream, StreamClose } from '../../src/h2/stream.ts';

/** Two sans-IO connections wired back to back: what one emits, the other receives. */
function pair(serverSettings: ConstructorParameters<typeof H2Connection>[0]['settings'] = {}, clientSettings: ConstructorParameters<typeof H2Connection>[0]['settings'] = {}) {
  const requests: Array<{ stream: H2Stream; head: RequestHead; endStream: boolean }> = [];
  const serverEvents: ConnectionHandler = { onOutput: () => {}, onStream: (stream, head, endStream) => requests.push({ stream, head, endStream }) };
  const server = new H2Connection({ role: 'server', settings: { enableConnectProtocol: true, ...serverSettings } }, serverEvents);
  const client = new H2Connection({ role: 'client', settings: clientSettings }, { onOutput: () => {} });
  /** Moves bytes both ways until neither side has anything to say. */
  const pump = () => {
    for (let i = 0; i < 100; i++) {
      const a = client.takeOutput();
      if (a !== undefined) for (const c of a) server.receive(c);
      const b = server.takeOutput();
      if (b !== undefined) for (const c of b) client.receive(c);
      if (a === undefined && b === undefined) return;
    }
    throw new Error('the connections never went quiet');
  };
  pump();
  return { server, client, requests, pump };
}

const CONNECT = [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':authority', 'example.com', ':path', '/chat', 'sec-websocket-version', '13'];

describe('H2Connection (RFC 9113), client and server back to back', () => {
  test('§3.4 preface and SETTINGS both ways; RFC 8441 §3 the server advertises ENABLE_CONNECT_PROTOCOL', () => {
    const { client, server } = pair();
    expect(client.ready && server.ready).toBe(true);
    expect(client.remoteSettings.enableConnectProtocol).toBe(true);
    expect(client.settingsAckPending || server.settingsAckPending).toBe(false);
  });

  test('RFC 8441 §4 extended CONNECT: 200, DATA both ways, END_STREAM both ways closes cleanly', () => {
    const { client, requests, pump } = pair();
    const c = client.request(CONNECT);
    const got: string[] = [];
    let response = 0;
    let clientClose: StreamClose | undefined;
    c.onResponse = (head) => (response = head.status);
    c.onData = (d) => got.push(`client:${Buffer.from(d).toString()}`);
    c.onEnd = () => got.push('client:end');
    c.onClose = (close) => (clientClose = close);
    pump();
    expect(requests).toHaveLength(1);
    const { stream: s, head } = requests[0]!;
    expect(head.protocol).toBe('websocket');
    expect(head.headers[':path']).toBe('/chat');
    s.onData = (d) => got.push(`server:${Buffer.from(d).toString()}`);
    s.onEnd = () => got.push('server:end');
    s.respond({ ':status': 200 });
    c.write(Buffer.from('hello'));
    pump();
    s.write(Buffer.from('world'));
    c.end();
    pump();
    s.end();
    pump();
    expect(response).toBe(200);
    expect(got).toEqual(['server:hello', 'server:end', 'client:world', 'client:end']);
    expect(clientClose).toEqual({ code: undefined, by: undefined, unprocessed: false });
    expect(s.closed && c.closed).toBe(true);
  });

  test('§6.9 flow control: a paused stream stops at its window; resuming lets the rest through', () => {
    const { client, requests, pump } = pair({ initialWindowSize: 65_535 });
    const c = client.request(CONNECT);
    pump();
    const s = requests[0]!.stream;
    s.respond({ ':status': 200 });
    let received = 0;
    s.onData = (d) => (received += d.length);
    s.pause();
    const big = Buffer.alloc(200_000, 1);
    expect(c.write(big)).toBe(false); // above the high-water mark
    pump();
    expect(received).toBe(0);
    expect(c.bufferedAmount).toBe(200_000 - 65_535);
    s.resume();
    pump();
    expect(received).toBe(200_000);
    expect(c.bufferedAmount).toBe(0);
  });

  test('§5.1.2 over SETTINGS_MAX_CONCURRENT_STREAMS: REFUSED_STREAM, marked unprocessed for the client', () => {
    const { client, requests, pump } = pair({ maxConcurrentStreams: 1 });
    client.request(CONNECT);
    pump();
    expect(client.canOpenStream).toBe(false);
    expect(requests).toHaveLength(1);
  });

  test('§8.7 RST_STREAM from the client closes the server stream with the code, by the peer', () => {
    const { client, requests, pump } = pair();
    const c = client.request(CONNECT);
    pump();
    let close: StreamClose | undefined;
    requests[0]!.stream.onClose = (x) => (close = x);
    c.reset(H2ErrorCode.CANCEL);
    pump();
    expect(close).toEqual({ code: H2ErrorCode.CANCEL, by: 'peer', unprocessed: false });
  });

  test('CVE-2023-44487: a stream opened and reset in the same read is never announced', () => {
    const { client, server, requests } = pair();
    const c = client.request(CONNECT);
    c.reset(H2ErrorCode.CANCEL);
    const bytes = Buffer.concat(client.takeOutput()!);
    server.receive(bytes);
    expect(requests).toHaveLength(0);
  });

  test('§6.8 graceful shutdown: GOAWAY 2^31-1, PING, then the real last stream id; open streams finish', () => {
    const { client, server, requests, pump } = pair();
    const goaways: number[] = [];
    const c = client.request(CONNECT);
    pump();
    (client as unknown as { ['onGoaway']: unknown }).onGoaway = undefined;
    server.shutdown();
    const out = server.takeOutput()!;
    for (const chunk of out) client.receive(chunk);
    expect(client.goawayReceived?.lastStreamId).toBe(2 ** 31 - 1);
    pump();
    expect(client.goawayReceived?.lastStreamId).toBe(1);
    expect(server.goawaySent?.lastStreamId).toBe(1);
    expect(c.closed).toBe(false);
    requests[0]!.stream.respond({ ':status': 200 }, true);
    c.end();
    pump();
    expect(server.finished).toBe(true);
    expect(goaways).toEqual([]);
  });
});
