import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure logic and in-memory parts (no services); `integration` runs against
// the real stack, which its global setup brings up (idempotently) before the first test.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Integration files share one broker; running them one at a time keeps 2 cores honest.
          fileParallelism: false,
        },
      },
    ],
  },
});
