/**
 * Throughput of the ciphertext format (docs/FORMAT.md) on one core, beside raw Node AES-256-GCM over the
 * same 64 KiB chunks and the AWS Encryption SDK for JavaScript with 64 KiB frames, on the same plaintext
 * in the same run. `runFormatBench()` returns the printable table; `npx tsx test/bench/crypto-format.ts`
 * prints it. FORMAT_BENCH_MIB sets the plaintext size (default 256).
 *
 * Every implementation runs in this one thread (Node's crypto calls are synchronous), so the numbers are
 * single-core. The contenders take turns, round after round, so none is favoured by running first on
 * fresh memory or last on a warmed-up heap; each keeps its best round, since other work on the machine
 * only ever slows a round down. A timed decryption hands each plaintext piece on and drops it, as the
 * gateway streams it to a client (keeping 256 MiB of pieces would time the garbage collector instead);
 * after each, an untimed one keeps the pieces and is checked against the plaintext.
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
  /**
   * Decrypts, handing each plaintext piece to `sink` as it is released, as a server streams it to its
   * client: the timed rounds count the pieces and drop them, a check afterwards keeps and compares them.
   */
  decrypt(sink: (piece: Uint8Array) => void): Promise<void> | void;
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
 * A full garbage collection before each timed run, so no run pays for the garbage of the one before, and a
 * pause after it, so V8's background sweeping of that garbage is not counted in the run's CPU either. The
 * flag is set at run time because `npm run bench` starts node without --expose-gc.
 */
async function collectGarbage(): Promise<void> {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  await new Promise((resolve) => setTimeout(resolve, GC_SETTLE_MS));
}

const GC_SETTLE_MS = 250;

/** The middle value (the mean of the two middle ones for an even count). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function timed<T>(run: () => Promise<T> | T): Promise<Timing & { result: T }> {
  await collectGarbage();
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

/** Yields `bytes` in pieces of `size` (64 KiB unless said), as a file or socket stream would. */
async function* pieces(bytes: Buffer, size = CHUNK): AsyncGenerator<Uint8Array> {
  for (let from = 0; from < bytes.byteLength; from += size) yield bytes.subarray(from, from + size);
}

/** The filesystem backend's read size (READ_PIECE_BYTES): a stored chunk lies in one piece 3 times in 4. */
const FILE_PIECE = 256 * 1024;

async function gather(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const piece of source) out.push(piece);
  return out;
}

/** A sink that keeps what it is handed, for the check of a decryption. */
function collector(): { sink: (piece: Uint8Array) => void; pieces: Uint8Array[] } {
  const kept: Uint8Array[] = [];
  return { sink: (piece) => kept.push(piece), pieces: kept };
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
    decrypt(sink) {
      sealed.forEach(({ ciphertext, tag }, i) => {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce(i));
        decipher.setAuthTag(tag);
        const out = decipher.update(ciphertext);
        decipher.final();
        sink(out);
      });
    },
    overheadBytes: () => count * 16,
  };
}

/**
 * The format: one segment holding the whole plaintext, written from 64 KiB pieces, stored as one buffer
 * and read back in pieces of `readPiece`: 64 KiB ones straddle nearly every 65552-byte chunk, as an S3
 * response's socket reads do, so the decryptor gathers each chunk once; the filesystem backend reads 256 KiB.
 */
