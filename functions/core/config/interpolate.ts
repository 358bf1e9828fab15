import { ConfigError } from './config-error.js';
import { parseValue } from './references.js';

/**
 * Replaces `${env:NAME}` and `${env:NAME:-default}` in a config string value. A reference to an unset
 * variable without a default is an error naming the variable and where it was used, so a missing secret
 * never silently becomes an empty key. `$${` escapes a literal `${`. Other schemes (`${secretsmanager:...}`,
 * `${ssm:...}`) and malformed `${` are left as written: they are resolved, or reported, by
 * {@link findReferences} and the {@link SecretResolver}.
 */
export function interpolate(value: string, env: Record<string, string | undefined>, where: string): string {
  return parseValue(value, where)
    .map((piece) => {
      if (piece.kind === 'text') return piece.text;
      if (piece.kind === 'malformed') return '${';
      const { raw, scheme, name, fallback } = piece.reference;
      if (scheme !== 'env') return raw;
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(where, `environment variable ${name} is not set (referenced as \${env:${name}})`);
    })
    .join('');
}

/** Interpolates every string in a parsed YAML/JSON document, recording each path for error messages. */
export function interpolateTree(node: unknown, env: Record<string, string | undefined>, where = ''): unknown {
  if (typeof node === 'string') return interpolate(node, env, where || '(root)');
  if (Array.isArray(node)) return node.map((item, i) => interpolateTree(item, env, `${where}[${i}]`));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env, where ? `${where}.${k}` : k)]),
    );
  }
  return node;
}
