import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // fast-check: a fixed seed in CI, printed on failure (see test/seed.ts)
    setupFiles: ['test/seed.ts'],
    testTimeout: 60_000,
    pool: 'threads',
  },
});
