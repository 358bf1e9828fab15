import { defineConfig } from 'vitest/config';

/** `npm run fuzz`: the fuzz properties (test/fuzz), FUZZ_RUNS cases each (test/fuzz/budget.ts). */
export default defineConfig({
  test: {
    include: ['test/fuzz/**/*.fuzz.ts'],
    // A hang is a finding: each file's properties must finish well within this at the default budget.
    testTimeout: 300_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
