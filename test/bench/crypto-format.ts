/**
 * Throughput of the ciphertext format (docs/FORMAT.md) on one core, beside raw Node AES-256-GCM over the
 * same 64 KiB chunks and the AWS Encryption SDK for JavaScript with 64 KiB frames, on the same plaintext
 * in the same run. `runFormatBench()` returns the printable table; `npx tsx test/bench/crypto-format.ts`
 * prints it. FORMAT_BENCH_MIB sets the plaintext size (default 256).
 *
 * Every implementation runs in this one thread (Node's crypto calls are synchronous), so the numbers are
 * single-core. The contenders take turns, round after round, so none is favoured by running first on
 * fresh memory or last on a warmed-up heap; each keeps its best round, since other work on the machine
 * only ever slows a round down. Every decryption is checked
 * against the plaintext, outside the timed part.
 */
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  decryptSegment,
  encryptSegment,
  segmentCiphertextLength,
} from '../../functions/core/crypto/index.js';
import { formatTable } from './text-table.js';

const MIB = 2 ** 20;
const CHUNK = 65_536;
const ROUNDS = 5;

/** One implementation under test. `encrypt` keeps its ciphertext for the `decrypt` that follows. */
interface Contender {
  name: string;
  encrypt(): Promise<void> | void;
  /** Untimed work between the two, e.g. storing the ciphertext pieces as one object. */
  store?(): void;
  /** The decrypted plaintext, in pieces. */
  decrypt(): Promise<Uint8Array[]> | Uint8Array[];
  /** Stored bytes beyond the plaintext, from the last encryption. */
  overheadBytes(): number;
}

/** Seconds of one operation over the whole plaintext: wall clock, and this process's CPU (user + system). */
interface Timing {
  wall: number;
  cpu: number;
}

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

/**
 * A full garbage collection before each timed run, so no run pays for the garbage of the one before. The
 * flag is set at run time because `npm run bench` starts node without --expose-gc.
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function timed<T>(run: () => Promise<T> | T): Promise<Timing & { result: T }> {
  collectGarbage();
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const result = await run();
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpuBefore);
  return { wall, cpu: (used.user + used.system) / 1e6, result };
}

const fastest = (a: Timing, b: Timing): Timing => ({
  wall: Math.min(a.wall, b.wall),
  cpu: Math.min(a.cpu, b.cpu),
});

/** Yields `bytes` in 64 KiB pieces, as a file or socket stream would. */
async function* pieces(bytes: Buffer): AsyncGenerator<Uint8Array> {
  for (let from = 0; from < bytes.byteLength; from += CHUNK) yield bytes.subarray(from, from + CHUNK);
}

async function gather(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const piece of source) out.push(piece);
  return out;
}

/** Raw AES-256-GCM per 64 KiB chunk, a counter nonce, no AAD, no framing: the floor for any chunked format. */
function rawGcm(plaintext: Buffer, key: Buffer): Contender {
  const count = Math.ceil(plaintext.byteLength / CHUNK);
  const nonce = (i: number) => {
    const iv = Buffer.alloc(12);
    iv.writeUInt32BE(i, 8);
    return iv;
  };
  let sealed: { ciphertext: Buffer; tag: Buffer }[] = [];
  return {
    name: 'raw Node AES-256-GCM',
    encrypt() {
      sealed = [];
      for (let i = 0; i < count; i++) {
        const cipher = createCipheriv('aes-256-gcm', key, nonce(i));
        const ciphertext = cipher.update(plaintext.subarray(i * CHUNK, (i + 1) * CHUNK));
        cipher.final();
        sealed.push({ ciphertext, tag: cipher.getAuthTag() });
      }
    },
    decrypt: () =>
      sealed.map(({ ciphertext, tag }, i) => {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce(i));
        decipher.setAuthTag(tag);
        const out = decipher.update(ciphertext);
        decipher.final();
        return out;
      }),
    overheadBytes: () => count * 16,
  };
}

