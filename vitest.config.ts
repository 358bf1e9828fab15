import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/cdk/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // After every file: nothing the gateway logged or answered holds a secret a test gave it.
    setupFiles: ['test/support/leak-scan-setup.ts'],
  },
});
