/**
 * Vitest setup (every test file of `npm test`): after the file's tests, nothing the gateway logged or
 * answered may hold a secret a test gave it (test/support/leak-scan.ts).
 */
import { afterAll, expect } from 'vitest';
import { findLeaks } from './leak-scan.js';

afterAll(() => {
  const { leaks, scanned, secrets } = findLeaks();
  // SEALGATE_LEAK_SCAN_REPORT=1 says how much each file's scan covered.
  if (process.env.SEALGATE_LEAK_SCAN_REPORT === '1') {
    process.stderr.write(`leak scan: ${scanned} captured texts, ${secrets} secret forms\n`);
  }
  const report = leaks.map((leak) => `${leak.secret} in ${leak.where}, after: …${leak.excerpt}`).join('\n');
  expect(leaks, `secrets in what the gateway logged or answered:\n${report}`).toEqual([]);
});
