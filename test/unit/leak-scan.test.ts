import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { capture, findLeaks, registerConfigSecrets, registerSecret } from '../support/leak-scan.js';

// The suite-wide scan (test/support/leak-scan-setup.ts) must be able to fail: here it is shown finding
// each form a secret leaks in, then left empty for the file's own scan.
describe('the leak scan', () => {
  it.each(['hex', 'base64', 'base64url', 'as written'] as const)('finds a key leaked %s', (form) => {
    const key = randomBytes(32).toString('hex');
    registerSecret('a test key', key);
    const raw = Buffer.from(key, 'hex');
    const leaked = {
      hex: key,
      base64: raw.toString('base64'),
      base64url: raw.toString('base64url'),
      'as written': key.toUpperCase().toLowerCase(),
    }[form];
    capture('a made-up answer', `<Error><Message>key ${leaked}</Message></Error>`);
    capture('a clean answer', '<Error><Message>nothing here</Message></Error>');
    const { leaks } = findLeaks();
    expect(leaks.map((leak) => [leak.secret, leak.where])).toContainEqual(['a test key', 'a made-up answer']);
    expect(leaks.every((leak) => leak.where === 'a made-up answer')).toBe(true);
  });

  it("finds the secrets a config's text holds in line, and not the references", () => {
    const secret = 'an-inline-secret-access-key-0001';
    registerConfigSecrets(
      `credentials:\n  - access_key_id: X\n    secret_access_key: "${secret}"\n  - secret_access_key: \${env:S}\n`,
    );
    capture('a log line', `{"message":"oops ${secret}"}`);
    capture('another log line', '{"message":"${env:S}"}');
    const { leaks } = findLeaks();
    expect(leaks.map((leak) => leak.where)).toEqual(['a log line']);
  });
});
