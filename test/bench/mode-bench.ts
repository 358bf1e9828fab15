/**
 * One encryption mode's turn: a fresh `sealgate serve` whose only backend is a filesystem backend in that
 * mode, one PutObject and one GetObject of the whole source file (sha256 checked), the server's peak RSS
 * after each, single-byte ranged GETs at the start, middle and end of the object, and a look at the stored
 * file to confirm the bytes at rest are (or, for `none`, are not) the format's ciphertext.
 */
import { open, stat } from 'node:fs/promises';
import { objectPath } from '../../functions/adapters/filesystem/key-paths.js';
import type { BenchMode } from './encryption-modes.js';
import type { GatewayProcess } from './gateway-process.js';
import { withModeServer } from './mode-server.js';
import { readMemoryStatus } from './proc-stats.js';
import type { StageResult } from './report.js';
import { createBucket, getByte, getObjectHashed, putObjectFromFile } from './s3-client.js';
import type { SigningCredentials } from './sigv4-signer.js';
import { measure, verify } from './stage.js';

const BUCKET = 'bench';
const KEY = 'object.bin';
const OBJECT_PATH = `/${BUCKET}/${KEY}`;
/** The format's segment magic and version (docs/FORMAT.md §3): what an encrypted object's data starts with. */
const SEGMENT_MAGIC = Buffer.from('SGE\x01', 'latin1');

/** The source file the bench sends, and what the gateway must hand back. */
export interface BenchSource {
  path: string;
  size: number;
  sha256: string;
}

/** One place in the object that ranged GETs ask for, with the byte the source has there. */
export interface RangeProbe {
  label: string;
  offset: number;
  byte: number;
}

/** Milliseconds of each single-byte ranged GET at one probe, in the order they ran. */
export interface RangeSamples {
  probe: RangeProbe;
  ms: number[];
}

export interface ModeResult {
  mode: BenchMode;
  put: StageResult & { bodySentSeconds: number };
  get: StageResult & { firstByteSeconds: number };
  memory: { rssAfterStartBytes: number; peakRssAfterPutBytes: number; peakRssAfterGetBytes: number };
  ranges: RangeSamples[];
  /** The stored file: its size (data, metadata record and footer) and whether its data is ciphertext. */
  stored: { fileBytes: number; ciphertext: boolean };
}

export interface ModeBenchOptions {
  repoRoot: string;
  /** A folder of this run's: the mode's config file and data go in a subfolder, removed at the end. */
  workDir: string;
  source: BenchSource;
  probes: RangeProbe[];
  /** Ranged GETs per probe. */
  rangeRequests: number;
  credentials: SigningCredentials;
  /** Told of the server once it runs and (undefined) once it is stopped, so an interrupt can stop it. */
  track: (gateway: GatewayProcess | undefined) => void;
  progress: (message: string) => void;
}

/** The first bytes of a file. */
async function head(path: string, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Runs one mode on its own server and removes its data afterwards. */
export async function runModeBench(mode: BenchMode, options: ModeBenchOptions): Promise<ModeResult> {
  const { source, progress } = options;
  progress(`[${mode.name}] starting sealgate serve`);
  return withModeServer(mode, options, async ({ gateway, dataDir, target }) => {
    const rssAfterStartBytes = readMemoryStatus(gateway.pid).rssBytes;
    await createBucket(target, BUCKET);

    progress(`[${mode.name}] PutObject ${OBJECT_PATH}`);
    const put = await measure(
      () => putObjectFromFile(target, OBJECT_PATH, source.path, source.size, mode.objectHeaders),
      gateway.pid,
    );
    verify(`${mode.name} PutObject (bytes sent)`, put, source.size, source.sha256);
    const peakRssAfterPutBytes = readMemoryStatus(gateway.pid).peakRssBytes;

    progress(`[${mode.name}] GetObject ${OBJECT_PATH}`);
    const get = await measure(() => getObjectHashed(target, OBJECT_PATH, mode.objectHeaders), gateway.pid);
    verify(`${mode.name} GetObject (bytes received)`, get, source.size, source.sha256);
    const peakRssAfterGetBytes = readMemoryStatus(gateway.pid).peakRssBytes;

    progress(
      `[${mode.name}] ${options.rangeRequests} single-byte ranged GETs at each of ${options.probes.length} places`,
    );
    const ranges: RangeSamples[] = options.probes.map((probe) => ({ probe, ms: [] }));
    // Round-robin over the probes, so a burst of other load on the machine hits all of them alike.
    for (let i = 0; i < options.rangeRequests; i++) {
      for (const samples of ranges) {
        const read = await getByte(target, OBJECT_PATH, samples.probe.offset, mode.objectHeaders);
        if (read.byte !== samples.probe.byte) {
          throw new Error(
            `INTEGRITY FAILURE in ${mode.name} ranged GET at ${samples.probe.offset}: ` +
              `byte ${read.byte}, the source has ${samples.probe.byte}`,
          );
        }
        samples.ms.push(read.ms);
      }
    }

    const storedFile = objectPath(dataDir, BUCKET, KEY);
    const storedHead = await head(storedFile, SEGMENT_MAGIC.length);
    const ciphertext = storedHead.equals(SEGMENT_MAGIC);
    if (ciphertext !== mode.encrypts) {
      throw new Error(
        `${mode.name}: the stored file ${storedFile} ${ciphertext ? 'holds' : 'does not hold'} ` +
          `format ciphertext (starts ${storedHead.toString('hex')})`,
      );
    }
    const stored = { fileBytes: (await stat(storedFile)).size, ciphertext };

    return {
      mode,
      put,
      get,
      memory: { rssAfterStartBytes, peakRssAfterPutBytes, peakRssAfterGetBytes },
      ranges,
      stored,
    };
  });
}
