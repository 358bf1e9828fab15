/**
 * A positive whole number from the environment variable `name` (a run's size, rounds, seed, ...), or
 * `fallback` when it is unset or empty.
 *
 * @throws Error naming the variable and its value when it is set to anything else.
 */
export function positiveFromEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) {
    throw new Error(`${name} must be a positive whole number, got "${value}"`);
  }
  return number;
}
