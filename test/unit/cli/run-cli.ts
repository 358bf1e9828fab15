/** Runs the CLI in-process and keeps what it printed. */
import { runCli } from '../../../functions/cli/program.js';
import type { CliIo } from '../../../functions/cli/output.js';
import { capture } from '../../support/leak-scan.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(
  argv: string[],
  env: Record<string, string | undefined> = {},
  more: Partial<CliIo> = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
    ...more,
  });
  capture(`the CLI's output (${argv.slice(0, 2).join(' ')})`, stdout + stderr);
  return { code, stdout, stderr };
}