/**
 * The format: one segment holding the whole plaintext, written from 64 KiB pieces, stored as one buffer
 * and read back in 64 KiB pieces, which straddle the 65552-byte chunks as a backend's response does.
 */
function sealgateFormat(plaintext: Buffer, dataKey: Buffer): Contender {
  const plaintextLength = plaintext.byteLength;
  let stored: Buffer = Buffer.alloc(0);
  let encrypted: Uint8Array[] = [];
  return {
    name: 'sealgate format v1',
    async encrypt() {
      encrypted = await gather(
        encryptSegment(pieces(plaintext), dataKey, { partNumber: 0, plaintextLength }),
      );
    },
    store() {
      stored = Buffer.concat(encrypted);
      encrypted = [];
    },
    decrypt() {
      return gather(
        decryptSegment(pieces(stored.subarray(24)), dataKey, {
          partNumber: 0,
          header: stored.subarray(0, 24),
          firstChunk: 0,
          segmentPlaintextLength: plaintextLength,
        }),
      );
    },
    overheadBytes: () => segmentCiphertextLength(plaintextLength) - plaintextLength,
  };
}

/** The AWS Encryption SDK's buffered API with a raw AES keyring and 64 KiB frames, under `suiteId`. */
function encryptionSdk(
  plaintext: Buffer,
  wrappingKey: Buffer,
  suiteId: AlgorithmSuiteIdentifier,
  name: string,
): Contender {
  const client = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyring = new RawAesKeyringNode({
    keyName: 'bench-key',
    keyNamespace: 'sealgate-bench',
    unencryptedMasterKey: wrappingKey,
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  let message: Buffer = Buffer.alloc(0);
  return {
    name,
    async encrypt() {
      message = (await client.encrypt(keyring, plaintext, { frameLength: CHUNK, suiteId })).result;
    },
    async decrypt() {
      const { plaintext: decrypted, messageHeader } = await client.decrypt(keyring, message);
      if (messageHeader.suiteId !== suiteId) throw new Error(`${name}: the message names another suite`);
      return [decrypted];
    },
    overheadBytes: () => message.byteLength - plaintext.byteLength,
  };
}

function benchMib(value: string | undefined): number {
  if (value === undefined || value === '') return 256;
  const mib = Number(value);
  if (!Number.isInteger(mib) || mib <= 0) {
    throw new Error(`FORMAT_BENCH_MIB must be a positive whole number of MiB, got "${value}"`);
  }
  return mib;
}

function assertSame(name: string, decrypted: Uint8Array[], plaintext: Buffer): void {
  if (!Buffer.concat(decrypted).equals(plaintext)) {
    throw new Error(`${name}: the decrypted bytes differ from the plaintext`);
  }
}

/**
 * Runs every implementation on the same random plaintext (FORMAT_BENCH_MIB MiB, default 256) and returns
 * the table: MB/s of plaintext for encrypt and decrypt, per CPU-second and per wall-clock second, each as
 * a multiple of raw AES-256-GCM, and the bytes each adds to the stored object.
 */
export async function runFormatBench(mib = benchMib(process.env.FORMAT_BENCH_MIB)): Promise<FormatBench> {
  const load = loadavg()[0] ?? 0;
  progress(`ciphertext format: ${mib} MiB of random plaintext, ${ROUNDS} rounds`);
  const plaintext = randomBytes(mib * MIB);
  const key = randomBytes(32);
  const contenders = (input: Buffer) => [
    rawGcm(input, key),
    sealgateFormat(input, key),
    encryptionSdk(
      input,
      key,
      AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
      'AWS Encryption SDK, default suite (1)',
    ),
    encryptionSdk(
      input,
      key,
      AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
      'AWS Encryption SDK, unsigned suite (2)',
    ),
  ];

  // A warm-up on 4 MiB, so the timed rounds run compiled code.
  const warm = plaintext.subarray(0, 4 * MIB);
  for (const contender of contenders(warm)) {
    await contender.encrypt();
    contender.store?.();
    assertSame(contender.name, await contender.decrypt(), warm);
  }

  const measured = contenders(plaintext).map((contender) => ({
    contender,
    encrypt: { wall: Infinity, cpu: Infinity },
    decrypt: { wall: Infinity, cpu: Infinity },
  }));
  for (let round = 1; round <= ROUNDS; round++) {
    progress(`round ${round} of ${ROUNDS}`);
    for (const entry of measured) {
      entry.encrypt = fastest(entry.encrypt, await timed(() => entry.contender.encrypt()));
      entry.contender.store?.();
      const decrypted = await timed(() => entry.contender.decrypt());
      entry.decrypt = fastest(entry.decrypt, decrypted);
      assertSame(entry.contender.name, decrypted.result, plaintext);
    }
  }

  const bytes = plaintext.byteLength;
  const [raw, format, sdkSigned, sdkUnsigned] = measured as [
    (typeof measured)[0],
    (typeof measured)[0],
    (typeof measured)[0],
    (typeof measured)[0],
  ];
  const rate = (seconds: number) => (bytes / seconds / 1e6).toFixed(0);
  // How many times the throughput of `than` this one has, by CPU time: above 1 is faster.
  const times = (of: Timing, than: Timing) => (than.cpu / of.cpu).toFixed(2);
  const table = formatTable(
    ['implementation', 'enc MB/s', 'dec MB/s', 'enc ×raw', 'dec ×raw', 'enc wall', 'dec wall', 'overhead B'],
    measured.map((entry) => [
      entry.contender.name,
      rate(entry.encrypt.cpu),
      rate(entry.decrypt.cpu),
      times(entry.encrypt, raw.encrypt),
      times(entry.decrypt, raw.decrypt),
      rate(entry.encrypt.wall),
      rate(entry.decrypt.wall),
      String(entry.contender.overheadBytes()),
    ]),
  );
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const text = [
    `Ciphertext format: ${mib} MiB of plaintext, 64 KiB chunks/frames, one core, best of ${ROUNDS} rounds`,
    table,
    'MB/s: 10^6 plaintext bytes per CPU-second of this process (user+system, so V8 GC threads count ' +
      'against it); wall: per wall-clock second.',
    '(1) ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384, the SDK default: key commitment ' +
      'and an ECDSA P-384 signature over the message.',
    '(2) ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY: key commitment, no signature. Both: ' +
      'RawAesKeyringNode (AES256_GCM_IV12_TAG16_NO_PADDING), frameLength 65536, buffered encrypt/decrypt.',
    `The format: ${times(format.encrypt, raw.encrypt)}× / ${times(format.decrypt, raw.decrypt)}× ` +
      `(encrypt / decrypt) raw GCM, ${times(format.encrypt, sdkSigned.encrypt)}× / ` +
      `${times(format.decrypt, sdkSigned.decrypt)}× the SDK default suite, ` +
      `${times(format.encrypt, sdkUnsigned.encrypt)}× / ${times(format.decrypt, sdkUnsigned.decrypt)}× ` +
      'its unsigned suite.',
    `Machine: ${cpu}, ${cpus().length} cores, Node ${process.version}, 1-minute load ${load.toFixed(2)} at start.`,
  ].join('\n');
  return {
    text,
    encryptVsRaw: raw.encrypt.cpu / format.encrypt.cpu,
    decryptVsRaw: raw.decrypt.cpu / format.decrypt.cpu,
    rawEncryptCpuSecondsPerGiB: (raw.encrypt.cpu / bytes) * 2 ** 30,
  };
}

/** The format bench's table, and the figures the bench's targets are checked against. */
export interface FormatBench {
  text: string;
  /** The format's throughput as a multiple of raw AES-256-GCM's, by CPU time. */
  encryptVsRaw: number;
  decryptVsRaw: number;
  /** CPU-seconds raw AES-256-GCM spends encrypting 1 GiB in 64 KiB chunks. */
  rawEncryptCpuSecondsPerGiB: number;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log((await runFormatBench()).text);
}
