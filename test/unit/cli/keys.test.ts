import { describe, expect, it } from 'vitest';
import { KEY_ID } from '../../../functions/cli/keys.js';
import { run } from './run-cli.js';

const today = () => new Date().toISOString().slice(0, 10);

describe('sealgate keys generate', () => {
  it('prints a 64-hex-character key and a key id the config accepts', async () => {
    const result = await run(['keys', 'generate']);
    expect(result.code).toBe(0);
    const key = /^key: +([0-9a-f]+)$/m.exec(result.stdout)?.[1];
    const keyId = /^key id: +(\S+)$/m.exec(result.stdout)?.[1];
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(keyId).toMatch(new RegExp(`^key-${today()}-[0-9a-f]{4}$`));
    expect(KEY_ID.test(keyId!)).toBe(true);
  });

  it('reminds on stderr that losing the key loses the data, and where to keep it', async () => {
    const result = await run(['keys', 'generate']);
    expect(result.stderr).toContain('losing it loses every object written under it');
    expect(result.stderr).toContain('Secrets Manager');
    expect(result.stderr).toContain('key id is stored in clear on every object');
    const key = /^key: +([0-9a-f]{64})$/m.exec(result.stdout)![1];
    expect(result.stderr).not.toContain(key);
  });

  it('makes a different key every time', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 5; i++) keys.add(/^key: +(\S+)$/m.exec((await run(['keys', 'generate'])).stdout)![1]);
    expect(keys.size).toBe(5);
  });

  it('prints one JSON document with --json, the reminder still on stderr', async () => {
    const result = await run(['keys', 'generate', '--json', '--id-prefix', 'archive/2026']);
    expect(result.code).toBe(0);
    const data = JSON.parse(result.stdout) as { key: string; key_id: string };
    expect(data.key).toMatch(/^[0-9a-f]{64}$/);
    expect(data.key_id).toMatch(new RegExp(`^archive/2026-${today()}-[0-9a-f]{4}$`));
    expect(result.stderr).toContain('losing it loses every object');
  });

  it.each([['bad id'], ['x'.repeat(49)], ['']])('refuses the key id prefix %j (exit 2)', async (prefix) => {
    const result = await run(['keys', 'generate', '--id-prefix', prefix]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
  });

  it('takes the longest prefix that still gives a valid key id', async () => {
    const result = await run(['keys', 'generate', '--json', '--id-prefix', 'p'.repeat(48)]);
    expect(result.code).toBe(0);
    const { key_id } = JSON.parse(result.stdout) as { key_id: string };
    expect(key_id).toHaveLength(64);
    expect(KEY_ID.test(key_id)).toBe(true);
  });
});
