/**
 * The Lambda edge's bench: the size of the function bundle `cdk synth` builds, and its cold start
 * through the local function URL emulator (the bundle's import, and the first request end to end),
 * each cold start in a fresh Node process. Runnable alone: `npx tsx test/bench/function-url-cold-start.ts`.
 *
 * The child runs on plain Node with `--enable-source-maps`, as the stack runs the function: the emulator
 * and the child are bundled with esbuild first, because under tsx every import of the measured bundle
 * would pass tsx's loader hooks (they tripled the figure).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildSync } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Builds the stack (offline) and returns the gateway function's bundled entry file: the asset the
 * template's `Gateway` function names (the stack bundles other functions too).
 */
function bundlePath(): string {
  execFileSync('npx', ['cdk', 'synth', '--quiet'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const out = join(ROOT, 'cdk.out');
  const template = JSON.parse(readFileSync(join(out, 'Sealgate.template.json'), 'utf8')) as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
  };
  const gateway = Object.entries(template.Resources).find(
    ([id, resource]) => /^Gateway[0-9A-F]{8}$/.test(id) && resource.Type === 'AWS::Lambda::Function',
  );
  const asset = gateway?.[1].Metadata?.['aws:asset:path'];
  const bundle = asset === undefined ? undefined : join(out, asset, 'index.mjs');
  if (bundle === undefined || !existsSync(bundle)) {
    throw new Error("cdk synth produced no bundle for the Gateway function (its aws:asset:path's index.mjs)");
  }
  return bundle;
}

/** The cold-start child (test/bench/cold-start-child.ts) as one plain ES module, in `dir`. */
function compiledChild(dir: string): string {
  const outfile = join(dir, 'cold-start-child.mjs');
  buildSync({
    entryPoints: [join(ROOT, 'test/bench/cold-start-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    // CommonJS dependencies call require() for Node built-ins; an ES module bundle needs one made for it.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  return outfile;
}

function coldStart(child: string, bundle: string): { importMs: number; firstRequestMs: number } {
  const output = execFileSync(process.execPath, ['--enable-source-maps', child, bundle], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(output) as { importMs: number; firstRequestMs: number };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs the bench: its printable report, and the median cold import (ms) the bench's targets check. */
export function runColdStartBench(runs = 5): { text: string; importMs: number } {
  const bundle = bundlePath();
  const bytes = readFileSync(bundle);
  const dir = mkdtempSync(join(tmpdir(), 'sealgate-cold-start-'));
  let samples: { importMs: number; firstRequestMs: number }[];
  try {
    const child = compiledChild(dir);
    samples = Array.from({ length: runs }, () => coldStart(child, bundle));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (label: string, values: number[]) =>
    `${label.padEnd(40)} ${median(values).toFixed(0).padStart(7)} ms  (min ${Math.min(...values).toFixed(0)}, max ${Math.max(...values).toFixed(0)})`;
  const text = [
    `Lambda edge (function bundle from cdk synth; ${runs} cold starts, each in a fresh plain Node process with --enable-source-maps, through the emulator)`,
    `${'bundle size'.padEnd(40)} ${(bytes.length / 1024).toFixed(0).padStart(7)} KiB (${(gzipSync(bytes).length / 1024).toFixed(0)} KiB gzipped)`,
    row(
      'cold import of the handler (init)',
      samples.map((s) => s.importMs),
    ),
    row(
      'first request, init included',
      samples.map((s) => s.firstRequestMs),
    ),
  ].join('\n');
  return { text, importMs: median(samples.map((s) => s.importMs)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(runColdStartBench().text + '\n');
}
