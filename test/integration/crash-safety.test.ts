/**
 * kill -9 of the local server (a `sealgate serve` child process on the filesystem backend, aes256-gcm-proxy)
 * in the middle of writes, then a restart on the same folder: during a PUT's body, during an UploadPart,
 * and at a random moment after a CompleteMultipartUpload or a CopyObject was sent. After each restart the
 * key holds the old object or the new one, whole (never a torn or empty one), an interrupted multipart
 * upload keeps its finished parts and can be completed, and what the killed process was building in the
 * backend's tmp/ folder is gone once the new process writes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startGatewayProcess, type GatewayProcess } from '../bench/gateway-process.js';
import { signedRequest, signHeaders, type Credentials } from '../support/signed-request.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MIB = 2 ** 20;
const BUCKET = 'crash';

/**
 * A `sealgate serve` child on a folder of its own (its config file, data and store), which a test can
 * start, kill -9 and start again on the same folder. `close` stops it and removes the folder.
 */
function serverOnFolder(name: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), `sealgate-${name}-`));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'sealgate.yaml');
  const credentials: Credentials = {
    accessKeyId: `SG${name.toUpperCase().replace(/[^A-Z]/g, '')}`,
    secretAccessKey: randomBytes(24).toString('hex'),
  };
  let gateway: GatewayProcess | undefined;
  const running = () => {
    if (gateway === undefined) throw new Error('the server is not running');
    return gateway;
  };
  return {
    store: join(dir, 'store'),
    configFile,
    credentials,
    running,
    start: async (): Promise<GatewayProcess> => {
      gateway = await startGatewayProcess({
        repoRoot: REPO_ROOT,
        dataDir,
        configFile,
        credentials,
        entry: ['--import', 'tsx', 'functions/handlers/cli.ts'],
        env,
      });
      return gateway;
    },
    /** SIGKILL: no handler runs, nothing is flushed or cleaned. */
    kill: async (): Promise<void> => {
      const killed = running();
      gateway = undefined;
      process.kill(killed.pid, 'SIGKILL');
      await killed.stop(); // waits for the exit
    },
    /** A graceful stop, e.g. to start again with a new config file. */
    stop: async (): Promise<void> => {
      await running().stop();
      gateway = undefined;
    },
    send: (req: Parameters<typeof signedRequest>[1]) =>
      signedRequest(running().endpoint, req, { credentials }),
    close: async (): Promise<void> => {
      await gateway?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// A process-level test: the function URL run (SEALGATE_TEST_TARGET=function-url) would only repeat it.
describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url')(
  'kill -9 of the server during writes',
  () => {
    const server = serverOnFolder('crash');
    const { store, configFile, credentials, start, kill, send } = server;

    async function read(key: string): Promise<Buffer | undefined> {
      const out = await send({ method: 'GET', path: `/${BUCKET}/${key}` });
      if (out.status === 404) return undefined;
      expect(out.status).toBe(200);
      return out.body;
    }

    /** The server's tmp/ folder, after a write has made the new process clear what the old one left. */
    async function expectTmpCleared(): Promise<void> {
      const probe = await send({ method: 'PUT', path: `/${BUCKET}/probe`, body: 'x' });
      expect(probe.status).toBe(200);
      const left = readdirSync(join(store, '.sealgate', 'tmp'));
      expect(left, `tmp/ after restart: ${left.join(', ')}`).toEqual([]);
    }

    /**
     * Sends a PUT (or an UploadPart) whose body is `body`, unsigned payload, and kills the server once
     * `killAfter` bytes of it are written: resolves when the connection has broken.
     */
    async function putAndKill(path: string, query: Record<string, string>, body: Buffer, killAfter: number) {
      const { endpoint } = server.running();
      const url = new URL(endpoint);
      const headers = await signHeaders(
        endpoint,
        { method: 'PUT', path, query, headers: { 'content-length': String(body.length) } },
        { credentials, payloadHash: 'UNSIGNED-PAYLOAD' },
      );
      const search = new URLSearchParams(query).toString();
      await new Promise<void>((resolve) => {
        const req = request({
          host: url.hostname,
          port: url.port,
          method: 'PUT',
          path: search ? `${path}?${search}` : path,
          headers,
        });
        req.on('error', () => resolve());
        req.on('response', (res) => {
          res.resume();
          res.on('close', () => resolve());
        });
        const piece = 256 * 1024;
        let sent = 0;
        const pump = async () => {
          while (sent < killAfter) {
            const ok = req.write(body.subarray(sent, sent + piece));
            sent += piece;
            if (!ok) await new Promise((r) => req.once('drain', r));
          }
          // Give the server a moment to take in what was sent, then kill it mid-body.
          await delay(50);
          await kill();
        };
        void pump().catch(() => resolve());
      });
    }

    beforeAll(async () => {
      writeFileSync(
        configFile,
        JSON.stringify({
          backends: [
            {
              name: 'local',
              type: 'filesystem',
              path: store,
              encryption: { mode: 'aes256-gcm-proxy', key: '7d'.repeat(32), key_id: 'crash-1' },
            },
          ],
        }),
      );
      await start();
      expect((await send({ method: 'PUT', path: `/${BUCKET}` })).status).toBe(200);
    });
    afterAll(() => server.close());

    it('keeps the old object whole when killed during a PUT body over it', async () => {
      const old = randomBytes(3 * MIB);
      expect((await send({ method: 'PUT', path: `/${BUCKET}/object`, body: old })).status).toBe(200);
      await putAndKill(`/${BUCKET}/object`, {}, randomBytes(24 * MIB), 8 * MIB);
      await start();
      expect((await read('object'))?.equals(old)).toBe(true);
      await expectTmpCleared();
    });

    it('keeps the finished parts of an upload killed during a part, and completes it after restart', async () => {
      const start1 = await send({ method: 'POST', path: `/${BUCKET}/multipart`, query: { uploads: '' } });
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(start1.body.toString('utf8'))![1];
      const part1 = randomBytes(5 * MIB);
      const first = await send({
        method: 'PUT',
        path: `/${BUCKET}/multipart`,
        query: { uploadId, partNumber: '1' },
        body: part1,
      });
      expect(first.status).toBe(200);
      await putAndKill(`/${BUCKET}/multipart`, { uploadId, partNumber: '2' }, randomBytes(16 * MIB), 6 * MIB);
      await start();
      const listed = await send({ method: 'GET', path: `/${BUCKET}/multipart`, query: { uploadId } });
      expect(listed.status).toBe(200);
      const parts = [...listed.body.toString('utf8').matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map(
        (m) => m[1],
      );
      expect(parts).toEqual(['1']);
      const part2 = randomBytes(MIB);
      const second = await send({
        method: 'PUT',
        path: `/${BUCKET}/multipart`,
        query: { uploadId, partNumber: '2' },
        body: part2,
      });
      const etags = [first.headers.etag, second.headers.etag];
      const completion =
        '<CompleteMultipartUpload>' +
        etags
          .map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`)
          .join('') +
        '</CompleteMultipartUpload>';
      const done = await send({
        method: 'POST',
        path: `/${BUCKET}/multipart`,
        query: { uploadId },
        body: completion,
      });
      expect(done.status, done.body.toString('utf8')).toBe(200);
      expect((await read('multipart'))?.equals(Buffer.concat([part1, part2]))).toBe(true);
      await expectTmpCleared();
    });

    it.each([0, 5, 15, 40])(
      'holds the old or the new object, whole, when killed %i ms after a completion or a copy was sent',
      async (ms) => {
        const key = `raced-${ms}`;
        const old = randomBytes(2 * MIB);
        expect((await send({ method: 'PUT', path: `/${BUCKET}/${key}`, body: old })).status).toBe(200);
        // A multipart upload over it, completed and killed at once.
        const started = await send({ method: 'POST', path: `/${BUCKET}/${key}`, query: { uploads: '' } });
        const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(started.body.toString('utf8'))![1];
        const parts = [randomBytes(5 * MIB), randomBytes(5 * MIB), randomBytes(MIB)];
        const etags: string[] = [];
        for (const [i, body] of parts.entries()) {
          const out = await send({
            method: 'PUT',
            path: `/${BUCKET}/${key}`,
            query: { uploadId, partNumber: String(i + 1) },
            body,
          });
          etags.push(String(out.headers.etag));
        }
        const completion =
          '<CompleteMultipartUpload>' +
          etags
            .map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`)
            .join('') +
          '</CompleteMultipartUpload>';
        const answered = send({
          method: 'POST',
          path: `/${BUCKET}/${key}`,
          query: { uploadId },
          body: completion,
        }).catch(() => undefined);
        await delay(ms);
        await kill();
        const answer = await answered;
        await start();
        const whole = Buffer.concat(parts);
        const held = await read(key);
        expect(held !== undefined && (held.equals(old) || held.equals(whole)), 'old or new, whole').toBe(
          true,
        );
        if (answer?.status === 200) expect(held!.equals(whole)).toBe(true);
        if (!held!.equals(whole)) {
          // Not completed: the upload is still there, and completes now.
          const again = await send({
            method: 'POST',
            path: `/${BUCKET}/${key}`,
            query: { uploadId },
            body: completion,
          });
          expect(again.status, again.body.toString('utf8')).toBe(200);
          expect((await read(key))?.equals(whole)).toBe(true);
        }

        // A copy over another object, killed the same way.
        const target = `${key}-copy`;
        const before = randomBytes(MIB);
        expect((await send({ method: 'PUT', path: `/${BUCKET}/${target}`, body: before })).status).toBe(200);
        const copied = send({
          method: 'PUT',
          path: `/${BUCKET}/${target}`,
          headers: { 'x-amz-copy-source': `/${BUCKET}/${key}` },
        }).catch(() => undefined);
        await delay(ms);
        await kill();
        const copyAnswer = await copied;
        await start();
        const copyHeld = await read(target);
        expect(copyHeld !== undefined && (copyHeld.equals(before) || copyHeld.equals(whole))).toBe(true);
        if (copyAnswer?.status === 200) expect(copyHeld!.equals(whole)).toBe(true);
        await expectTmpCleared();
        expect(
          createHash('sha256')
            .update((await read(key))!)
            .digest('hex'),
        ).toBe(createHash('sha256').update(whole).digest('hex'));
      },
    );
  },
);

describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url')(
  'kill -9 of the server during a re-encrypt job',
  () => {
    // Small pages: the job has many, and the kill lands between two of them or inside one; a short write
    // bound, or the job would wait 30 s for writes begun before its gate.
    const server = serverOnFolder('crash-jobs', {
      SEALGATE_JOB_PAGE_SIZE: '10',
      SEALGATE_JOB_WRITE_BOUND_MS: '200',
    });
    const { store, configFile, start, kill, stop, send } = server;
    const KEY_A = { key: '1a'.repeat(32), key_id: 'jobs-a' };
    const KEY_B = { key: '2b'.repeat(32), key_id: 'jobs-b' };
    const written = new Map<string, Buffer>();

    function configure(encryption: Record<string, string>): void {
      writeFileSync(
        configFile,
        JSON.stringify({
          backends: [
            {
              name: 'local',
              type: 'filesystem',
              path: store,
              encryption: { mode: 'aes256-gcm-proxy', ...encryption },
            },
          ],
        }),
      );
    }

    async function job(id: string): Promise<{ status: string; pages?: number; [field: string]: unknown }> {
      const answer = await send({ method: 'GET', path: `/_sealgate/admin/jobs/${id}` });
      expect(answer.status).toBe(200);
      return JSON.parse(answer.body.toString('utf8')) as { status: string; pages?: number };
    }

    beforeAll(async () => {
      configure(KEY_A);
      await start();
      expect((await send({ method: 'PUT', path: '/jobs' })).status).toBe(200);
      for (let i = 0; i < 150; i++) {
        const body = randomBytes(1000 + i);
        const key = `object-${String(i).padStart(3, '0')}`;
        expect((await send({ method: 'PUT', path: `/jobs/${key}`, body })).status).toBe(200);
        written.set(key, body);
      }
    });
    afterAll(() => server.close());

    it('resumes the job after a restart and rewrites every object, which then reads under the new key alone', async () => {
      // Key B current, A kept to read what is not rewritten yet; a restart reads the new file.
      configure({ ...KEY_B, legacy_key: KEY_A.key, legacy_key_id: KEY_A.key_id });
      await stop();
      await start();
      const started = await send({
        method: 'POST',
        path: '/_sealgate/admin/jobs/reencrypt',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ buckets: ['jobs'], strategy: 'full' }),
      });
      expect(started.status, started.body.toString('utf8')).toBe(202);
      const id = (JSON.parse(started.body.toString('utf8')) as { jobs: { id: string }[] }).jobs[0].id;
      // Kill it once it is some pages in and not done.
      let seen = await job(id);
      const unfinished = (status: string) => status === 'queued' || status === 'running';
      while (unfinished(seen.status) && (seen.pages ?? 0) < 3) seen = await job(id);
      expect(seen.status, JSON.stringify(seen)).toBe('running');
      await kill();

      await start();
      const deadline = Date.now() + 60_000;
      let done = await job(id);
      while (unfinished(done.status) && Date.now() < deadline) {
        await delay(100);
        done = await job(id);
      }
      expect(done.status, JSON.stringify(done)).toBe('succeeded');

      // Without key A, every object still reads: the job rewrote all of them under B.
      configure(KEY_B);
      await stop();
      await start();
      for (const [key, body] of written) {
        const out = await send({ method: 'GET', path: `/jobs/${key}` });
        expect(out.status, `${key}: ${out.body.toString('utf8').slice(0, 200)}`).toBe(200);
        expect(out.body.equals(body)).toBe(true);
      }
      const probe = await send({ method: 'PUT', path: '/jobs/probe', body: 'x' });
      expect(probe.status).toBe(200);
      expect(readdirSync(join(store, '.sealgate', 'tmp'))).toEqual([]);
    });
  },
);
