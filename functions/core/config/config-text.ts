import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';
import { interpolateTree } from './interpolate.js';
import { parseConfig, type GatewayConfig } from './schema.js';

/**
 * Parses config text (YAML, or JSON, which is YAML too), interpolates `${env:...}` references from `env`
 * and validates it. `source` names where the text came from (a file, an environment variable) in the
 * error a syntax problem gets.
 */
export function parseConfigText(
  text: string,
  env: Record<string, string | undefined>,
  source: string,
): GatewayConfig {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(source, error instanceof Error ? error.message : String(error));
  }
  return parseConfig(interpolateTree(document, env));
}
