import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Spawned gateways under three runtimes and a browser share two cores: keep it steady.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
