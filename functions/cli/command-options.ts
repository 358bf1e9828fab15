/** Options and argument parsers shared by the commands, so each is spelled and checked one way. */
import { InvalidArgumentError, type Command } from 'commander';
import type { RemoteOptions } from './admin-target.js';

/** `--endpoint` and `--ca-bundle`, which every command that talks to a gateway takes. */
export function remoteOptions(command: Command): Command {
  return command
    .option(
      '--endpoint <url>',
      'the gateway (default: SEALGATE_ENDPOINT, AWS_ENDPOINT_URL, http://127.0.0.1:9000)',
    )
    .option(
      '--ca-bundle <file>',
      'PEM certificates to trust for HTTPS with a private CA (default: AWS_CA_BUNDLE)',
    );
}

/** `--json`: the result as one JSON document on stdout. */
export function jsonOption(command: Command): Command {
  return command.option('--json', 'print the result as one JSON document');
}

export interface JsonOptions {
  json?: boolean;
}

export type RemoteCommandOptions = RemoteOptions & JsonOptions;

/** Parses a config version: 1, 2, 3, ... (0 only where `allowZero`: the base of an empty store). */
export function versionNumber(allowZero = false) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || (value === 0 && !allowZero)) {
      throw new InvalidArgumentError(
        allowZero ? 'expected a version number, 0 or more' : 'expected a version number, 1 or more',
      );
    }
    return value;
  };
}

/** Parses a positive integer (a limit). */
export function positiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError('expected a positive integer');
  }
  return value;
}
