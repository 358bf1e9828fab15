/**
 * What only the file config store shows, on a temp folder: the operator's edits of the file become
 * versions, an unchanged file is not read again, an apply keeps the operator's text, and the state folder
 * is private.
 */
import { readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';

import { FileConfigStore } from '../../functions/adapters/file-config-store.js';
import { ConfigError } from '../../functions/core/config/config-error.js';
import { ConfigConflictError } from '../../functions/core/control/config-store.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { rejected } from '../support/thrown.js';

let tmp: TempDir;
let file: string;
let stateDir: string;
let store: FileConfigStore;

beforeEach(async () => {
  tmp = await makeTempDir('sealgate-file-store-');
  file = join(tmp.path, 'sealgate.yaml');
  stateDir = join(tmp.path, 'data', '.sealgate');
  store = new FileConfigStore({ file, stateDir });
});
afterEach(async () => {
  await tmp.cleanup();
});

const historyDir = () => join(stateDir, 'config-history');

/** The record files in the history folder, by name. */
async function recordNames(): Promise<string[]> {
  return (await readdir(historyDir())).sort();
}

/** Moves the file's mtime, as an editor saving the same bytes again would. */
async function touch(path: string, secondsAhead: number): Promise<void> {
  const when = new Date(Date.now() + secondsAhead * 1000);
  await utimes(path, when, when);
}

const operatorText = `# Sealgate, edited by hand
backends:
  - name: local   # the disk under ./data
    type: filesystem
    root: ./data
`;

describe('the file config store', () => {
  it('takes a file that was there before the store as version 1, applied by `file`', async () => {
    await writeFile(file, operatorText);
    expect(await store.stamp()).toEqual({ configVersion: 1, settingsRevision: 0 });
    const current = await store.current();
    expect(current).toMatchObject({
      version: 1,
      appliedBy: 'file',
      document: YAML.parse(operatorText) as unknown,
    });
    expect(await recordNames()).toEqual(['0000000001.json']);
  });

  it('records a hand edit of the file as a new version applied by `file`', async () => {
    await store.apply({ backends: [] }, { baseVersion: 0, appliedBy: 'AKIAADMIN' });
    await writeFile(file, operatorText);
    expect(await store.stamp()).toEqual({ configVersion: 2, settingsRevision: 0 });
    expect(await store.current()).toMatchObject({ version: 2, appliedBy: 'file' });
    expect((await store.history()).map((v) => [v.version, v.appliedBy])).toEqual([
      [2, 'file'],
      [1, 'AKIAADMIN'],
    ]);
  });

  it('refuses an apply based on the version before a hand edit, naming the edit', async () => {
    await store.apply({ backends: [] }, { baseVersion: 0, appliedBy: 'AKIAADMIN' });
    await writeFile(file, operatorText);
    const conflict = await rejected(
      store.apply({ backends: [{ name: 'x' }] }, { baseVersion: 1, appliedBy: 'AKIAADMIN' }),
      ConfigConflictError,
    );
    expect(conflict).toMatchObject({ baseVersion: 1, currentVersion: 2 });
    expect(await readFile(file, 'utf8')).toBe(operatorText);
  });

  it('does not read an unchanged file again', async () => {
    await writeFile(file, operatorText);
    expect((await store.stamp()).configVersion).toBe(1);
    // Make the record disagree with the file: a store that read and hashed the file again would take it
    // for an edit and record version 2.
    const recordPath = join(historyDir(), '0000000001.json');
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as Record<string, unknown>;
    await writeFile(recordPath, JSON.stringify({ ...record, sha256: '0'.repeat(64) }));

    for (let i = 0; i < 3; i++) expect((await store.stamp()).configVersion).toBe(1);
    expect((await store.current())?.version).toBe(1);
    expect(await recordNames()).toEqual(['0000000001.json']);

    // The same bytes with a new mtime are read again, and only then is the disagreement seen.
    await touch(file, 5);
    expect((await store.stamp()).configVersion).toBe(2);
    expect(await recordNames()).toEqual(['0000000001.json', '0000000002.json']);
  });

  it('makes no new version when the file is saved again with the same text', async () => {
    await writeFile(file, operatorText);
    await store.stamp();
    await writeFile(file, operatorText);
    await touch(file, 5);
    expect((await store.stamp()).configVersion).toBe(1);
    expect(await recordNames()).toEqual(['0000000001.json']);
  });

  it('writes the given text byte for byte, comments and all, and takes it as the applied version', async () => {
    await writeFile(file, operatorText);
    const edited = operatorText.replace('root: ./data', 'root: ./data-2') + '# a closing remark\n';
    const applied = await store.apply(YAML.parse(edited) as Record<string, unknown>, {
      baseVersion: 1,
      appliedBy: 'AKIAADMIN',
      comment: 'move the disk',
      text: edited,
    });
    expect(applied).toMatchObject({ version: 2, appliedBy: 'AKIAADMIN', comment: 'move the disk' });
    expect(await readFile(file, 'utf8')).toBe(edited);
    // Another instance reads the file afresh and still finds it to be the applied version.
    const other = new FileConfigStore({ file, stateDir });
    expect(await other.current()).toEqual(applied);
    expect(await recordNames()).toEqual(['0000000001.json', '0000000002.json']);
  });

  it('writes the document as YAML when no text is given, and leaves no temporary file', async () => {
    const document = {
      backends: [{ name: 'local', type: 'filesystem', root: './data' }],
      listen: { port: 9000 },
    };
    await store.apply(document, { baseVersion: 0, appliedBy: 'AKIAADMIN' });
    expect(YAML.parse(await readFile(file, 'utf8'))).toEqual(document);
    expect(await readdir(tmp.path)).toEqual(['data', 'sealgate.yaml']);
    expect((await readdir(historyDir())).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps the mode the operator gave the file', async () => {
    await writeFile(file, operatorText, { mode: 0o640 });
    await store.apply({ backends: [] }, { baseVersion: 1, appliedBy: 'AKIAADMIN' });
    expect((await stat(file)).mode & 0o777).toBe(0o640);
  });

  it('throws a ConfigError naming the file for a YAML syntax error, and picks up the fix', async () => {
    await writeFile(file, operatorText);
    await store.stamp();
    await writeFile(file, 'backends:\n  - name: local\n   type: [unclosed\n');
    const error = await rejected(store.current(), ConfigError);
    expect(error.path).toBe(file);
    expect(error.message).toContain(file);
    // The broken text is no version: the stamp stays, and an apply is refused until the file is fixed.
    expect((await store.stamp()).configVersion).toBe(1);
    await rejected(store.apply({ backends: [] }, { baseVersion: 1, appliedBy: 'AKIAADMIN' }), ConfigError);
    expect(await recordNames()).toEqual(['0000000001.json']);

    await writeFile(file, operatorText.replace('root: ./data', 'root: ./fixed'));
    expect((await store.stamp()).configVersion).toBe(2);
    expect((await store.current())?.document).toMatchObject({ backends: [{ root: './fixed' }] });
  });

  it('throws a ConfigError for a file that is not a mapping', async () => {
    await writeFile(file, '- just\n- a list\n');
    const error = await rejected(store.current(), ConfigError);
    expect(error.path).toBe(file);
    expect(error.problem).toMatch(/mapping/);
  });

  it('is empty again when the file is deleted, and numbers the next apply after the kept versions', async () => {
    await writeFile(file, operatorText);
    await store.stamp();
    await rm(file);
    expect(await store.stamp()).toEqual({ configVersion: 0, settingsRevision: 0 });
    expect(await store.current()).toBeUndefined();
    const applied = await store.apply({ backends: [] }, { baseVersion: 0, appliedBy: 'AKIAADMIN' });
    expect(applied.version).toBe(2);
    expect((await store.history()).map((v) => v.version)).toEqual([2, 1]);
  });

  it('keeps its state owner-only: 0700 folders, 0600 files', async () => {
    await store.apply({ backends: [] }, { baseVersion: 0, appliedBy: 'AKIAADMIN' });
    await store.putBucketSettings('photos', {}, 0, 'AKIAADMIN');
    await store.fingerprintKey();
    const mode = async (path: string) => (await stat(path)).mode & 0o777;
    expect(await mode(stateDir)).toBe(0o700);
    expect(await mode(historyDir())).toBe(0o700);
    expect(await mode(join(historyDir(), '0000000001.json'))).toBe(0o600);
    expect(await mode(join(stateDir, 'buckets.json'))).toBe(0o600);
    expect(await mode(join(stateDir, 'fingerprint.key'))).toBe(0o600);
    expect(await mode(file)).toBe(0o600);
  });

  it('keeps bucket settings in buckets.json, read again when another instance wrote it', async () => {
    await store.putBucketSettings('photos', { route: { backend: 'local', backendBucket: 'p' } }, 0, 'admin');
    const saved = JSON.parse(await readFile(join(stateDir, 'buckets.json'), 'utf8')) as unknown;
    expect(saved).toMatchObject({
      settingsRevision: 1,
      buckets: {
        photos: { revision: 1, updatedBy: 'admin', route: { backend: 'local', backendBucket: 'p' } },
      },
    });
    expect(await store.stamp()).toEqual({ configVersion: 0, settingsRevision: 1 });
    const other = new FileConfigStore({ file, stateDir });
    await other.deleteBucketSettings('photos', 1);
    expect(await store.stamp()).toEqual({ configVersion: 0, settingsRevision: 2 });
    expect(await store.bucketSettings('photos')).toBeUndefined();
  });

  it('keeps the fingerprint key in fingerprint.key, and refuses a file of the wrong size', async () => {
    const key = await store.fingerprintKey();
    expect(await readFile(join(stateDir, 'fingerprint.key'))).toEqual(key);
    await writeFile(join(stateDir, 'fingerprint.key'), Buffer.alloc(5));
    await expect(new FileConfigStore({ file, stateDir }).fingerprintKey()).rejects.toThrow(/5 bytes/);
  });
});