function sealgateFormat(
  plaintext: Buffer,
  dataKey: Buffer,
  readPiece = CHUNK,
  name = 'sealgate format v1',
): Contender {
  const plaintextLength = plaintext.byteLength;
  let stored: Buffer = Buffer.alloc(0);
  let encrypted: Uint8Array[] = [];
  return {
    name,
    async encrypt() {
      encrypted = await gather(
        encryptSegment(pieces(plaintext), dataKey, { partNumber: 0, plaintextLength }),
      );
    },
    store() {
      stored = Buffer.concat(encrypted);
      encrypted = [];
    },
    async decrypt(sink) {
      const decrypted = decryptSegment(pieces(stored.subarray(24), readPiece), dataKey, {
        partNumber: 0,
        header: stored.subarray(0, 24),
        firstChunk: 0,
        segmentPlaintextLength: plaintextLength,
      });
      for await (const piece of decrypted) sink(piece);
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
    async decrypt(sink) {
      // The buffered API holds the whole plaintext before it returns: that is its cost, and it counts.
      const { plaintext: decrypted, messageHeader } = await client.decrypt(keyring, message);
      if (messageHeader.suiteId !== suiteId) throw new Error(`${name}: the message names another suite`);
      sink(decrypted);
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

/** Decrypts once more, untimed, keeping the pieces, and fails unless they are the plaintext. */
async function assertDecrypts(contender: Contender, plaintext: Buffer): Promise<void> {
  const kept = collector();
  await contender.decrypt(kept.sink);
  if (!Buffer.concat(kept.pieces).equals(plaintext)) {
    throw new Error(`${contender.name}: the decrypted bytes differ from the plaintext`);
  }
}

/** A timed decryption's sink: counts the bytes and drops the pieces, as a server's socket write does. */
async function decryptCounted(contender: Contender): Promise<number> {
  let bytes = 0;
  await contender.decrypt((piece) => (bytes += piece.byteLength));
  return bytes;
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
    sealgateFormat(input, key, FILE_PIECE, 'sealgate format v1, read in 256 KiB (3)'),
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
    await decryptCounted(contender);
    await assertDecrypts(contender, warm);
  }

  const measured = contenders(plaintext).map((contender) => ({
    contender,
    encrypt: { wall: Infinity, cpu: Infinity },
    decrypt: { wall: Infinity, cpu: Infinity },
    /** Each round's CPU seconds, for ratios paired by round. */
    rounds: [] as { encrypt: number; decrypt: number }[],
  }));
  for (let round = 1; round <= ROUNDS; round++) {
    progress(`round ${round} of ${ROUNDS}`);
    for (const entry of measured) {
      const encrypted = await timed(() => entry.contender.encrypt());
      entry.encrypt = fastest(entry.encrypt, encrypted);
      entry.contender.store?.();
      // An untimed pass first: the first over a just-stored ciphertext cost up to a third more CPU here, and
      // a server reads objects stored earlier. The check, which keeps every piece, comes after the timed
      // pass: the garbage it leaves would be swept during the next timed run.
      await decryptCounted(entry.contender);
      const decrypted = await timed(() => decryptCounted(entry.contender));
      if (decrypted.result !== plaintext.byteLength) {
        throw new Error(
          `${entry.contender.name}: decrypted ${decrypted.result} of ${plaintext.byteLength} bytes`,
        );
      }
      entry.decrypt = fastest(entry.decrypt, decrypted);
      entry.rounds.push({ encrypt: encrypted.cpu, decrypt: decrypted.cpu });
      await assertDecrypts(entry.contender, plaintext);
    }
  }

  const bytes = plaintext.byteLength;
  type Entry = (typeof measured)[0];
  const [raw, format, formatFilePieces, sdkSigned, sdkUnsigned] = measured as [
    Entry,
    Entry,
    Entry,
    Entry,
    Entry,
  ];
  const rate = (seconds: number) => (bytes / seconds / 1e6).toFixed(0);
  // How many times the throughput of `than` this one has, by CPU time, as the median of the rounds' ratios:
  // each round runs the contenders back to back, so a round slowed by other load slows both sides of its
  // ratio, which best-of figures taken from different rounds would not cancel.
  const paired = (of: Entry, than: Entry, op: 'encrypt' | 'decrypt') =>
    median(of.rounds.map((round, i) => than.rounds[i][op] / round[op]));
  const times = (of: Entry, than: Entry, op: 'encrypt' | 'decrypt') => paired(of, than, op).toFixed(2);
  const table = formatTable(
    ['implementation', 'enc MB/s', 'dec MB/s', 'enc ×raw', 'dec ×raw', 'enc wall', 'dec wall', 'overhead B'],
    measured.map((entry) => [
      entry.contender.name,
      rate(entry.encrypt.cpu),
      rate(entry.decrypt.cpu),
      times(entry, raw, 'encrypt'),
      times(entry, raw, 'decrypt'),
      rate(entry.encrypt.wall),
      rate(entry.decrypt.wall),
      String(entry.contender.overheadBytes()),
    ]),
  );
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const text = [
    `Ciphertext format: ${mib} MiB of plaintext, 64 KiB chunks/frames, one core, ${ROUNDS} rounds`,
    table,
    'MB/s: 10^6 plaintext bytes per CPU-second of this process (user+system, so V8 GC threads count ' +
      'against it), best round; wall: per wall-clock second, best round; ×raw: the median over the rounds ' +
      "of each round's ratio to raw GCM's CPU time (the contenders run back to back in every round).",
    '(1) ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384, the SDK default: key commitment ' +
      'and an ECDSA P-384 signature over the message.',
    '(2) ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY: key commitment, no signature. Both: ' +
      'RawAesKeyringNode (AES256_GCM_IV12_TAG16_NO_PADDING), frameLength 65536, buffered encrypt/decrypt.',
    "(3) The same format, its ciphertext read back in 256 KiB pieces (the filesystem backend's reads) instead " +
      "of 64 KiB ones (an S3 response's), so fewer chunks span two pieces and need gathering.",
    `The format: ${times(format, raw, 'encrypt')}× / ${times(format, raw, 'decrypt')}× ` +
      `(encrypt / decrypt) raw GCM, ${times(format, sdkSigned, 'encrypt')}× / ` +
      `${times(format, sdkSigned, 'decrypt')}× the SDK default suite, ` +
      `${times(format, sdkUnsigned, 'encrypt')}× / ${times(format, sdkUnsigned, 'decrypt')}× ` +
      'its unsigned suite.',
    `Machine: ${cpu}, ${cpus().length} cores, Node ${process.version}, 1-minute load ${load.toFixed(2)} at start.`,
  ].join('\n');
  return {
    text,
    encryptVsRaw: paired(format, raw, 'encrypt'),
    decryptVsRaw: paired(format, raw, 'decrypt'),
    decryptFilePiecesVsRaw: paired(formatFilePieces, raw, 'decrypt'),
    rawEncryptCpuSecondsPerGiB: (raw.encrypt.cpu / bytes) * 2 ** 30,
  };
}

/** The format bench's table, and the figures the bench's targets are checked against. */
export interface FormatBench {
  text: string;
  /** The format's throughput as a multiple of raw AES-256-GCM's, by CPU time. */
  encryptVsRaw: number;
  decryptVsRaw: number;
  /** The same, with the ciphertext read in the filesystem backend's 256 KiB pieces. */
  decryptFilePiecesVsRaw: number;
  /** CPU-seconds raw AES-256-GCM spends encrypting 1 GiB in 64 KiB chunks. */
  rawEncryptCpuSecondsPerGiB: number;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log((await runFormatBench()).text);
}
