import { describe, expect, it } from 'vitest';
import { diffDocuments, formatChange, type DocumentDiff } from '../../../functions/cli/diff.js';

const SECRET = 'wJalrXUtnFEMI-secret-never-shown';
const KEY = 'a1'.repeat(32);
const LEGACY = 'b2'.repeat(32);

function lines(diff: DocumentDiff): string[] {
  return diff.changes.map(formatChange);
}

/** Everything a diff could print: its lines and its JSON form. */
function printed(diff: DocumentDiff): string {
  return `${lines(diff).join('\n')}\n${JSON.stringify(diff)}`;
}

describe('config diff', () => {
  it('finds nothing between equal documents', () => {
    const doc = {
      backends: [{ name: 'a', type: 'filesystem', path: './data' }],
      domains: ['s3.example.test'],
    };
    expect(diffDocuments(doc, structuredClone(doc))).toEqual({ changes: [], unverified: [] });
  });

  it('lists added, removed and changed fields by path, in document order', () => {
    const before = {
      backends: [{ name: 'a', type: 'filesystem', path: './data' }],
      default_backend: 'a',
      domains: ['one.test', 'two.test'],
    };
    const after = {
      backends: [
        { name: 'a', type: 'filesystem', path: './store', encryption: { mode: 'none' } },
        { name: 'b', type: 's3', region: 'eu-west-1' },
      ],
      domains: ['one.test'],
      buckets: [{ name: 'logs', backend: 'b' }],
    };
    expect(lines(diffDocuments(before, after))).toEqual([
      '~ backends[0].path: "./data" -> "./store"',
      '+ backends[0].encryption: {"mode":"none"}',
      '+ backends[1]: {"name":"b","type":"s3","region":"eu-west-1"}',
      '- default_backend: "a"',
      '- domains[1]: "two.test"',
      '+ buckets: [{"name":"logs","backend":"b"}]',
    ]);
  });

  it('shows a change of type (scalar to mapping) as one change', () => {
    expect(lines(diffDocuments({ encryption: 'none' }, { encryption: { mode: 'none' } }))).toEqual([
      '~ encryption: "none" -> {"mode":"none"}',
    ]);
  });

  it('never prints an inline secret that changed, was added or was removed', () => {
    const before = {
      credentials: [{ access_key_id: 'AK1', secret_access_key: SECRET }],
      backends: [{ name: 'a', type: 's3', secret_access_key: 'old-backend-secret' }],
    };
    const after = {
      credentials: [
        { access_key_id: 'AK1', secret_access_key: `${SECRET}-rotated` },
        { access_key_id: 'AK2', secret_access_key: 'second-secret-value', admin: true },
      ],
      backends: [
        { name: 'a', type: 's3', encryption: { mode: 'aes256-gcm-proxy', key: KEY, legacy_key: LEGACY } },
      ],
    };
    const diff = diffDocuments(before, after);
    const text = printed(diff);
    for (const secret of [SECRET, 'old-backend-secret', 'second-secret-value', KEY, LEGACY]) {
      expect(text).not.toContain(secret);
    }
    expect(lines(diff)).toEqual([
      '~ credentials[0].secret_access_key: (secret) -> (secret)',
      '+ credentials[1]: {"access_key_id":"AK2","secret_access_key":"(secret)","admin":true}',
      '- backends[0].secret_access_key: (secret)',
      '+ backends[0].encryption: {"mode":"aes256-gcm-proxy","key":"(secret)","legacy_key":"(secret)"}',
    ]);
  });

  it('shows a secret written as a reference by its reference text', () => {
    const before = { credentials: [{ access_key_id: 'AK1', secret_access_key: '${env:OLD_SECRET}' }] };
    const after = {
      credentials: [{ access_key_id: 'AK1', secret_access_key: '${secretsmanager:sealgate/admin}' }],
    };
    expect(lines(diffDocuments(before, after))).toEqual([
      '~ credentials[0].secret_access_key: ${env:OLD_SECRET} -> ${secretsmanager:sealgate/admin}',
    ]);
  });

  it('masks the default of an ${env:NAME:-default} reference, which may be the secret itself', () => {
    const after = { backends: [{ name: 'a', encryption: { key: `\${env:SG_KEY:-${KEY}}` } }] };
    const diff = diffDocuments({ backends: [{ name: 'a', encryption: {} }] }, after);
    expect(printed(diff)).not.toContain(KEY);
    expect(lines(diff)).toEqual(['+ backends[0].encryption.key: ${env:SG_KEY:-(secret)}']);
  });

  it('masks a value that mixes a reference with literal text', () => {
    const after = { credentials: [{ secret_access_key: 'prefix-literal${env:X}' }] };
    const diff = diffDocuments({ credentials: [{}] }, after);
    expect(printed(diff)).not.toContain('prefix-literal');
    expect(lines(diff)).toEqual(['+ credentials[0].secret_access_key: (secret)']);
  });

  it('masks a secret field whatever its type (YAML reads an unquoted hex key of digits as a number)', () => {
    const diff = diffDocuments(
      { backends: [{ encryption: {} }] },
      { backends: [{ encryption: { key: 1234567890 } }] },
    );
    expect(printed(diff)).not.toContain('1234567890');
  });

  it('does not compare an inline secret with the fingerprint the gateway shows, and says so', () => {
    const before = { credentials: [{ access_key_id: 'AK1', secret_access_key: 'fp:0123456789abcdef' }] };
    const after = { credentials: [{ access_key_id: 'AK1', secret_access_key: SECRET }] };
    const diff = diffDocuments(before, after);
    expect(diff.changes).toEqual([]);
    expect(diff.unverified).toEqual(['credentials[0].secret_access_key']);
    expect(printed(diff)).not.toContain(SECRET);
  });

  it('reports a fingerprinted secret replaced by a reference as a change', () => {
    const before = { credentials: [{ secret_access_key: 'fp:0123456789abcdef' }] };
    const after = { credentials: [{ secret_access_key: '${env:ADMIN_SECRET}' }] };
    expect(lines(diffDocuments(before, after))).toEqual([
      '~ credentials[0].secret_access_key: (secret) -> ${env:ADMIN_SECRET}',
    ]);
  });

  it('prints fields that are not secrets as they are, even when named like one elsewhere', () => {
    const diff = diffDocuments({ buckets: [{ key: 'a' }] }, { buckets: [{ key: 'b' }] });
    expect(lines(diff)).toEqual(['~ buckets[0].key: "a" -> "b"']);
  });
});
