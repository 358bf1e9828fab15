#!/usr/bin/env node
/**
 * The `sealgate` binary: runs the command line and exits with its code (0 ok, 1 failure, 2 usage error).
 * `serve` resolves only once the server has stopped.
 */
import { runCli } from '../cli/program.js';

runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  ...(process.stderr.isTTY && { terminal: process.stderr }),
}).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`sealgate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
