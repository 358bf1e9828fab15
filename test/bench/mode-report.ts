import { BASELINE_MODE } from './encryption-modes.js';
import type { ModeResult, RangeSamples } from './mode-bench.js';
import { BUSY_SHARE_PERCENT, otherWorkSkews, type StageResult } from './report.js';
import { formatTable } from './text-table.js';

const MIB = 2 ** 20;

/** The encryption modes' results side by side, and the memory target they are held to. */
export interface ModeReportInput {
  sizeBytes: number;
  /** Every mode run, `none` first. */
  results: ModeResult[];
  /** An encrypted mode's peak RSS may exceed `none`'s by at most this much. */
  peakRssExcessLimitBytes: number;
  rounds: number;
}

const fixed = (value: number, digits = 1) => value.toFixed(digits);
const mibPerSecond = (stage: StageResult) => stage.bytes / MIB / stage.seconds;
const signed = (value: number, digits = 1) => `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The peak RSS over the mode's PUT and GET: the figure the target is about. */
const peakRss = (result: ModeResult) => result.memory.peakRssAfterGetBytes;

/** Whether an encrypted mode kept its peak RSS within the limit of `none`'s. */
export function modeRssPasses(result: ModeResult, baseline: ModeResult, limitBytes: number): boolean {
  return peakRss(result) - peakRss(baseline) <= limitBytes;
}

/**
 * Renders the modes as `npm run bench` prints them: throughput and memory per mode as fractions of `none`
 * with the RSS verdict, then single-byte range latency per mode, then what was stored.
 */
export function formatModeReport(input: ModeReportInput): string {
  const { results } = input;
  const baseline = results.find((result) => result.mode.name === BASELINE_MODE);
  if (!baseline) throw new Error('the mode report needs the none run as its baseline');
  const limitMiB = fixed(input.peakRssExcessLimitBytes / MIB, 0);
  const verdicts = results
    .filter((result) => result !== baseline)
    .map((result) => ({
      mode: result.mode.name,
      pass: modeRssPasses(result, baseline, input.peakRssExcessLimitBytes),
    }));

  const throughput = formatTable(
    [
      'mode',
      'PUT MiB/s',
      'x none',
      'GET MiB/s',
      'x none',
      'server CPU s PUT',
      'GET',
      'other CPU s',
      'peak RSS MiB',
      'vs none',
      `target <= +${limitMiB} MiB`,
    ],
    results.map((result) => {
      const isBaseline = result === baseline;
      const pass = modeRssPasses(result, baseline, input.peakRssExcessLimitBytes);
      return [
        result.mode.name,
        fixed(mibPerSecond(result.put)),
        fixed(mibPerSecond(result.put) / mibPerSecond(baseline.put), 2),
        fixed(mibPerSecond(result.get)),
        fixed(mibPerSecond(result.get) / mibPerSecond(baseline.get), 2),
        fixed(result.put.serverCpuSeconds ?? NaN, 2),
        fixed(result.get.serverCpuSeconds ?? NaN, 2),
        fixed(result.put.otherCpuSeconds + result.get.otherCpuSeconds, 2),
        fixed(peakRss(result) / MIB),
        isBaseline ? '-' : signed((peakRss(result) - peakRss(baseline)) / MIB),
        isBaseline ? 'baseline' : pass ? 'PASS' : 'FAIL',
      ];
    }),
  );

  const probes = baseline.ranges.map((samples) => samples.probe);
  const cell = (samples: RangeSamples | undefined) =>
    samples
      ? `${fixed(median(samples.ms), 2)} [${fixed(Math.min(...samples.ms), 2)}-${fixed(Math.max(...samples.ms), 2)}]`
      : '-';
  const requests = baseline.ranges[0]?.ms.length ?? 0;
  const latency = formatTable(
    ['mode', ...probes.map((probe) => `${probe.label} (${probe.offset})`), 'median vs none'],
    results.map((result) => {
      const all = result.ranges.flatMap((samples) => samples.ms);
      const base = baseline.ranges.flatMap((samples) => samples.ms);
      return [
        result.mode.name,
        ...probes.map((probe) =>
          cell(result.ranges.find((samples) => samples.probe.offset === probe.offset)),
        ),
        result === baseline ? '-' : `${signed(median(all) - median(base), 2)} ms`,
      ];
    }),
  );

  const stored = formatTable(
    [
      'mode',
      'stored file bytes',
      'over plaintext',
      'data at rest',
      'GET headers after ms',
      'PUT fsync+publish s',
    ],
    results.map((result) => [
      result.mode.name,
      String(result.stored.fileBytes),
      signed(result.stored.fileBytes - input.sizeBytes, 0),
      result.stored.ciphertext ? 'format v1 ciphertext' : 'plaintext',
      fixed(result.get.firstByteSeconds * 1000, 1),
      fixed(result.put.seconds - result.put.bodySentSeconds, 2),
    ]),
  );

  const busy = results.some((result) => otherWorkSkews(result.put) || otherWorkSkews(result.get));
  const failed = verdicts.filter((verdict) => !verdict.pass).map((verdict) => verdict.mode);
  const rounds =
    input.rounds === 1
      ? 'one fresh server per mode'
      : `${input.rounds} rounds, modes in turn, a fresh server each time; MiB/s is each mode's best ` +
        'round, peak RSS its highest';
  return [
    `Encryption modes: ${fixed(input.sizeBytes / MIB, 0)} MiB PutObject and GetObject on the filesystem ` +
      `backend (${rounds}; same client, same source file)`,
    '',
    throughput,
    ...(busy
      ? [
          `WARNING: other processes used more than ${BUSY_SHARE_PERCENT}% of a core during some PUT or GET ` +
            '("other CPU s", both summed): the ratios are skewed; rerun on an idle machine.',
        ]
      : []),
    '',
    `memory target: encrypted PUT and GET keep the server's peak RSS (VmHWM) within ${limitMiB} MiB of ` +
      `none's: ${failed.length === 0 ? 'PASS' : `FAIL (${failed.join(', ')})`}`,
    '',
    `Ranged GET of one byte (Range: bytes=N-N), ms from request to last byte: median [min-max] of ${requests}` +
      (input.rounds === 1 ? '' : ` (pooled over ${input.rounds} rounds)`),
    latency,
    '',
    stored,
    '',
    'notes: "x none" is the mode\'s MiB/s over none\'s. "server CPU s" is the gateway process\'s CPU for',
    '       the PUT and for the GET: the cost of a mode, less sensitive to other load than MiB/s.',
    '       sse-c is SSE-C headers (a random customer key) on a none backend. aws-kms-envelope calls',
    "       moto's KMS on loopback (GenerateDataKey per PUT, Decrypt per GET and per ranged GET), so its",
    "       range latency holds a moto round trip, not AWS KMS's. The stored file is the data, the",
    "       backend's metadata record and its footer.",
    '       sse-kms and sse-s3 are not measured: they need an S3 backend (the config refuses them on the',
    '       filesystem backend), and the only S3 here is moto, whose in-memory Python store is what a 1 GiB',
    "       transfer would time. In those modes the gateway encrypts nothing (S3 does): its work is none's",
    '       on an S3 backend plus the SSE request headers. npm test checks them functionally against moto.',
  ].join('\n');
}
