/**
 * The error `run` throws, checked to be an instance of `type`: for asserting on an error's fields
 * (`expect(thrown(() => parse(x), S3Error).code).toBe(...)`). Fails the test when `run` returns normally
 * or throws something else.
 */
export function thrown<E extends Error>(run: () => unknown, type: new (...args: never[]) => E): E {
  try {
    run();
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error(`expected ${type.name} to be thrown, but the call returned normally`);
}

/**
 * The error `promise` rejects with, checked to be an instance of `type`: the asynchronous {@link thrown}.
 * Fails the test when `promise` resolves or rejects with something else.
 */
export async function rejected<E extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (reason: unknown) => ({ resolved: false as const, reason }),
  );
  if (outcome.resolved) throw new Error(`expected ${type.name} to be thrown, but the call succeeded`);
  if (outcome.reason instanceof type) return outcome.reason;
  throw outcome.reason;
}
