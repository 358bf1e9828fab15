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
