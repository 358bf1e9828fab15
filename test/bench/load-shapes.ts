/**
 * Two more shapes of load per encryption mode, each mode on a fresh server, modes in turn, best of the
 * rounds:
 * - concurrency: 8 PUTs of one 64 MiB file at once (8 keys), then 8 GETs of them at once, every body checked
 *   by sha256: aggregate MiB/s, server CPU and peak RSS;
 * - small objects: 4 KiB PUTs and GETs, a few in flight, every body checked: requests per second, where the
 *   per-request costs (signing, key wrapping, KMS calls) dominate. KMS is reached through a counting proxy, so
 *   the report says how many KMS calls each phase made: aws-kms-envelope runs as configured by default (a
 *   Decrypt per read) and with its data-key cache turned on (`kms_cache_seconds: 60`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { countingProxy } from '../support/counting-proxy.js';
import type { BenchMode } from './encryption-modes.js';
import { BASELINE_MODE } from './encryption-modes.js';
import type { BenchSource } from './mode-bench.js';
import { withModeServer, type ModeServerOptions } from './mode-server.js';
import { readMemoryStatus } from './proc-stats.js';
import type { StageResult } from './report.js';
import { createBucket, getObjectHashed, putObjectBody, putObjectFromFile } from './s3-client.js';
import { measure, verify } from './stage.js';
import { formatTable } from './text-table.js';

const MIB = 2 ** 20;
const BUCKET = 'bench';
export const CONCURRENT_REQUESTS = 8;
export const CONCURRENT_OBJECT_BYTES = 64 * MIB;
const SMALL_OBJECTS = 400;
const SMALL_OBJECT_BYTES = 4 * 1024;
const SMALL_IN_FLIGHT = 4;

type Proxy = Awaited<ReturnType<typeof countingProxy>>;

export interface LoadShapeOptions extends Omit<ModeServerOptions, 'sockets'> {
  rounds: number;
  progress: (message: string) => void;
}

export interface ConcurrencyResult {
  mode: BenchMode;
  put: StageResult;
  get: StageResult;
  rssAfterStartBytes: number;
  peakRssBytes: number;
}

export interface SmallObjectsResult {
  mode: BenchMode;
  put: StageResult;
  get: StageResult;
  /** KMS calls by operation, in the PUT phase and in the GET phase (modes that reach KMS). */
  kms?: { put: Record<string, number>; get: Record<string, number> };
}

const labelOf = (mode: BenchMode) => mode.label ?? mode.name;
const fastest = <T extends { seconds: number }>(stages: T[]) =>
  stages.reduce((best, stage) => (stage.seconds < best.seconds ? stage : best));

