import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';
import { interpolateTree } from './interpolate.js';
import { parseConfig, type GatewayConfig } from './schema.js';

/**
 * Config text (YAML, or JSON, which is YAML too) as a tree, or a ConfigError naming `source`: for a syntax
 * error, and for an alias that refers to the node that holds it (`&a [*a]`), which would make the tree
 * endless. Every reader of config text goes through here.
 */
export function readConfigYaml(text: string, source: string): unknown {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    // The parser's first line says what and where; the source excerpt it adds is left out, since the line
    // it quotes may hold an inline secret, and errors reach logs.
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError(source, message.split('\n', 1)[0].replace(/:$/, ''));
  }
  const cycle = cyclePath(document, new Set(), '');
  if (cycle !== undefined) {
    throw new ConfigError(
      source,
      `${cycle || 'the document'} holds a YAML alias to itself or to a node around it: the config would never end`,
    );
  }
  return document;
}

/** The path of the first node that contains one of its own ancestors, if any. */
function cyclePath(node: unknown, ancestors: Set<object>, where: string): string | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  if (ancestors.has(node)) return where;
  ancestors.add(node);
  try {
    const entries = Array.isArray(node)
      ? node.map((value, i): [string, unknown] => [`${where}[${i}]`, value])
      : Object.entries(node).map(([key, value]): [string, unknown] => [
          where ? `${where}.${key}` : key,
          value,
        ]);
    for (const [path, value] of entries) {
      const found = cyclePath(value, ancestors, path);
      if (found !== undefined) return found;
    }
    return undefined;
  } finally {
    ancestors.delete(node);
  }
}

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
  return parseConfig(interpolateTree(readConfigYaml(text, source), env));
}
