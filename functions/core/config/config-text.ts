import { parseDocument } from 'yaml';
import { ConfigError } from './config-error.js';
import { interpolateTree } from './interpolate.js';
import { parseConfig, type GatewayConfig } from './schema.js';

/**
 * Config text (YAML, or JSON, which is YAML too) as a tree, or a ConfigError naming `source`: for a syntax
 * error, a YAML tag (the config defines none), too many aliases, and an alias that refers to the node that
 * holds it (`&a [*a]`), which would make the tree endless. Every reader of config text goes through here.
 */
export function readConfigYaml(text: string, source: string): unknown {
  // The parser's first line says what and where; the source excerpt it adds is left out, since the line
  // it quotes may hold an inline secret, and errors reach logs.
  const firstLine = (message: string) => message.split('\n', 1)[0].replace(/:$/, '');
  const parsed = parseDocument(text);
  const [error] = parsed.errors;
  if (error !== undefined) throw new ConfigError(source, firstLine(error.message));
  // A tag the config does not define (`!secret x`) would be dropped silently, leaving the bare value.
  const unknownTag = parsed.warnings.find((warning) => warning.code === 'TAG_RESOLVE_FAILED');
  if (unknownTag !== undefined) {
    throw new ConfigError(source, `${firstLine(unknownTag.message)}: the config takes no YAML tags`);
  }
  let document: unknown;
  try {
    document = parsed.toJS();
  } catch (failure) {
    // Too many aliases (an entity-expansion style document), say.
    throw new ConfigError(source, firstLine(failure instanceof Error ? failure.message : String(failure)));
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
