/**
 * One contract for every ConfigStore adapter, run against the file store (a temp folder) and the DynamoDB
 * store (moto on loopback). Each test gets an empty store, and a second instance over the same storage
 * where it needs one (as a second gateway instance, or the admin API of another, would have).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DynamoConfigStore } from '../../functions/adapters/dynamodb-config-store.js';
import { createConfigTable } from '../../functions/adapters/dynamodb-config-table.js';
import { FileConfigStore } from '../../functions/adapters/file-config-store.js';
import {
  BucketSettingsConflictError,
  ConfigConflictError,
  HISTORY_KEPT,
  type ConfigDocument,
  type ConfigStore,
} from '../../functions/core/control/config-store.js';
import {
  BucketBusyError,
  JobConflictError,
  type JobRecord,
  type JobStore,
} from '../../functions/core/jobs/job-record.js';
import { MemoryConfigStore } from '../../functions/core/control/memory-config-store.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { rejected } from '../support/thrown.js';

type Store = ConfigStore & JobStore;

interface StorePair {
  store: Store;
  /** Another instance over the same storage. */
  reopen: () => Store;
}

interface Subject {
  /** An empty store of its own. */
  fresh(): Promise<StorePair>;
  close(): Promise<void>;
}

function documentNumber(n: number): ConfigDocument {
  return { backends: [{ name: 'local', type: 'filesystem', root: `./data-${n}` }], note: `version ${n}` };
}

const route = { backend: 'local', backendBucket: 'photos-on-disk' };

let jobCount = 0;
function newJob(bucket: string, overrides: Partial<JobRecord> = {}): JobRecord {
  const at = new Date(Date.UTC(2026, 11, 3, 13, 0, jobCount)).toISOString();
  return {
    id: `j-20261203130${String(jobCount).padStart(3, '0')}-${(jobCount++).toString(16).padStart(8, '0')}`,
    kind: 'reencrypt',
    bucket,
    params: { strategy: 'full' },
    status: 'queued',
    phase: 'gate',
    counters: { objects: 0, bytes: 0, rewritten: 0, skipped: 0, failed: 0 },
    problems: [],
    revision: 1,
    pages: 0,
    createdAt: at,
    createdBy: 'AKIAADMIN',
    updatedAt: at,
    gateSince: at,
    ...overrides,
  };
}

/**
 * `racing: false` leaves out the tests of two writes racing on one version: moto's TransactWriteItems is not
 * isolated (a cancelled transaction puts back the whole table as it was when it began, which can undo a
 * concurrent one that committed), so a race there shows moto, not the store. The conditions themselves are
 * covered for every adapter by the sequential conflict tests; DynamoDB's own isolation is AWS's to keep.
 */
