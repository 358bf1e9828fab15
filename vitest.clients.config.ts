import { defineConfig } from 'vitest/config';

// The client conformance suite drives real S3 clients (aws-cli v2, s3cmd, rclone, boto3) as child processes.
export default defineConfig({
  test: {
    include: ['test/clients/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    // After every file: nothing the gateway logged or answered holds a secret a test gave it.
    setupFiles: ['test/support/leak-scan-setup.ts'],
  },
});