/** Runs `count` tasks, `inFlight` at a time. */
async function pool(count: number, inFlight: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

/** Every mode in turn, `rounds` times, each run on a fresh server; the rounds of each mode, by label. */
async function inTurns<T>(
  modes: BenchMode[],
  options: LoadShapeOptions,
  run: (mode: BenchMode) => Promise<T>,
): Promise<Map<string, T[]>> {
  const rounds = new Map<string, T[]>(modes.map((mode) => [labelOf(mode), []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const mode of modes) rounds.get(labelOf(mode))!.push(await run(mode));
  }
  return rounds;
}

export async function runConcurrencyBench(
  modes: BenchMode[],
  source: BenchSource,
  options: LoadShapeOptions,
): Promise<ConcurrencyResult[]> {
  const keys = Array.from({ length: CONCURRENT_REQUESTS }, (_, i) => `/${BUCKET}/concurrent-${i}`);
  const rounds = await inTurns(modes, options, async (mode) => {
    options.progress(
      `[${labelOf(mode)}] ${CONCURRENT_REQUESTS} PUTs, then GETs, of ${source.size / MIB} MiB at once`,
    );
    return withModeServer(mode, { ...options, sockets: CONCURRENT_REQUESTS }, async ({ gateway, target }) => {
      const rssAfterStartBytes = readMemoryStatus(gateway.pid).rssBytes;
      await createBucket(target, BUCKET);
      const put = await measure(async () => {
        const started = performance.now();
        const transfers = await Promise.all(
          keys.map((key) => putObjectFromFile(target, key, source.path, source.size, mode.objectHeaders)),
        );
        for (const transfer of transfers)
          verify(`${labelOf(mode)} concurrent PUT`, transfer, source.size, source.sha256);
        return { bytes: source.size * keys.length, seconds: (performance.now() - started) / 1000 };
      }, gateway.pid);
      const get = await measure(async () => {
        const started = performance.now();
        const transfers = await Promise.all(
          keys.map((key) => getObjectHashed(target, key, mode.objectHeaders)),
        );
        for (const transfer of transfers)
          verify(`${labelOf(mode)} concurrent GET`, transfer, source.size, source.sha256);
        return { bytes: source.size * keys.length, seconds: (performance.now() - started) / 1000 };
      }, gateway.pid);
      return { mode, put, get, rssAfterStartBytes, peakRssBytes: readMemoryStatus(gateway.pid).peakRssBytes };
    });
  });
  return [...rounds.values()].map((results) => ({
    mode: results[0].mode,
    put: fastest(results.map((r) => r.put)),
    get: fastest(results.map((r) => r.get)),
    rssAfterStartBytes: Math.max(...results.map((r) => r.rssAfterStartBytes)),
    peakRssBytes: Math.max(...results.map((r) => r.peakRssBytes)),
  }));
}

/** The KMS operations the proxy forwarded between two of its counts, by name. */
function kmsCalls(proxy: Proxy, from: number, to: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const request of proxy.seen.slice(from, to)) {
    const operation = String(request.headers['x-amz-target'] ?? '?').replace('TrentService.', '');
    counts[operation] = (counts[operation] ?? 0) + 1;
  }
  return counts;
}

/**
 * `kmsProxy`: the counting proxy the modes' KMS endpoint points at (their `encryption.kms_endpoint`), so each
 * phase's KMS calls can be told.
 */
export async function runSmallObjectsBench(
  modes: BenchMode[],
  options: LoadShapeOptions & { kmsProxy?: Proxy },
): Promise<SmallObjectsResult[]> {
  const bodies = Array.from({ length: SMALL_OBJECTS }, () => randomBytes(SMALL_OBJECT_BYTES));
  const digests = bodies.map((body) => createHash('sha256').update(body).digest('hex'));
  const bytes = SMALL_OBJECTS * SMALL_OBJECT_BYTES;
  const proxy = options.kmsProxy;
  const rounds = await inTurns(modes, options, async (mode) => {
    options.progress(
      `[${labelOf(mode)}] ${SMALL_OBJECTS} PUTs, then GETs, of ${SMALL_OBJECT_BYTES / 1024} KiB, ${SMALL_IN_FLIGHT} at once`,
    );
    const path = (i: number) => `/${BUCKET}/small-${i}`;
    return withModeServer(mode, { ...options, sockets: SMALL_IN_FLIGHT }, async ({ gateway, target }) => {
      await createBucket(target, BUCKET);
      const beforePut = proxy?.seen.length ?? 0;
      const put = await measure(async () => {
        const started = performance.now();
        await pool(SMALL_OBJECTS, SMALL_IN_FLIGHT, (i) =>
          putObjectBody(target, path(i), bodies[i], mode.objectHeaders),
        );
        return { bytes, seconds: (performance.now() - started) / 1000 };
      }, gateway.pid);
      const beforeGet = proxy?.seen.length ?? 0;
      const get = await measure(async () => {
        const started = performance.now();
        await pool(SMALL_OBJECTS, SMALL_IN_FLIGHT, async (i) => {
          const read = await getObjectHashed(target, path(i), mode.objectHeaders);
          verify(`${labelOf(mode)} small GET ${path(i)}`, read, SMALL_OBJECT_BYTES, digests[i]);
        });
        return { bytes, seconds: (performance.now() - started) / 1000 };
      }, gateway.pid);
      const kms =
        proxy && mode.name === 'aws-kms-envelope'
          ? {
              put: kmsCalls(proxy, beforePut, beforeGet),
              get: kmsCalls(proxy, beforeGet, proxy.seen.length),
            }
          : undefined;
      return { mode, put, get, kms };
    });
  });
  return [...rounds.values()].map((results) => ({
    mode: results[0].mode,
    put: fastest(results.map((r) => r.put)),
    get: fastest(results.map((r) => r.get)),
    kms: results[0].kms,
  }));
}

const mibps = (stage: { bytes: number; seconds: number }) => stage.bytes / MIB / stage.seconds;
const cpu = (stage: StageResult) =>
  stage.serverCpuSeconds === undefined ? '-' : stage.serverCpuSeconds.toFixed(2);

/** Cores' worth of CPU all processes used over the stage. */
const coresBusy = (stage: StageResult) =>
  ((stage.clientCpuSeconds + (stage.serverCpuSeconds ?? 0) + stage.otherCpuSeconds) / stage.seconds).toFixed(
    2,
  );

function baselineOf<T extends { mode: BenchMode }>(results: T[]): T | undefined {
  return results.find((result) => result.mode.name === BASELINE_MODE && result.mode.label === undefined);
}

export function formatConcurrencyReport(results: ConcurrencyResult[], rounds: number): string {
  const none = baselineOf(results);
  const times = (value: number, base: number | undefined) => (base ? (value / base).toFixed(2) : '-');
  const rows = results.map((r) => [
    `\`${labelOf(r.mode)}\``,
    mibps(r.put).toFixed(1),
    times(mibps(r.put), none && mibps(none.put)),
    mibps(r.get).toFixed(1),
    times(mibps(r.get), none && mibps(none.get)),
    `${cpu(r.put)} / ${cpu(r.get)}`,
    `${coresBusy(r.put)} / ${coresBusy(r.get)}`,
    none && r !== none
      ? `${(r.peakRssBytes / MIB).toFixed(1)} (${r.peakRssBytes >= none.peakRssBytes ? '+' : ''}${((r.peakRssBytes - none.peakRssBytes) / MIB).toFixed(1)})`
      : (r.peakRssBytes / MIB).toFixed(1),
  ]);
  return [
    `Concurrency: ${CONCURRENT_REQUESTS} PUTs of ${CONCURRENT_OBJECT_BYTES / MIB} MiB at once, then ${CONCURRENT_REQUESTS} GETs ` +
      `of them at once (aggregate), best of ${rounds} round${rounds === 1 ? '' : 's'}, every body checked`,
    '',
    formatTable(
      [
        'mode',
        'PUT MiB/s',
        '× none',
        'GET MiB/s',
        '× none',
        'server CPU s PUT / GET',
        'cores busy PUT / GET',
        'peak RSS MiB (vs none)',
      ],
      rows,
    ),
    '',
    'notes: "cores busy" is the CPU every process on the machine used (server, client, the rest) over',
    `       the stage's wall time, of ${cpus().length} cores: near ${cpus().length}, no core is left idle for a worker thread`,
    '       of the server to use.',
  ].join('\n');
}

function kmsText(calls: Record<string, number> | undefined): string {
  if (!calls) return '-';
  const entries = Object.entries(calls).filter(([, count]) => count > 0);
  return entries.length === 0
    ? 'none'
    : entries.map(([operation, count]) => `${count} ${operation}`).join(', ');
}

export function formatSmallObjectsReport(results: SmallObjectsResult[], rounds: number): string {
  const none = baselineOf(results);
  const perSecond = (stage: StageResult) => SMALL_OBJECTS / stage.seconds;
  const msPerRequest = (stage: StageResult) =>
    stage.serverCpuSeconds === undefined ? '-' : ((stage.serverCpuSeconds / SMALL_OBJECTS) * 1000).toFixed(2);
  const times = (value: number, base: number | undefined) => (base ? (value / base).toFixed(2) : '-');
  const rows = results.map((r) => [
    `\`${labelOf(r.mode)}\``,
    perSecond(r.put).toFixed(0),
    times(perSecond(r.put), none && perSecond(none.put)),
    perSecond(r.get).toFixed(0),
    times(perSecond(r.get), none && perSecond(none.get)),
    `${msPerRequest(r.put)} / ${msPerRequest(r.get)}`,
    `${kmsText(r.kms?.put)} / ${kmsText(r.kms?.get)}`,
  ]);
  return [
    `Small objects: ${SMALL_OBJECTS} PUTs of ${SMALL_OBJECT_BYTES / 1024} KiB, then GETs of them, ${SMALL_IN_FLIGHT} at once, ` +
      `best of ${rounds} round${rounds === 1 ? '' : 's'}, every body checked`,
    '',
    formatTable(
      [
        'mode',
        'PUT req/s',
        '× none',
        'GET req/s',
        '× none',
        'server CPU ms per PUT / GET',
        'KMS calls PUT / GET',
      ],
      rows,
    ),
    '',
    'notes: KMS calls are counted by a proxy between the server and moto\'s KMS (one round). "cache 60 s" is',
    '       kms_cache_seconds: 60; by default (no cache) every read is a KMS Decrypt, with it the data key',
    '       a PUT made opens the object again without one.',
  ].join('\n');
}
