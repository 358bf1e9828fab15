/**
 * How long the fuzz properties run: `FUZZ_RUNS` cases per property (default 300, what `.ci/run` uses;
 * raise it for a longer run, e.g. `FUZZ_RUNS=20000 npm run fuzz`), and `FUZZ_SEED` to replay a run
 * fast-check reported (it prints the seed and the path of every failure).
 */
import type { Parameters } from 'fast-check';
import { positiveFromEnv } from '../support/env-number.js';

export const FUZZ_RUNS = positiveFromEnv('FUZZ_RUNS', 300);

/** fast-check's parameters for one property: `share` of the budget (for costly cases, below 1). */
export function budget<T>(share = 1): Parameters<T> {
  const seed = process.env.FUZZ_SEED;
  return {
    numRuns: Math.max(1, Math.round(FUZZ_RUNS * share)),
    ...(seed !== undefined && seed !== '' ? { seed: Number(seed) } : {}),
  };
}

/**
 * Runs `run`; it may succeed or throw one of `allowed` (the parser's own error classes: what becomes a
 * clear S3, format or config error). Anything else (a TypeError, a RangeError from an allocation) is
 * the bug the fuzzing looks for, and is thrown on.
 */
export async function onlyClearErrors(
  run: () => unknown,
  allowed: (abstract new (...args: never[]) => Error)[],
): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    if (allowed.some((kind) => error instanceof kind)) return error;
    throw error;
  }
}
