import { passThroughHeaders, type ResponseFields } from '../handshake/client-response.ts';

/** The largest body of an application's refusal that is passed on to the client. */
const MAX_BODY = 64 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * An application's non-2xx answer to a handshake (from `authorize` or its fetch handler), as
 * the client's refusal: its end-to-end headers, and its body when it is small enough.
 */
export async function refusalFrom(response: Response): Promise<{ headers: ResponseFields; body: Uint8Array }> {
  const fields: Record<string, string> = {};
  response.headers.forEach((value, name) => (fields[name] = value));
  return { headers: passThroughHeaders(fields), body: await smallBody(response) };
}

async function smallBody(response: Response): Promise<Uint8Array> {
  const length = Number(response.headers.get('content-length') ?? NaN);
  if (response.body === null || length > MAX_BODY) return EMPTY;
  try {
    const bytes = new Uint8Array(await response.arrayBuffer());
    return bytes.length > MAX_BODY ? EMPTY : bytes;
  } catch {
    return EMPTY;
  }
}
