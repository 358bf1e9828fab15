/**
 * Vitest setup (every test file of `npm test` and of the client suite): after the file's tests, nothing
 * the gateway logged or answered, and nothing the process printed, may hold a secret a test gave it
 * (test/support/leak-scan.ts).
 */
import { afterAll, expect } from 'vitest';
import { capture, findLeaks } from './leak-scan.js';

// What the process writes is scanned too: the Lambda handler's Powertools logs and EMF metrics (the
// function URL emulator runs it in this process) and anything else printed while the file runs.
for (const [name, stream] of [
  ['stdout', process.stdout],
  ['stderr', process.stderr],
] as const) {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = (chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) {
      capture(`the process's ${name}`, typeof chunk === 'string' ? chunk : Buffer.from(chunk));
    }
    return write(chunk, ...rest);
  };
}

afterAll(() => {
  const { leaks, scanned, secrets } = findLeaks();
  // SEALGATE_LEAK_SCAN_REPORT=1 says how much each file's scan covered.
  if (process.env.SEALGATE_LEAK_SCAN_REPORT === '1') {
    process.stderr.write(`leak scan: ${scanned} captured texts, ${secrets} secret forms\n`);
  }
  const report = leaks.map((leak) => `${leak.secret} in ${leak.where}, after: …${leak.excerpt}`).join('\n');
  expect(leaks, `secrets in what the gateway logged or answered:\n${report}`).toEqual([]);
});
