/** Reading a config file for the `config` commands: its text as written, and the YAML document in it. */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError } from '../core/config/config-error.js';
import { readConfigYaml } from '../core/config/config-text.js';
import type { ConfigDocument } from '../core/control/config-store.js';
import { CliError, EXIT_FAILURE } from './output.js';

export interface ConfigFile {
  path: string;
  /** The text as written (comments kept): `config apply` sends it along for the file store. */
  text: string;
  document: ConfigDocument;
}

/**
 * Reads and parses `path`. A YAML syntax error fails with its line and column; the source excerpt the YAML
 * parser adds is left out, since the line it quotes may hold an inline secret.
 */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = parseDocument(text);
  if (parsed.errors.length > 0) {
    const [first, ...more] = parsed.errors.map((error) => firstLine(error.message));
    throw new CliError(
      `${path}: YAML syntax error: ${first}`,
      EXIT_FAILURE,
      more.map((line) => `YAML syntax error: ${line}`),
    );
  }
  let document: unknown;
  try {
    document = readConfigYaml(text, path);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new CliError(`${path}: the config must be a YAML mapping (backends:, credentials:, ...)`);
  }
  return { path, text, document: document as ConfigDocument };
}

/** `Map keys must be unique at line 2, column 1` out of the parser's message and source excerpt. */
function firstLine(message: string): string {
  return message.split('\n', 1)[0].replace(/:$/, '');
}
