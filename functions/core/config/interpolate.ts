import { ConfigError } from './config-error.js';

const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${env:NAME}` and `${env:NAME:-default}` in a config string value. A reference to an unset
 * variable without a default is an error naming the variable and where it was used, so a missing secret
 * never silently becomes an empty key. `$${` escapes a literal `${`.
 */
export function interpolate(value: string, env: Record<string, string | undefined>, where: string): string {
  const escaped = value.split('$${');
  return escaped
    .map((part) =>
      part.replace(REFERENCE, (_whole, name: string, fallback: string | undefined) => {
        const found = env[name];
        if (found !== undefined && found !== '') return found;
        if (fallback !== undefined) return fallback;
        throw new ConfigError(
          where,
          `environment variable ${name} is not set (referenced as \${env:${name}})`,
        );
      }),
    )
    .join('${');
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
