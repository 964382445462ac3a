import type net from 'node:net';
import { generateKey } from '../handshake/accept.ts';
import { buildBackendRequest, type ForwardedFor } from '../handshake/backend-request.ts';
import { type Negotiated, parseResponseHead, type ResponseHead, verifyUpgradeResponse } from '../handshake/backend-response.ts';
import { passThroughHeaders, type ResponseFields } from '../handshake/client-response.ts';
import { extractBody } from '../handshake/response-body.ts';
import type { WebSocketRequest } from '../handshake/websocket-request.ts';
import type { BackendTarget } from '../routing/route-table.ts';
import { dial, resetSocket } from '../runtime/tcp.ts';
import { BACKEND_FAILURE_STATUS, MAX_FORWARDED_BODY, MAX_RESPONSE_HEAD, type Outcome } from '../tunnel/outcomes.ts';

export type BackendUpgrade =
  | { readonly ok: true; readonly socket: net.Socket; readonly negotiated: Negotiated; readonly leftover: Buffer }
  | {
      readonly ok: false;
      readonly outcome: Exclude<Outcome, 'ok' | 'refused' | 'rejected' | 'forbidden'>;
      readonly status: number;
      readonly headers: ResponseFields;
      readonly body: Buffer;
      readonly message: string;
    };

function failure(outcome: keyof typeof BACKEND_FAILURE_STATUS, message: string): BackendUpgrade {
  return { ok: false, outcome, status: BACKEND_FAILURE_STATUS[outcome], headers: {}, body: Buffer.from(`${message}\n`), message };
}

/**
 * Opens the backend and performs the HTTP/1.1 opening handshake as its client (RFC 6455 §4.1):
 * a fresh key, the client's offers, then the 101 verified before anything is relayed.
 */
export async function upgradeBackend(
  target: BackendTarget,
  request: WebSocketRequest,
  backendPath: string,
  forwarded: ForwardedFor,
  timeouts: { backendConnectMs: number; backendUpgradeMs: number },
  signal: AbortSignal,
): Promise<BackendUpgrade> {
  const socket = await dial(target, timeouts.backendConnectMs, signal);
  if (!('write' in socket)) return failure('backend_unreachable', socket.message);
  const key = generateKey();
  socket.write(buildBackendRequest(request, backendPath, key, forwarded), 'latin1');
  const answer = await readHead(socket, timeouts.backendUpgradeMs, signal);
  if (answer.kind !== 'head') {
    resetSocket(socket);
    return answer.kind === 'timeout'
      ? failure('backend_timeout', `backend ${target.url} did not answer the upgrade within ${timeouts.backendUpgradeMs} ms`)
      : failure('backend_unreachable', `backend ${target.url}: ${answer.message}`);
  }
  const { head, rest } = answer;
  if (head.status !== 101) {
    // RFC 6455 §4.1: a non-101 is handled "per HTTP procedures": forward it, but never a 2xx,
    // which on HTTP/2 would tell the client its WebSocket is open (RFC 8441 §5).
    if (head.status < 300) {
      resetSocket(socket);
      return failure('backend_unreachable', `backend ${target.url} answered the upgrade with ${head.status} instead of 101`);
    }
    const body = (await readBody(socket, head, rest, timeouts.backendUpgradeMs)) ?? Buffer.alloc(0);
    socket.destroy();
    return {
      ok: false,
      outcome: 'backend_status',
      status: head.status,
      headers: passThroughHeaders(head.headers),
      body,
      message: `backend ${target.url} refused the upgrade with ${head.status}`,
    };
  }
  const verdict = verifyUpgradeResponse(head, { key, protocols: request.protocols, extensions: request.extensions });
  if (!verdict.ok) {
    resetSocket(socket);
    return failure(verdict.outcome === 'bad_response' ? 'backend_unreachable' : verdict.outcome, `backend ${target.url}: ${verdict.message}`);
  }
  return { ok: true, socket, negotiated: verdict.negotiated, leftover: rest };
}

type HeadAnswer =
  | { kind: 'head'; head: ResponseHead; rest: Buffer }
  | { kind: 'timeout' }
  | { kind: 'error'; message: string };

/** Reads until a complete response head, skipping interim 1xx responses other than 101. */
function readHead(socket: net.Socket, timeoutMs: number, signal: AbortSignal): Promise<HeadAnswer> {
  return new Promise((resolve) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (answer: HeadAnswer) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('end', onEnd);
      signal.removeEventListener('abort', onAbort);
      socket.pause();
      resolve(answer);
    };
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      for (;;) {
        const head = parseResponseHead(buffered);
        if (head === undefined) {
          if (buffered.length > MAX_RESPONSE_HEAD) finish({ kind: 'error', message: `response head exceeds ${MAX_RESPONSE_HEAD} bytes` });
          return;
        }
        if (head instanceof Error) return finish({ kind: 'error', message: head.message });
        if (head.status >= 100 && head.status < 200 && head.status !== 101) {
          buffered = buffered.subarray(head.length);
          continue;
        }
        return finish({ kind: 'head', head, rest: buffered.subarray(head.length) });
      }
    };
    const onError = (err: NodeJS.ErrnoException) => finish({ kind: 'error', message: `connection failed during the upgrade (${err.code ?? err.message})` });
    const onEnd = () => finish({ kind: 'error', message: 'connection closed before the upgrade was answered' });
    const onAbort = () => finish({ kind: 'error', message: 'client went away' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('end', onEnd);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Reads a small non-101 body (RFC 9112 §6.3 framing), giving up after the timeout. */
function readBody(socket: net.Socket, head: ResponseHead, first: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    let buffered: Buffer = first;
    const check = (ended: boolean) => {
      const body = extractBody(head.headers, buffered, MAX_FORWARDED_BODY, ended);
      if (body !== undefined) finish(body);
    };
    const finish = (body: Buffer | null) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('error', onEnd);
      resolve(body);
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      check(false);
    };
    const onEnd = () => check(true);
    const timer = setTimeout(() => finish(null), Math.min(timeoutMs, 2_000));
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
    socket.resume();
    check(false);
  });
}
