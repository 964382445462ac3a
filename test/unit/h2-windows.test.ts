import { describe, expect, test } from 'vitest';
import { DEFAULT_WINDOW, flowControlWindows, MAX_WINDOW } from '../../src/h2/windows.ts';

describe('flowControlWindows (RFC 9113 §6.9)', () => {
  test('the default 1 MiB limit: 512 KiB per stream, 2 MiB per connection', () => {
    expect(flowControlWindows(1_048_576)).toEqual({ stream: 524_288, connection: 2_097_152 });
  });

  test('a stream window plus what is queued toward the backend (half the limit) stays within the limit', () => {
    for (const limit of [16_384, 131_070, 200_000, 1_048_576, 64 * 1_048_576]) {
      const { stream } = flowControlWindows(limit);
      if (limit / 2 >= DEFAULT_WINDOW) expect(stream + Math.floor(limit / 2)).toBeLessThanOrEqual(limit);
    }
  });

  test('never below the protocol default of 65,535 (§6.9.2), never above 2^31-1 (§6.9.1)', () => {
    expect(flowControlWindows(16_384)).toEqual({ stream: DEFAULT_WINDOW, connection: 4 * DEFAULT_WINDOW });
    expect(flowControlWindows(2 ** 40)).toEqual({ stream: MAX_WINDOW, connection: MAX_WINDOW });
  });
});
