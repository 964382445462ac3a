import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type ClientWebSocket, connect, type ConnectOptions } from '../client/connect.ts';
import { type FlagTable, readFlags } from '../config/flags.ts';
import { ErrorCode, H2wsError } from '../errors.ts';

export const CLIENT_HELP = `h2ws client: a WebSocket client that speaks RFC 8441 (WebSocket over HTTP/2)

Usage:
  h2ws client URL [--protocol NAME]... [--header "Name: value"]... [--transport auto|h2|h1]
                  [--show-transport] [--ca FILE] [--insecure]

Every line on stdin is sent as a text message; every message received is printed on its
own line (binary ones as "binary:" and base64). When stdin ends, h2ws closes the socket with
1000 and exits 0 once the server has closed too. Any other end prints one line with the close
code and exits 1; a failed handshake exits 1; a bad flag exits 2.

Options:
  --protocol NAME        Offer this subprotocol; repeatable, most preferred first.
  --header "N: V"        Add a request header (e.g. authorization, origin); repeatable.
  --transport MODE       auto (default): HTTP/2 when the server offers RFC 8441, else
                         HTTP/1.1. h2: RFC 8441 or fail. h1: HTTP/1.1 only.
  --show-transport       Print which transport carries the socket (stderr).
  --ca FILE              Trust this PEM CA certificate (e.g. a self-signed server).
  --insecure             Do not verify the server's certificate.
`;

interface ClientArgs {
  url: string;
  options: ConnectOptions;
  showTransport: boolean;
}

function fail(field: string, message: string): never {
  throw new H2wsError(ErrorCode.CONFIG, message, { field });
}

/** The flags of `h2ws client`; docs/cli.md documents each. */
export const CLIENT_FLAGS = {
  protocol: { takes: 'value' },
  header: { takes: 'value' },
  transport: { takes: 'value' },
  'show-transport': { takes: 'switch' },
  ca: { takes: 'value' },
  insecure: { takes: 'switch' },
  help: { takes: 'switch', short: 'h' },
} as const satisfies FlagTable;

/** Parses `h2ws client …` arguments; throws H2WS_ERR_CONFIG naming the flag. */
export function parseClientArgs(argv: readonly string[]): ClientArgs | 'help' {
  const { flags, positionals } = readFlags(argv, CLIENT_FLAGS, 'h2ws client');
  if (flags.some((f) => f.name === 'help')) return 'help';
  const protocols: string[] = [];
  const headers: Record<string, string> = {};
  let transport: 'auto' | 'h2' | 'h1' = 'auto';
  let showTransport = false;
  let ca: string | undefined;
  let insecure = false;
  for (const { name, value = '' } of flags) {
    switch (name as keyof typeof CLIENT_FLAGS) {
      case 'protocol':
        protocols.push(value);
        break;
      case 'header': {
        const colon = value.indexOf(':');
        if (colon <= 0) fail('--header', `--header "${value}" is not "Name: value"`);
        headers[value.slice(0, colon).trim().toLowerCase()] = value.slice(colon + 1).trim();
        break;
      }
      case 'transport':
        if (value !== 'auto' && value !== 'h2' && value !== 'h1') fail('--transport', `--transport "${value}" is not auto, h2 or h1`);
        transport = value;
        break;
      case 'show-transport':
        showTransport = true;
        break;
      case 'insecure':
        insecure = true;
        break;
      case 'ca':
        try {
          ca = readFileSync(value, 'utf8');
        } catch (err) {
          fail('--ca', `--ca: cannot read "${value}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
        break;
    }
  }
  if (positionals.length > 1) fail('URL', `unexpected argument "${positionals[1]}"; give one URL`);
  const url = positionals[0];
  if (url === undefined) fail('URL', 'h2ws client needs a URL, e.g. h2ws client wss://localhost:8443/ws/echo');
  if (!/^(wss?|https?):\/\//i.test(url)) fail('URL', `"${url}" must start with ws://, wss://, http:// or https://`);
  return {
    url,
    showTransport,
    options: { protocols, headers, transport, ...(ca !== undefined && { ca }), ...(insecure && { rejectUnauthorized: false }) },
  };
}

/** `h2ws client URL`: wscat for HTTP/2. Resolves with the exit code. */
export async function runClient(argv: readonly string[]): Promise<number> {
  let args: ClientArgs | 'help';
  try {
    args = parseClientArgs(argv);
  } catch (err) {
    if (err instanceof H2wsError) {
      process.stderr.write(`h2ws client: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (args === 'help') {
    process.stdout.write(CLIENT_HELP);
    return 0;
  }
  let ws: ClientWebSocket;
  try {
    ws = await connect(args.url, args.options);
  } catch (err) {
    process.stderr.write(`h2ws client: ${(err as Error).message}\n`);
    return 1;
  }
  if (args.showTransport) {
    const how = ws.transport === 'h2' ? 'HTTP/2 (RFC 8441 extended CONNECT)' : 'HTTP/1.1 (Upgrade: websocket)';
    process.stderr.write(`h2ws client: connected to ${args.url} over ${how}${ws.protocol ? `, subprotocol ${ws.protocol}` : ''}\n`);
  }
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    process.stdout.write(isBinary ? `binary:${data.toString('base64')}\n` : `${data.toString('utf8')}\n`);
  });
  let stdinEnded = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  void (async () => {
    for await (const line of lines) {
      if (ws.readyState !== ws.OPEN) break;
      await new Promise<void>((resolve) => ws.send(line, () => resolve()));
    }
    stdinEnded = true;
    if (ws.readyState === ws.OPEN) ws.close(1000);
  })();
  const { code, reason } = await closed;
  lines.close();
  if (stdinEnded && code === 1000) return 0;
  process.stderr.write(`h2ws client: the connection closed with ${code}${reason ? ` (${reason})` : ''}${code === 1006 ? ': no Close frame, the connection was dropped' : ''}\n`);
  return 1;
}
