/**
 * The design's "what each event becomes" table, where it is plain data: the statuses for
 * backend failures and the HTTP/2 error codes (RFC 9113 §7) used for refusals and aborts.
 */
import { expect, test } from 'vitest';
import { H2ErrorCode } from '../../src/h2/error-codes.ts';
import {
  BACKEND_ABORT_H2_CODE, BACKEND_FAILURE_STATUS, MAX_FORWARDED_BODY, MAX_RESPONSE_HEAD, REFUSED,
} from '../../src/tunnel/outcomes.ts';

test('RFC 9113 §7: error code values', () => {
  expect(H2ErrorCode).toEqual({
    NO_ERROR: 0x0,
    PROTOCOL_ERROR: 0x1,
    INTERNAL_ERROR: 0x2,
    FLOW_CONTROL_ERROR: 0x3,
    SETTINGS_TIMEOUT: 0x4,
    STREAM_CLOSED: 0x5,
    FRAME_SIZE_ERROR: 0x6,
    REFUSED_STREAM: 0x7,
    CANCEL: 0x8,
    COMPRESSION_ERROR: 0x9,
    CONNECT_ERROR: 0xa,
    ENHANCE_YOUR_CALM: 0xb,
    INADEQUATE_SECURITY: 0xc,
    HTTP_1_1_REQUIRED: 0xd,
  });
});

test('backend refuses / DNS fails -> 502; no upgrade answer in time -> 504; wrong accept, subprotocol or extension -> 502', () => {
  expect(BACKEND_FAILURE_STATUS).toEqual({ backend_unreachable: 502, backend_timeout: 504, bad_accept: 502, bad_subprotocol: 502 });
});

test('RFC 9113 §8.7: over the tunnel limit -> RST_STREAM REFUSED_STREAM (0x7) on h2, 503 on HTTP/1.1', () => {
  expect(REFUSED).toEqual({ h2Code: 0x7, h1Status: 503 });
});

test('RFC 9113 §8.5: a backend reset or error mid-tunnel -> RST_STREAM CONNECT_ERROR (0xa)', () => {
  expect(BACKEND_ABORT_H2_CODE).toBe(0xa);
});

test('size limits for forwarded bodies and backend heads', () => {
  expect(MAX_FORWARDED_BODY).toBe(65_536);
  expect(MAX_RESPONSE_HEAD).toBe(16_384);
});
