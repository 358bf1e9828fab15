/**
 * How the CLI shows secret fields (credentials' and backends' secret access keys, encryption keys): a
 * value that is exactly one reference is shown as written, since it names a secret and is not one;
 * anything else as `(secret)`. The gateway never answers a secret, but the CLI also prints documents read
 * from files, so it masks on its own account too.
 */
import { setValueAt } from '../core/config/document-paths.js';
import { parseValue } from '../core/config/references.js';
import { isSecretField, secretFields } from '../core/config/secret-fields.js';

/** What a secret field shows when it holds no reference. */
export const SECRET_SHOWN = '(secret)';

/** Fingerprints, as the admin API shows inline secrets: `fp:` and 16 hex characters. */
export const FINGERPRINT = /^fp:[0-9a-f]{16}$/;

/** A secret field's shown form; serialises to JSON as its text. */
export class Masked {
  constructor(readonly shown: string) {}

  toJSON(): string {
    return this.shown;
  }
}

/**
 * A secret field's value as it may be shown: one reference as written (an `${env:NAME:-default}`'s
 * default masked, since it may be the secret itself), anything else `(secret)`.
 */
export function maskSecret(value: unknown): Masked {
  if (typeof value === 'string') {
    const pieces = parseValue(value, '');
    const [only] = pieces;
    if (pieces.length === 1 && only.kind === 'reference') {
      const { reference } = only;
      const shown =
        reference.fallback === undefined ? reference.raw : `\${env:${reference.name}:-${SECRET_SHOWN}}`;
      return new Masked(shown);
    }
  }
  return new Masked(SECRET_SHOWN);
}

/** A copy of `node`, found at `path` in a document, with every secret field in it masked. */
export function maskTree(node: unknown, path = ''): unknown {
  if (path !== '' && isSecretField(path))
    return node === undefined || node === null ? node : maskSecret(node);
  if (Array.isArray(node)) return node.map((item, i) => maskTree(item, `${path}[${i}]`));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, maskTree(value, pathJoin(path, key))]),
    );
  }
  return node;
}

/**
 * A copy of a document the gateway answered, for printing: references and fingerprints stay (neither is
 * a secret, and fingerprints let two configs be compared); any other value in a secret field, which a
 * correct gateway never sends, becomes `(secret)`.
 */
export function guardDocument<T>(document: T): T {
  if (document === null || typeof document !== 'object') return document;
  const copy = structuredClone(document);
  for (const { path, value } of secretFields(document)) {
    if (typeof value === 'string' && (FINGERPRINT.test(value) || maskSecret(value).shown === value)) continue;
    setValueAt(copy, path, SECRET_SHOWN);
  }
  return copy;
}

/** `path` + `.key` (or `["odd key"]` for a key that is no plain name). */
export function pathJoin(path: string, key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}
