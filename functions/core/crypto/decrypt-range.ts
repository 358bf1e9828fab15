import type { ByteRange } from '../backend.js';
import { assertKeyLength } from './chunk-cipher.js';
import { decryptSegment } from './decrypt-segment.js';
import { ExactReader } from './exact-reader.js';
import { FormatError } from './format-error.js';
import { deriveLayoutKey, verifyLayoutTag } from './layout-tag.js';
import { planRange, type SegmentReadPlan } from './range-plan.js';
import { SEGMENT_HEADER_LENGTH } from './segment-layout.js';

export interface DecryptRangeOptions {
  dataKey: Uint8Array;
  segmentPlaintextLengths: readonly number[];
  partNumbers: readonly number[];
  /** Inclusive plaintext bytes, already resolved from the request's Range header. */
  range: ByteRange;
  /**
   * The object's layout tag (see `layoutTag`); when given, the layout is checked against it before anything
   * is fetched. Multipart objects need it: it is what catches a dropped or added part.
   */
  layoutTag?: Uint8Array;
  /** Streams an inclusive byte range of the stored ciphertext, e.g. a ranged GET on the backend. */
  fetch: (range: ByteRange) => AsyncIterable<Uint8Array>;
}

/**
 * Serves a plaintext range of an encrypted object: plans it with {@link planRange}, fetches at most two
 * ciphertext ranges (the first segment's header when the range starts past that segment's first chunk,
 * then one run from there to the last needed chunk, which holds every later header it crosses), decrypts
 * and trims. Every byte released comes from a chunk whose tag verified.
 *
 * @throws FormatError (synchronously) `layout-auth-failed` for a layout that does not match `layoutTag`,
 *   and as {@link planRange} does; (while iterating) as {@link decryptSegment} does, and `truncated` /
 *   `trailing-bytes` when a fetch returns fewer or more bytes than asked for.
 */
export function decryptRange(options: DecryptRangeOptions): AsyncIterable<Uint8Array> {
  assertKeyLength(options.dataKey, 'a data key');
  if (options.layoutTag !== undefined) {
    const layoutKey = deriveLayoutKey(options.dataKey);
    try {
      verifyLayoutTag(layoutKey, options.segmentPlaintextLengths, options.partNumbers, options.layoutTag);
    } finally {
      layoutKey.fill(0);
    }
  }
  const plans = planRange(options.segmentPlaintextLengths, options.partNumbers, options.range);
  return generate(options, Buffer.from(options.dataKey), plans);
}

async function* generate(
  options: DecryptRangeOptions,
  dataKey: Buffer,
  plans: SegmentReadPlan[],
): AsyncGenerator<Uint8Array, void, undefined> {
  const first = plans[0];
  const last = plans[plans.length - 1];
  const separateHeader = first.firstChunk > 0;
  let reader: ExactReader | undefined;
  try {
    const firstHeader = separateHeader ? await fetchExactly(options.fetch, first.header) : undefined;
    const runStart = separateHeader ? first.chunks.start : first.header.start;
    reader = new ExactReader(options.fetch({ start: runStart, end: last.chunks.end }));
    let position = runStart;
    for (const plan of plans) {
      if (plan !== first) await skipBetween(reader, plan.header.start - position);
      const header =
        plan === first && firstHeader !== undefined ? firstHeader : await readHeader(reader, plan);
      const plaintext = decryptSegment(reader.stream(plan.chunks.end - plan.chunks.start + 1), dataKey, {
        partNumber: plan.partNumber,
        header,
        firstChunk: plan.firstChunk,
        chunkCount: plan.chunkCount,
        segmentPlaintextLength: plan.segmentPlaintextLength,
      });
      yield* trim(plaintext, plan.skip, plan.keep);
      position = plan.chunks.end + 1;
    }
    if (!(await reader.atEnd())) {
      throw new FormatError('trailing-bytes', 'the backend returned more bytes than the range asked for');
    }
  } finally {
    dataKey.fill(0);
    await reader?.close();
  }
}

/**
 * Passes over the stored bytes between two planned segments: the zero-length segments the range crosses
 * (a header and an empty chunk's tag each), which hold no plaintext to serve.
 */
async function skipBetween(reader: ExactReader, gap: number): Promise<void> {
  if (gap > 0 && (await reader.read(gap)).byteLength < gap) {
    throw new FormatError('truncated', 'the ciphertext ends inside an empty part');
  }
}

async function readHeader(reader: ExactReader, plan: SegmentReadPlan): Promise<Uint8Array> {
  const header = await reader.read(SEGMENT_HEADER_LENGTH);
  if (header.byteLength < SEGMENT_HEADER_LENGTH) {
    throw new FormatError('truncated', `the ciphertext ends inside the header of part ${plan.partNumber}`);
  }
  return header.slice(); // the reader reuses its buffers
}

async function fetchExactly(fetch: DecryptRangeOptions['fetch'], range: ByteRange): Promise<Uint8Array> {
  const size = range.end - range.start + 1;
  const reader = new ExactReader(fetch(range));
  try {
    const bytes = (await reader.read(size)).slice();
    if (bytes.byteLength < size) throw new FormatError('truncated', `a fetch of ${size} bytes ended early`);
    if (!(await reader.atEnd()))
      throw new FormatError('trailing-bytes', `a fetch of ${size} bytes returned more`);
    return bytes;
  } finally {
    await reader.close();
  }
}

/**
 * Drops `skip` bytes and passes `keep` bytes. The run ends inside the chunk that holds the last kept byte,
 * so reading the source to its end costs nothing more and lets it finish its own checks.
 */
async function* trim(
  source: AsyncIterable<Uint8Array>,
  skip: number,
  keep: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  let toSkip = skip;
  let toKeep = keep;
  for await (const piece of source) {
    const from = Math.min(toSkip, piece.byteLength);
    toSkip -= from;
    const kept = piece.subarray(from, from + toKeep);
    toKeep -= kept.byteLength;
    if (kept.byteLength > 0) yield kept;
  }
}