function configStoreContract(
  name: string,
  open: () => Promise<Subject>,
  { racing = true }: { racing?: boolean } = {},
): void {
  describe(`${name}: the ConfigStore contract`, () => {
    let subject: Subject;

    beforeAll(async () => {
      subject = await open();
    });
    afterAll(async () => {
      await subject?.close();
    });

    describe('config versions', () => {
      it('starts empty: stamp 0/0, no current version, no history', async () => {
        const { store } = await subject.fresh();
        expect(await store.stamp()).toEqual({ configVersion: 0, settingsRevision: 0 });
        expect(await store.current()).toBeUndefined();
        expect(await store.history()).toEqual([]);
        expect(await store.version(1)).toBeUndefined();
      });

      it('applies version 1 then 2, and the stamp follows', async () => {
        const { store } = await subject.fresh();
        const first = await store.apply(documentNumber(1), {
          baseVersion: 0,
          appliedBy: 'AKIAADMIN',
          comment: 'first',
        });
        expect(first).toMatchObject({
          version: 1,
          document: documentNumber(1),
          appliedBy: 'AKIAADMIN',
          comment: 'first',
        });
        expect(Date.parse(first.appliedAt)).not.toBeNaN();
        expect(await store.stamp()).toEqual({ configVersion: 1, settingsRevision: 0 });

        const second = await store.apply(documentNumber(2), { baseVersion: 1, appliedBy: 'AKIAOTHER' });
        expect(second).toMatchObject({ version: 2, document: documentNumber(2), appliedBy: 'AKIAOTHER' });
        expect(second).not.toHaveProperty('comment');
        expect(await store.stamp()).toEqual({ configVersion: 2, settingsRevision: 0 });
        expect(await store.current()).toEqual(second);
      });

      it('keeps every applied version: version(n) and history newest first', async () => {
        const { store } = await subject.fresh();
        for (let n = 1; n <= 3; n++)
          await store.apply(documentNumber(n), { baseVersion: n - 1, appliedBy: 'admin' });
        expect((await store.version(2))?.document).toEqual(documentNumber(2));
        expect(await store.version(4)).toBeUndefined();
        expect(await store.version(0)).toBeUndefined();
        const history = await store.history();
        expect(history.map((v) => v.version)).toEqual([3, 2, 1]);
        expect(history.map((v) => v.document)).toEqual([
          documentNumber(3),
          documentNumber(2),
          documentNumber(1),
        ]);
        expect((await store.history(2)).map((v) => v.version)).toEqual([3, 2]);
      });

      it('keeps a document as given: nesting, arrays, numbers, booleans, unicode, references unresolved', async () => {
        const { store } = await subject.fresh();
        const document: ConfigDocument = {
          credentials: [{ access_key_id: 'AKIA1', secret_access_key: '${env:SEALGATE_SECRET}' }],
          limits: { max: 5_000_000_000, ratio: 0.25, strict: true, none: null },
          greeting: 'grüß dich — 你好',
        };
        await store.apply(document, { baseVersion: 0, appliedBy: 'admin' });
        expect((await store.current())?.document).toEqual(document);
      });

      it('refuses an apply based on an old version: ConfigConflictError names both, the first apply stays', async () => {
        const { store, reopen } = await subject.fresh();
        const other = reopen();
        await store.apply(documentNumber(1), { baseVersion: 0, appliedBy: 'alice' });
        const seeded = await rejected(
          other.apply(documentNumber(99), { baseVersion: 0, appliedBy: 'bob' }),
          ConfigConflictError,
        );
        expect(seeded).toMatchObject({ baseVersion: 0, currentVersion: 1 });

        await store.apply(documentNumber(2), { baseVersion: 1, appliedBy: 'alice' });
        const conflict = await rejected(
          other.apply(documentNumber(98), { baseVersion: 1, appliedBy: 'bob' }),
          ConfigConflictError,
        );
        expect(conflict).toMatchObject({ baseVersion: 1, currentVersion: 2 });
        expect(conflict.message).toContain('version 1');
        expect(conflict.message).toContain('version 2');
        expect((await other.current())?.document).toEqual(documentNumber(2));
        expect((await store.current())?.appliedBy).toBe('alice');
      });

      it('refuses an apply based on a version ahead of the current one', async () => {
        const { store } = await subject.fresh();
        await store.apply(documentNumber(1), { baseVersion: 0, appliedBy: 'admin' });
        const conflict = await rejected(
          store.apply(documentNumber(6), { baseVersion: 5, appliedBy: 'admin' }),
          ConfigConflictError,
        );
        expect(conflict).toMatchObject({ baseVersion: 5, currentVersion: 1 });
        expect(await store.stamp()).toEqual({ configVersion: 1, settingsRevision: 0 });
      });

      it.skipIf(!racing)('lets exactly one of two concurrent applies on the same version land', async () => {
        const { store, reopen } = await subject.fresh();
        await store.apply(documentNumber(1), { baseVersion: 0, appliedBy: 'admin' });
        const other = reopen();
        const results = await Promise.allSettled([
          store.apply(documentNumber(2), { baseVersion: 1, appliedBy: 'alice' }),
          other.apply(documentNumber(3), { baseVersion: 1, appliedBy: 'bob' }),
        ]);
        const landed = results.filter((r) => r.status === 'fulfilled');
        const refused = results.filter((r) => r.status === 'rejected');
        expect(landed).toHaveLength(1);
        expect(refused).toHaveLength(1);
        expect(refused[0].reason).toBeInstanceOf(ConfigConflictError);
        expect(refused[0].reason).toMatchObject({ baseVersion: 1, currentVersion: 2 });
        expect(await store.current()).toEqual(landed[0].value);
        expect((await store.history()).map((v) => v.version)).toEqual([2, 1]);
      });

      it(`prunes versions older than the newest ${HISTORY_KEPT}`, async () => {
        const { store } = await subject.fresh();
        const last = HISTORY_KEPT + 2;
        for (let n = 1; n <= last; n++)
          await store.apply(documentNumber(n), { baseVersion: n - 1, appliedBy: 'admin' });
        const history = await store.history();
        expect(history.map((v) => v.version)).toEqual(
          Array.from({ length: HISTORY_KEPT }, (_, i) => last - i),
        );
        expect(await store.version(1)).toBeUndefined();
        expect(await store.version(2)).toBeUndefined();
        expect((await store.version(3))?.document).toEqual(documentNumber(3));
        expect((await store.current())?.version).toBe(last);
        expect(await store.stamp()).toEqual({ configVersion: last, settingsRevision: 0 });
      });
    });

    describe('bucket settings', () => {
      it('has none at first', async () => {
        const { store } = await subject.fresh();
        expect(await store.bucketSettings('photos')).toBeUndefined();
        expect(await store.listBucketSettings()).toEqual([]);
      });

      it('writes a bucket at revision 1, then 2, and moves settingsRevision with each write', async () => {
        const { store, reopen } = await subject.fresh();
        const first = await store.putBucketSettings('photos', { route }, 0, 'AKIAADMIN');
        expect(first).toMatchObject({ bucket: 'photos', revision: 1, updatedBy: 'AKIAADMIN', route });
        expect(Date.parse(first.updatedAt)).not.toBeNaN();
        expect(await store.stamp()).toEqual({ configVersion: 0, settingsRevision: 1 });

        const second = await store.putBucketSettings('photos', {}, 1, 'migrate-job');
        expect(second).toMatchObject({ bucket: 'photos', revision: 2, updatedBy: 'migrate-job' });
        expect(second).not.toHaveProperty('route');
        expect(await store.stamp()).toEqual({ configVersion: 0, settingsRevision: 2 });

        const other = reopen();
        expect(await other.bucketSettings('photos')).toEqual(second);
        expect(await other.stamp()).toEqual({ configVersion: 0, settingsRevision: 2 });
      });

      it('lists every bucket with settings, sorted by name', async () => {
        const { store } = await subject.fresh();
        await store.putBucketSettings('zeta', { route }, 0, 'admin');
        await store.putBucketSettings('alpha', {}, 0, 'admin');
        await store.putBucketSettings(
          'mid-bucket',
          { route: { backend: 'other', backendBucket: 'mid' } },
          0,
          'admin',
        );
        const listed = await store.listBucketSettings();
        expect(listed.map((s) => s.bucket)).toEqual(['alpha', 'mid-bucket', 'zeta']);
        expect(listed[2]).toMatchObject({ bucket: 'zeta', revision: 1, route });
        expect(listed[0]).not.toHaveProperty('route');
      });

      it('refuses a write on a revision that moved: BucketSettingsConflictError names both, nothing moves', async () => {
        const { store, reopen } = await subject.fresh();
        await store.putBucketSettings('photos', { route }, 0, 'alice');
        await store.putBucketSettings('photos', { route }, 1, 'alice');
        const other = reopen();
        const stale = await rejected(
          other.putBucketSettings('photos', {}, 1, 'bob'),
          BucketSettingsConflictError,
        );
        expect(stale).toMatchObject({ bucket: 'photos', expectedRevision: 1, currentRevision: 2 });
        const asNew = await rejected(
          other.putBucketSettings('photos', {}, 0, 'bob'),
          BucketSettingsConflictError,
        );
        expect(asNew).toMatchObject({ expectedRevision: 0, currentRevision: 2 });
        const missing = await rejected(
          other.putBucketSettings('videos', {}, 3, 'bob'),
          BucketSettingsConflictError,
        );
        expect(missing).toMatchObject({ bucket: 'videos', expectedRevision: 3, currentRevision: 0 });

        expect(await store.bucketSettings('photos')).toMatchObject({
          revision: 2,
          updatedBy: 'alice',
          route,
        });
        expect(await store.bucketSettings('videos')).toBeUndefined();
        expect((await store.stamp()).settingsRevision).toBe(2);
      });

      it('deletes a bucket on its current revision only, and moves settingsRevision', async () => {
        const { store } = await subject.fresh();
        await store.putBucketSettings('photos', { route }, 0, 'admin');
        await store.putBucketSettings('videos', { route }, 0, 'admin');
        const stale = await rejected(store.deleteBucketSettings('photos', 2), BucketSettingsConflictError);
        expect(stale).toMatchObject({ bucket: 'photos', expectedRevision: 2, currentRevision: 1 });
        expect((await store.stamp()).settingsRevision).toBe(2);

        await store.deleteBucketSettings('photos', 1);
        expect(await store.bucketSettings('photos')).toBeUndefined();
        expect((await store.listBucketSettings()).map((s) => s.bucket)).toEqual(['videos']);
        expect(await store.stamp()).toEqual({ configVersion: 0, settingsRevision: 3 });
        // Settings written again after a delete start over at revision 1.
        expect(await store.putBucketSettings('photos', {}, 0, 'admin')).toMatchObject({ revision: 1 });
      });

      it('takes a bucket named like an Object property for a bucket like any other', async () => {
        const { store } = await subject.fresh();
        expect(await store.bucketSettings('constructor')).toBeUndefined();
        await store.putBucketSettings('constructor', { route }, 0, 'admin');
        await store.putBucketSettings('__proto__', {}, 0, 'admin');
        expect(await store.bucketSettings('constructor')).toMatchObject({
          bucket: 'constructor',
          revision: 1,
          route,
        });
        expect((await store.listBucketSettings()).map((s) => s.bucket)).toEqual(['__proto__', 'constructor']);
      });

      it('keeps config versions and settings revisions apart', async () => {
        const { store } = await subject.fresh();
        await store.apply(documentNumber(1), { baseVersion: 0, appliedBy: 'admin' });
        await store.putBucketSettings('photos', { route }, 0, 'admin');
        await store.apply(documentNumber(2), { baseVersion: 1, appliedBy: 'admin' });
        expect(await store.stamp()).toEqual({ configVersion: 2, settingsRevision: 1 });
        expect(await store.bucketSettings('photos')).toMatchObject({ revision: 1, route });
      });
    });

    describe('jobs and write gates', () => {
      it("stores a new job and arms its bucket's gate in one write, seen by another instance", async () => {
        const { store, reopen } = await subject.fresh();
        await store.putBucketSettings('photos', { route }, 0, 'AKIAADMIN');
        const before = await store.stamp();
        const job = newJob('photos');
        expect(await store.createJob(job)).toEqual(job);
        const other = reopen();
        expect(await other.job(job.id)).toEqual(job);
        expect(await other.bucketSettings('photos')).toMatchObject({
          revision: 2,
          route,
          gate: { jobId: job.id, since: job.gateSince },
        });
        expect((await other.stamp()).settingsRevision).toBe(before.settingsRevision + 1);
      });

      it('refuses a second job on a gated bucket (BucketBusyError names the running job), another bucket is free', async () => {
        const { store } = await subject.fresh();
        const first = newJob('photos');
        await store.createJob(first);
        const busy = await rejected(store.createJob(newJob('photos')), BucketBusyError);
        expect(busy.jobId).toBe(first.id);
        await store.createJob(newJob('videos'));
        expect((await store.listJobs()).map((j) => j.bucket).sort()).toEqual(['photos', 'videos']);
      });

      it('lists jobs newest first, at most `limit`', async () => {
        const { store } = await subject.fresh();
        const ids = [];
        for (const bucket of ['a-1', 'a-2', 'a-3']) ids.push((await store.createJob(newJob(bucket))).id);
        expect((await store.listJobs()).map((j) => j.id)).toEqual(ids.slice().reverse());
        expect((await store.listJobs(2)).map((j) => j.id)).toEqual([ids[2], ids[1]]);
        expect(await store.job('j-20991231000000-00000000')).toBeUndefined();
      });

      it('commits on the expected revision only: a stale commit is a JobConflictError and changes nothing', async () => {
        const { store, reopen } = await subject.fresh();
        const job = await store.createJob(newJob('photos'));
        const next = { ...job, revision: 2, cursor: 'k-0999', pages: 1, status: 'running' as const };
        await store.commitJob(next, 1);
        const conflict = await rejected(
          reopen().commitJob({ ...job, revision: 2, cursor: 'other' }, 1),
          JobConflictError,
        );
        expect(conflict).toMatchObject({ expectedRevision: 1, currentRevision: 2 });
        expect(await store.job(job.id)).toEqual(next);
      });

      it.skipIf(!racing)('lets exactly one of two racing commits on the same revision land', async () => {
        const { store, reopen } = await subject.fresh();
        const job = await store.createJob(newJob('photos'));
        const results = await Promise.allSettled([
          store.commitJob({ ...job, revision: 2, cursor: 'from-a' }, 1),
          reopen().commitJob({ ...job, revision: 2, cursor: 'from-b' }, 1),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const landed = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<JobRecord>)
          .value;
        expect((await store.job(job.id))?.cursor).toBe(landed.cursor);
      });

      it('writes a route and lifts the gate with the commit, keeping the rest of the settings', async () => {
        const { store } = await subject.fresh();
        await store.putBucketSettings('photos', { route }, 0, 'AKIAADMIN');
        const job = await store.createJob(newJob('photos', { kind: 'migrate' }));
        const target = { backend: 'remote', backendBucket: 'photos-remote' };
        await store.commitJob({ ...job, revision: 2, phase: 'flip' }, 1, { route: target });
        expect(await store.bucketSettings('photos')).toMatchObject({
          revision: 3,
          route: target,
          gate: { jobId: job.id },
        });
        await store.commitJob({ ...job, revision: 3, status: 'succeeded', phase: 'done' }, 2, {
          releaseGate: true,
        });
        const settings = await store.bucketSettings('photos');
        expect(settings).toMatchObject({ revision: 4, route: target });
        expect(settings?.gate).toBeUndefined();
        // The bucket is free for the next job.
        await store.createJob(newJob('photos'));
      });

      it("keeps the gate through an admin's route write", async () => {
        const { store } = await subject.fresh();
        const job = await store.createJob(newJob('photos'));
        await store.putBucketSettings('photos', { route }, 1, 'AKIAADMIN');
        expect(await store.bucketSettings('photos')).toMatchObject({ route, gate: { jobId: job.id } });
      });
    });

    describe('fingerprint key', () => {
      it('is 32 bytes, and the same for every instance sharing the store', async () => {
        const { store, reopen } = await subject.fresh();
        const key = await store.fingerprintKey();
        expect(key).toBeInstanceOf(Buffer);
        expect(key).toHaveLength(32);
        expect(await store.fingerprintKey()).toEqual(key);
        expect(await reopen().fingerprintKey()).toEqual(key);
      });

      it('comes out the same when two instances make it at once', async () => {
        const { store, reopen } = await subject.fresh();
        const [a, b] = await Promise.all([store.fingerprintKey(), reopen().fingerprintKey()]);
        expect(a).toHaveLength(32);
        expect(b).toEqual(a);
      });

      it('differs between two stores', async () => {
        const [one, two] = await Promise.all([subject.fresh(), subject.fresh()]);
        expect(await one.store.fingerprintKey()).not.toEqual(await two.store.fingerprintKey());
      });
    });
  });
}

// --- the adapters ---

configStoreContract('memory', async () => ({
  fresh: async () => {
    const store = new MemoryConfigStore();
    return { store, reopen: () => store };
  },
  close: async () => {},
}));

configStoreContract('file', async () => {
  const tmp: TempDir = await makeTempDir('sealgate-config-store-');
  let count = 0;
  return {
    fresh: async () => {
      const dir = join(tmp.path, `store-${++count}`);
      await mkdir(dir);
      const options = { file: join(dir, 'sealgate.yaml'), stateDir: join(dir, 'data', '.sealgate') };
      return { store: new FileConfigStore(options), reopen: () => new FileConfigStore(options) };
    },
    close: () => tmp.cleanup(),
  };
});

configStoreContract(
  'dynamodb (moto)',
  async () => {
    const moto: MotoServer = await startMoto();
    const client = new DynamoDBClient({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    let count = 0;
    return {
      fresh: async () => {
        const tableName = `sealgate-config-${++count}`;
        await createConfigTable(client, tableName);
        return {
          store: new DynamoConfigStore({ tableName, client }),
          reopen: () => new DynamoConfigStore({ tableName, client }),
        };
      },
      close: async () => {
        client.destroy();
        await moto.stop();
      },
    };
  },
  { racing: false },
);
