/**
 * The `sealgate` command line: `serve` runs the gateway; the other commands operate a running one through
 * its admin API. {@link runCli} runs it in-process (the tests' way in) and gives the exit code: 0 ok,
 * 1 failure, 2 usage error.
 */
import { Command, CommanderError } from 'commander';
import { AdminApiError } from './admin-client.js';
import { configCommands } from './config-commands.js';
import { healthCommand } from './health.js';
import { inspectCommand } from './inspect.js';
import { jobsCommands } from './jobs.js';
import { keysCommands } from './keys.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo, type SetExitCode } from './output.js';
import { postureCommand } from './posture.js';
import { serveCommand } from './serve.js';

const MORE_HELP = `
Remote commands reach the gateway at --endpoint, else SEALGATE_ENDPOINT, else
AWS_ENDPOINT_URL, else http://127.0.0.1:9000. They sign with an admin credential
from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), region
AWS_REGION or AWS_DEFAULT_REGION (default us-east-1). HTTPS with a private CA:
--ca-bundle FILE or AWS_CA_BUNDLE.

Exit codes: 0 ok; 1 failure (a refused config, a conflict, a degraded health,
differences with config diff --exit-code, a refused bucket or a job that did
not succeed); 2 usage error.`;

/**
 * Settings every command needs, applied down the tree (commander copies them only to commands made with
 * `.command()`, not to those added with `.addCommand()`): errors thrown instead of exiting, output through
 * `io`, and a hint after a usage error.
 */
function configureTree(command: Command, io: CliIo): void {
  command
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (text, write) => write(text.replace(/^error: /, 'sealgate: ')),
    })
    .showHelpAfterError('(add --help for usage)');
  for (const sub of command.commands) configureTree(sub, io);
}

/** Builds the program; actions report a non-zero outcome through `setExitCode`. */
export function buildProgram(io: CliIo, setExitCode: SetExitCode): Command {
  const program = new Command('sealgate')
    .description('Sealgate, an S3 gateway that encrypts object data at rest: serve it, and operate it')
    .addHelpText('after', MORE_HELP);
  program.addCommand(serveCommand(io, setExitCode));
  program.addCommand(configCommands(io, setExitCode));
  program.addCommand(keysCommands(io));
  program.addCommand(inspectCommand(io));
  program.addCommand(postureCommand(io));
  program.addCommand(healthCommand(io, setExitCode));
  program.addCommand(jobsCommands(io, setExitCode));
  configureTree(program, io);
  return program;
}

/** Runs the command line `argv` (without node and the script) and resolves to its exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode = EXIT_OK;
  let json = false;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  program.hook('preAction', (_program, action) => {
    json = action.opts<{ json?: boolean }>().json === true;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return commanderExitCode(error);
    return reportFailure(error, io, json);
  }
}

/** Help asked for is 0; help shown because a command was missing, and every parse error, are usage errors. */
function commanderExitCode(error: CommanderError): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
  if (error.code === 'commander.help' && error.exitCode === 0) return EXIT_OK;
  return EXIT_USAGE;
}

function reportFailure(error: unknown, io: CliIo, json: boolean): number {
  if (json && error instanceof AdminApiError) {
    io.stdout(`${JSON.stringify({ error: error.body }, null, 2)}\n`);
  }
  const message = error instanceof Error ? error.message : String(error);
  const details = error instanceof CliError ? error.details : [];
  io.stderr(`sealgate: ${message}\n${details.map((line) => `${line}\n`).join('')}`);
  return error instanceof CliError ? error.exitCode : EXIT_FAILURE;
}
