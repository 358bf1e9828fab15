/**
 * The load clients: each one an AWS SDK v3 loop over its own key prefix in one bucket, choosing its next
 * operation at random by weight (small and large PUTs and GETs, ranged GETs, listings, multipart uploads,
 * deletes) until the deadline. Each client keeps a model of what its prefix must hold (key → seed and size),
 * updated only when the gateway answered a write with success, and checks every read against it: a GET or
 * range byte for byte, a listing key for key. Anything else is an error: the run's figure that must be 0.
 */
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { content, contentRange } from './content.js';

export const OPERATIONS = [
  'put-small',
  'get-small',
  'put-large',
  'get-large',
  'get-range',
  'list',
  'multipart',
  'delete',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** How often each operation is chosen, of the weights' sum. */
const WEIGHTS: Record<Operation, number> = {
  'put-small': 30,
  'get-small': 25,
  'put-large': 4,
  'get-large': 8,
  'get-range': 14,
  list: 5,
  multipart: 2,
  delete: 12,
};
const KIB = 1024;
const MIB = 1024 * KIB;
const SMALL = { min: 1, max: 64 * KIB };
const LARGE = { min: 1 * MIB, max: 8 * MIB };
/** Multipart: two parts, the first at S3's 5 MiB minimum. */
const PART_SIZES = [5 * MIB, 1 * MIB];
/** Keys a client keeps at most; a write beyond replaces one. */
const KEYS_PER_CLIENT = 8;

/** SSE-C fields every object request of a client sends (none on most). */
export interface CustomerKey {
  SSECustomerAlgorithm: 'AES256';
  SSECustomerKey: string;
  SSECustomerKeyMD5: string;
}

export interface ClientSetup {
  id: number;
  s3: S3Client;
  bucket: string;
  customerKey?: CustomerKey;
}

interface Stored {
  seed: string;
  size: number;
}

export interface ClientResult {
  /** Milliseconds of each successful operation, by operation. */
  latencies: Map<Operation, number[]>;
  /** Plaintext bytes each operation moved, by operation. */
  bytes: Map<Operation, number>;
  errors: string[];
  /** What the client's prefix must hold at the end. */
  model: Map<string, Stored>;
}

/** A small seeded generator (mulberry32), so a run's choices can be replayed with LOAD_SEED. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  const stream = body as { transformToByteArray(): Promise<Uint8Array> };
  return Buffer.from(await stream.transformToByteArray());
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export async function runClient(setup: ClientSetup, deadline: number, seed: number): Promise<ClientResult> {
  const next = random(seed);
  const between = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const result: ClientResult = {
    latencies: new Map(OPERATIONS.map((op) => [op, []])),
    bytes: new Map(OPERATIONS.map((op) => [op, 0])),
    errors: [],
    model: new Map(),
  };
  const { s3, bucket } = setup;
  const sse = setup.customerKey ?? {};
  const prefix = `c${setup.id}/`;
  let written = 0;
  const totalWeight = OPERATIONS.reduce((sum, op) => sum + WEIGHTS[op], 0);
  const choose = (): Operation => {
    let pick = next() * totalWeight;
    for (const op of OPERATIONS) {
      pick -= WEIGHTS[op];
      if (pick < 0) return op;
    }
    return 'get-small';
  };
  const keys = () => [...result.model.keys()];
  const pick = (from: string[]) => (from.length === 0 ? undefined : from[between(0, from.length - 1)]);
  const anyKey = () => pick(keys());
  /** A key to write: a new one while the client holds few, else one it holds (an overwrite). */
  const writeKey = () =>
    result.model.size < KEYS_PER_CLIENT || next() < 0.3 ? `${prefix}k${written++}` : anyKey()!;

  const put = async (size: number): Promise<number> => {
    const key = writeKey();
    const seedText = `${setup.id}-${written}-${size}-${next()}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: content(seedText, size), ...sse }));
    result.model.set(key, { seed: seedText, size });
    return size;
  };

  const get = async (key: string): Promise<number> => {
    const stored = result.model.get(key)!;
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...sse }));
    const bytes = await bodyBytes(out.Body);
    if (bytes.length !== stored.size || sha256(bytes) !== sha256(content(stored.seed, stored.size))) {
      throw new Error(`GET ${key}: ${bytes.length} bytes that are not the ${stored.size} written`);
    }
    return bytes.length;
  };

  const operations: Record<Operation, () => Promise<number | undefined>> = {
    'put-small': () => put(between(SMALL.min, SMALL.max)),
    'put-large': () => put(between(LARGE.min, LARGE.max)),
    'get-small': async () => {
      const key = pick(keys().filter((k) => result.model.get(k)!.size <= SMALL.max));
      return key === undefined ? undefined : get(key);
    },
    'get-large': async () => {
      const key = pick(keys().filter((k) => result.model.get(k)!.size > SMALL.max));
      return key === undefined ? undefined : get(key);
    },
    'get-range': async () => {
      const key = anyKey();
      if (key === undefined) return undefined;
      const stored = result.model.get(key)!;
      if (stored.size === 0) return undefined;
      const start = between(0, stored.size - 1);
      const end = Math.min(stored.size - 1, start + between(0, 256 * KIB));
      const out = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}`, ...sse }),
      );
      const bytes = await bodyBytes(out.Body);
      if (!bytes.equals(contentRange(stored.seed, start, end))) {
        throw new Error(
          `GET ${key} bytes=${start}-${end}: ${bytes.length} bytes that differ from those written`,
        );
      }
      return bytes.length;
    },
    list: async () => {
      const listed: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const entry of page.Contents ?? []) {
          listed.push(entry.Key!);
          const stored = result.model.get(entry.Key!);
          if (stored && entry.Size !== stored.size) {
            throw new Error(`list: ${entry.Key} listed at ${entry.Size} bytes, written ${stored.size}`);
          }
        }
        token = page.NextContinuationToken;
      } while (token !== undefined);
      const expected = keys().sort();
      if (listed.sort().join('\n') !== expected.join('\n')) {
        throw new Error(`list ${prefix}: [${listed.join(', ')}], expected [${expected.join(', ')}]`);
      }
      return 0;
    },
    multipart: async () => {
      const key = writeKey();
      const size = PART_SIZES.reduce((sum, n) => sum + n, 0);
      const seedText = `${setup.id}-${written}-mp-${next()}`;
      const whole = content(seedText, size);
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...sse }),
      );
      const parts = [];
      let offset = 0;
      for (const [i, partSize] of PART_SIZES.entries()) {
        const out = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: i + 1,
            Body: whole.subarray(offset, offset + partSize),
            ...sse,
          }),
        );
        parts.push({ PartNumber: i + 1, ETag: out.ETag });
        offset += partSize;
      }
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
          ...sse,
        }),
      );
      result.model.set(key, { seed: seedText, size });
      return size;
    },
    delete: async () => {
      const key = anyKey();
      if (key === undefined) return undefined;
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      result.model.delete(key);
      return 0;
    },
  };

  while (performance.now() < deadline) {
    const op = choose();
    const started = performance.now();
    try {
      const moved = await operations[op]();
      if (moved === undefined) continue; // nothing to read or delete yet
      result.latencies.get(op)!.push(performance.now() - started);
      result.bytes.set(op, result.bytes.get(op)! + moved);
    } catch (error) {
      result.errors.push(
        `client ${setup.id} ${op}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return result;
}

/** After the run: every object a client's model holds, read back whole and checked, and nothing more. */
export async function verifyClient(setup: ClientSetup, model: Map<string, Stored>): Promise<string[]> {
  const problems: string[] = [];
  const sse = setup.customerKey ?? {};
  for (const [key, stored] of model) {
    try {
      const out = await setup.s3.send(new GetObjectCommand({ Bucket: setup.bucket, Key: key, ...sse }));
      const bytes = await bodyBytes(out.Body);
      if (!bytes.equals(content(stored.seed, stored.size))) problems.push(`${key}: its bytes differ`);
    } catch (error) {
      problems.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const listed = await setup.s3.send(
    new ListObjectsV2Command({ Bucket: setup.bucket, Prefix: `c${setup.id}/` }),
  );
  const extra = (listed.Contents ?? []).map((entry) => entry.Key!).filter((key) => !model.has(key));
  if (extra.length > 0) problems.push(`listed but never written successfully: ${extra.join(', ')}`);
  return problems;
}
