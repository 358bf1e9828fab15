/**
 * The bench's performance targets, each beside what this run measured: encryption next to `none` (PUT and
 * GET throughput, the server CPU a proxy PUT adds beside raw AES-256-GCM's cost for the same bytes), the
 * ciphertext format beside raw AES-GCM, and the Lambda edge's cold import. A figure whose mode or stage did
 * not run (BENCH_MODES) says so. Targets are reported, not enforced: the machines are shared and noisy.
 */
import type { FormatBench } from './crypto-format.js';
import type { ModeName } from './encryption-modes.js';
import type { ModeResult } from './mode-bench.js';
import { formatTable } from './text-table.js';

const GIB = 2 ** 30;

export interface TargetInputs {
  modes: ModeResult[];
  format: FormatBench;
  coldStartImportMs: number;
}

interface Target {
  figure: string;
  /** The measured value, undefined when it was not measured in this run. */
  value: number | undefined;
  unit: string;
  target: string;
  met: (value: number) => boolean;
}

export function formatTargets(inputs: TargetInputs): string {
  const byMode = new Map<ModeName, ModeResult>(inputs.modes.map((result) => [result.mode.name, result]));
  const none = byMode.get('none');
  const mibps = (stage: { bytes: number; seconds: number }) => stage.bytes / stage.seconds;
  const ratio = (mode: ModeName, op: 'put' | 'get') => {
    const result = byMode.get(mode);
    return result && none ? mibps(result[op]) / mibps(none[op]) : undefined;
  };
  const rawCpu = inputs.format.rawEncryptCpuSecondsPerGiB;
  const proxy = byMode.get('aes256-gcm-proxy');
  const addedPutCpuPerGiB =
    proxy && none && proxy.put.serverCpuSeconds !== undefined && none.put.serverCpuSeconds !== undefined
      ? ((proxy.put.serverCpuSeconds - none.put.serverCpuSeconds) / proxy.put.bytes) * GIB
      : undefined;
  const atLeast = (floor: number) => (value: number) => value >= floor;
  const targets: Target[] = [
    {
      figure: 'encrypted PUT (aes256-gcm-proxy) vs none, MiB/s',
      value: ratio('aes256-gcm-proxy', 'put'),
      unit: '×',
      target: '≥ 0.85×',
      met: atLeast(0.85),
    },
    {
      figure: 'encrypted GET (aes256-gcm-proxy) vs none, MiB/s',
      value: ratio('aes256-gcm-proxy', 'get'),
      unit: '×',
      target: '≥ 0.90×',
      met: atLeast(0.9),
    },
    {
      figure: `server CPU per GiB PUT, proxy minus none (raw AES-GCM: ${rawCpu.toFixed(2)} s)`,
      value: addedPutCpuPerGiB,
      unit: 's',
      target: `≤ ${(1.3 * rawCpu).toFixed(2)} s (1.3× raw)`,
      met: (value) => value <= 1.3 * rawCpu,
    },
    {
      figure: 'format v1 encrypt vs raw Node AES-256-GCM',
      value: inputs.format.encryptVsRaw,
      unit: '×',
      target: '≥ 0.90× (keep)',
      met: atLeast(0.9),
    },
    {
      figure: 'format v1 decrypt vs raw Node AES-256-GCM',
      value: inputs.format.decryptVsRaw,
      unit: '×',
      target: '≥ 0.90×',
      met: atLeast(0.9),
    },
    {
      figure: '  the same, ciphertext read in 256 KiB pieces (filesystem)',
      value: inputs.format.decryptFilePiecesVsRaw,
      unit: '×',
      target: '≥ 0.90×',
      met: atLeast(0.9),
    },
    {
      figure: 'SSE-C GET vs none',
      value: ratio('sse-c', 'get'),
      unit: '×',
      target: '≥ 0.90×',
      met: atLeast(0.9),
    },
    {
      figure: 'aws-kms-envelope GET vs none',
      value: ratio('aws-kms-envelope', 'get'),
      unit: '×',
      target: '≥ 0.90×',
      met: atLeast(0.9),
    },
    {
      figure: 'Lambda handler cold import (emulator, local)',
      value: inputs.coldStartImportMs,
      unit: 'ms',
      target: '< 200 ms',
      met: (value) => value < 200,
    },
  ];
  const shown = (t: Target) =>
    t.value === undefined
      ? 'not run'
      : t.unit === '×'
        ? `${t.value.toFixed(2)}×`
        : `${t.value.toFixed(2)} ${t.unit}`;
  const verdict = (t: Target) => (t.value === undefined ? '-' : t.met(t.value) ? 'met' : 'MISSED');
  return [
    'Targets (docs: README "Benchmarks"), from the stages above in this run',
    '',
    formatTable(
      ['figure', 'measured', 'target', ''],
      targets.map((t) => [t.figure, shown(t), t.target, verdict(t)]),
    ),
  ].join('\n');
}
