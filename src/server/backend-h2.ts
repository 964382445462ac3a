import { H2ErrorCode } from '../h2/error-codes.ts';
import type { H2SessionPool } from '../h2/client-pool.ts';
import type { HeaderRecord } from '../h2/field-validation.ts';
import type { H2Stream } from '../h2/stream.ts';
import { buildBackendH2Fields, type ForwardedFor } from '../handshake/backend-request.ts';
import { type Negotiated, verifyNegotiation } from '../handshake/backend-response.ts';
import { passThroughHeaders } from '../handshake/client-response.ts';
import type { HeaderMap } from '../handshake/headers.ts';
import type { WebSocketRequest } from '../handshake/websocket-request.ts';
import type { BackendTarget } from '../routing/route-table.ts';
import { BACKEND_FAILURE_STATUS, MAX_FORWARDED_BODY } from '../tunnel/outcomes.ts';
import type { EndEvents, TunnelEnd } from '../tunnel/relay.ts';
import { H2StreamEnd } from './tunnel-ends.ts';
import type { BackendUpgrade } from './backend-upgrade.ts';

/** An RFC 8441 backend's answer: an open stream, "use HTTP/1.1", or a failure like the HTTP/1.1 path's. */
export type BackendH2Upgrade =
  | { readonly ok: true; readonly stream: H2Stream; readonly negotiated: Negotiated }
  | { readonly ok: 'no-rfc8441'; readonly reason: string }
  | Extract<BackendUpgrade, { ok: false }>;

function failure(outcome: keyof typeof BACKEND_FAILURE_STATUS, message: string): BackendH2Upgrade {
  return { ok: false, outcome, status: BACKEND_FAILURE_STATUS[outcome], headers: {}, body: Buffer.from(`${message}\n`), message };
}

/**
 * Opens the tunnel as an extended CONNECT stream on a pooled HTTP/2 connection to a backend
 * that speaks RFC 8441 (§4): many tunnels share one connection. The client's offer goes
 * through; the backend's 2xx is checked as RFC 8441 §5 keeps RFC 6455 §4.1's checks.
 */
export async function upgradeBackendH2(
  pool: H2SessionPool,
  target: BackendTarget,
  request: WebSocketRequest,
  backendPath: string,
  forwarded: ForwardedFor,
  timeouts: { backendUpgradeMs: number },
  clientGone: AbortSignal,
): Promise<BackendH2Upgrade> {
  const origin = `${target.secure ? 'https' : 'http'}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const deadline = AbortSignal.timeout(timeouts.backendUpgradeMs);
  const opened = await pool.openTunnel(origin, backendPath, request.authority, buildBackendH2Fields(request, forwarded), AbortSignal.any([deadline, clientGone]));
  switch (opened.kind) {
    case 'no-rfc8441':
      return { ok: 'no-rfc8441', reason: opened.reason };
    case 'error':
      if (deadline.aborted) return failure('backend_timeout', `backend ${target.url} did not answer the upgrade within ${timeouts.backendUpgradeMs} ms`);
      return failure('backend_unreachable', `backend ${target.url}: ${opened.message}`);
    case 'status': {
      const body = await readBody(opened.stream, Math.min(timeouts.backendUpgradeMs, 2_000));
      opened.stream.reset(H2ErrorCode.CANCEL);
      return {
        ok: false,
        outcome: 'backend_status',
        status: opened.status,
        headers: passThroughHeaders(plainFields(opened.headers)),
        body,
        message: `backend ${target.url} refused the upgrade with ${opened.status}`,
      };
    }
    case 'open': {
      const verdict = verifyNegotiation(plainFields(opened.headers), { protocols: request.protocols, extensions: request.extensions });
      if (!verdict.ok) {
        opened.stream.reset(H2ErrorCode.CANCEL);
        return failure(verdict.outcome === 'bad_response' ? 'backend_unreachable' : verdict.outcome, `backend ${target.url}: ${verdict.message}`);
      }
      return { ok: true, stream: opened.stream, negotiated: verdict.negotiated };
    }
  }
}

/**
 * A backend's RFC 8441 stream as a tunnel end. RST_STREAM maps straight through between the
 * two HTTP/2 sides: the code one side sent is the code the other gets (CANCEL when unknown,
 * or when the other side is a TCP socket, RFC 9113 §8.7).
 */
export function h2BackendEnd(stream: H2Stream): TunnelEnd {
  return new H2BackendEnd(stream, H2ErrorCode.CANCEL);
}

class H2BackendEnd extends H2StreamEnd {
  /**
   * RFC 9113 §8.1: a server may end its response with END_STREAM and then RST_STREAM(NO_ERROR)
   * to stop the request "without error" (nghttpx does once its own backend closed). After the
   * END_STREAM was relayed that is a clean close: the client gets END_STREAM after every byte,
   * not a reset that would drop them.
   */
  override start(events: EndEvents): void {
    let ended = false;
    super.start({
      data: events.data,
      end: () => {
        ended = true;
        events.end();
      },
      close: (clean) => events.close(clean || (ended && this.stream.closeInfo?.code === H2ErrorCode.NO_ERROR)),
    });
  }
}

function plainFields(headers: HeaderRecord): HeaderMap {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (!name.startsWith(':')) out[name] = value;
  return out;
}

/** A refusal's body, up to MAX_FORWARDED_BODY (a larger one is dropped), or what came within `timeoutMs`. */
function readBody(stream: H2Stream, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.onData = stream.onEnd = stream.onClose = undefined;
      resolve(size > MAX_FORWARDED_BODY ? Buffer.alloc(0) : Buffer.concat(chunks));
    };
    const timer = setTimeout(finish, timeoutMs);
    stream.onData = (chunk) => {
      size += chunk.length;
      // Copied: a DATA view is only valid during the call.
      if (size <= MAX_FORWARDED_BODY) chunks.push(Buffer.from(chunk));
      else finish();
    };
    stream.onEnd = finish;
    stream.onClose = finish;
    // Already reset (a close still pending delivers the held-back body on resume).
    if (stream.closeInfo !== undefined) finish();
    else stream.resume();
  });
}
