import type { MachineFacts } from './machine-facts.js';
import { formatTable } from './text-table.js';

/** One timed stage and the CPU each side spent on it. */
export interface StageResult {
  bytes: number;
  seconds: number;
  /** CPU seconds of the bench process (the client, or the whole copy for the plain baselines). */
  clientCpuSeconds: number;
  /** CPU seconds of the gateway process; absent for the plain copies. */
  serverCpuSeconds?: number;
  /** CPU seconds every other process on the machine used during the stage (noise, if not near 0). */
  otherCpuSeconds: number;
}

/** Everything one bench run measured. */
export interface BenchResult {
  facts: MachineFacts;
  sizeBytes: number;
  /** The same file copied without the gateway, each way with and without a final fdatasync. */
  plain: {
    stream: StageResult;
    streamDatasync: StageResult;
    copyFile: StageResult;
    copyFileDatasync: StageResult;
  };
  put: StageResult & { bodySentSeconds: number };
  get: StageResult & { firstByteSeconds: number };
  memory: {
    rssAfterStartBytes: number;
    peakRssAfterPutBytes: number;
    peakRssAfterGetBytes: number;
  };
  peakRssLimitBytes: number;
  /** The sha256 the source file, the uploaded bytes and the downloaded bytes all had. */
  sha256: string;
  /** Gateway rounds the PUT and GET are the best of (peak RSS: the highest); 1 when absent. */
  rounds?: number;
}

const MIB = 2 ** 20;
/** Other processes using more than this share of one core during a stage make its numbers unreliable... */
const BUSY_SHARE = 0.1;
/** ...once above the counters' rounding (10 ms ticks, three counters). */
const BUSY_FLOOR_SECONDS = 0.05;
/** The share, for messages. */
export const BUSY_SHARE_PERCENT = BUSY_SHARE * 100;

/** Whether other processes used enough CPU during a stage to skew its figures. */
export const otherWorkSkews = (stage: StageResult) =>
  stage.otherCpuSeconds > Math.max(BUSY_SHARE * stage.seconds, BUSY_FLOOR_SECONDS);

const mibPerSecond = (stage: StageResult) => stage.bytes / MIB / stage.seconds;
const fixed = (value: number, digits = 1) => value.toFixed(digits);
const ratio = (stage: StageResult, baseline: StageResult) =>
  `${fixed(mibPerSecond(stage) / mibPerSecond(baseline), 2)}x`;

/** Whether the server's peak RSS stayed under the limit. */
export function peakRssPasses(result: BenchResult): boolean {
  return result.memory.peakRssAfterGetBytes < result.peakRssLimitBytes;
}

/**
 * Renders a run as the text `npm run bench` prints: machine facts, throughput table, memory table. The PUT
 * is compared with the copies that end in fdatasync (the filesystem backend syncs every object it stores);
 * the GET, which writes nothing, with the page-cache copies.
 */
export function formatReport(result: BenchResult): string {
  const { facts, memory, plain } = result;
  const row = (name: string, stage: StageResult, baselines?: [StageResult, StageResult]) => [
    name,
    fixed(mibPerSecond(stage)),
    fixed(stage.seconds, 2),
    fixed(stage.clientCpuSeconds, 2),
    stage.serverCpuSeconds === undefined ? '-' : fixed(stage.serverCpuSeconds, 2),
    fixed(stage.otherCpuSeconds, 2),
    baselines ? ratio(stage, baselines[0]) : '-',
    baselines ? ratio(stage, baselines[1]) : '-',
  ];
  const throughput = formatTable(
    [
      'stage',
      'MiB/s',
      'seconds',
      'bench CPU s',
      'server CPU s',
      'other CPU s',
      'vs stream copy',
      'vs copyFile',
    ],
    [
      row('plain copy: stream pipeline', plain.stream),
      row('plain copy: stream pipeline + fdatasync', plain.streamDatasync),
      row('plain copy: fs.copyFile', plain.copyFile),
      row('plain copy: fs.copyFile + fdatasync', plain.copyFileDatasync),
      row('gateway PutObject (vs + fdatasync copies)', result.put, [
        plain.streamDatasync,
        plain.copyFileDatasync,
      ]),
      row('gateway GetObject, sha256 checked', result.get, [plain.stream, plain.copyFile]),
    ],
  );
  const stages = [
    plain.stream,
    plain.streamDatasync,
    plain.copyFile,
    plain.copyFileDatasync,
    result.put,
    result.get,
  ];
  const busy = stages.some(otherWorkSkews);
  const limitMiB = fixed(result.peakRssLimitBytes / MIB, 0);
  const verdict = peakRssPasses(result) ? 'PASS' : 'FAIL';
  const memoryTable = formatTable(
    ['server memory', 'MiB', ''],
    [
      ['RSS after start (VmRSS)', fixed(memory.rssAfterStartBytes / MIB), ''],
      ['peak RSS after PUT (VmHWM)', fixed(memory.peakRssAfterPutBytes / MIB), ''],
      [
        'peak RSS after GET (VmHWM)',
        fixed(memory.peakRssAfterGetBytes / MIB),
        `target < ${limitMiB} MiB: ${verdict}`,
      ],
    ],
  );
  return [
    `Sealgate bench: ${fixed(result.sizeBytes / MIB, 0)} MiB through the local server (filesystem backend, ` +
      `encryption none${(result.rounds ?? 1) > 1 ? `, best of ${result.rounds} rounds` : ''})`,
    `node ${facts.node} | ${facts.cpuCount} CPUs (${facts.cpuModel}) | ${facts.memoryGiB} GiB RAM | ${facts.os}`,
    `temp folder on ${facts.filesystem} | load average ${fixed(facts.loadAverage, 2)} at start | ${facts.date}`,
    '',
    throughput,
    ...(busy
      ? [
          `WARNING: other processes used more than ${BUSY_SHARE_PERCENT}% of a core during some stage ` +
            '("other CPU s"): these numbers are skewed; rerun on an idle machine.',
        ]
      : []),
    '',
    memoryTable,
    '',
    `PutObject: body sent after ${fixed(result.put.bodySentSeconds, 2)} s, answered ` +
      `${fixed(result.put.seconds - result.put.bodySentSeconds, 2)} s later (the backend's fdatasync and rename)`,
    `GetObject: response headers after ${fixed(result.get.firstByteSeconds * 1000, 1)} ms`,
    `integrity: source, sent and received bytes all have sha256 ${result.sha256}`,
    'notes: ratios are gateway MiB/s over plain-copy MiB/s. PutObject is set beside the copies that end in',
    '       fdatasync because the filesystem backend syncs each object before publishing it; GetObject writes',
    '       nothing and reads from the page cache, so it is set beside the page-cache copies. The client is one',
    '       loopback connection, UNSIGNED-PAYLOAD, 64 KiB writes, sha256 of every byte (its CPU: "bench CPU s").',
  ].join('\n');
}
