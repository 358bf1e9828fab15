/**
 * What the admin API shows of a config document: secret references as written (they name a secret, they
 * are not one), and any secret written inline replaced by its fingerprint. Nothing else is secret.
 */
import { setValueAt, valueAt } from '../config/document-paths.js';
import { fingerprint } from '../config/fingerprint.js';
import { parseValue } from '../config/references.js';
import { secretFieldPaths } from '../config/secret-fields.js';
import type { ConfigDocument } from '../control/config-store.js';

/**
 * True when a value is references and nothing else, none with a default: text around a reference, or an
 * `${env:NAME:-default}`'s default, may itself be a secret.
 */
function isReferenceOnly(value: string, path: string): boolean {
  const pieces = parseValue(value, path);
  return (
    pieces.length > 0 && pieces.every((p) => p.kind === 'reference' && p.reference.fallback === undefined)
  );
}

/** A copy of `document` whose inline secrets are fingerprints (`fp:...`). */
export function redactDocument(document: ConfigDocument, key: Uint8Array): ConfigDocument {
  const copy = structuredClone(document);
  for (const path of secretFieldPaths(document)) {
    const value = valueAt(copy, path);
    if (typeof value === 'string' && isReferenceOnly(value, path)) continue;
    setValueAt(
      copy,
      path,
      value === undefined || value === null
        ? value
        : fingerprint(key, typeof value === 'string' ? value : JSON.stringify(value)),
    );
  }
  return copy;
}

/** A fingerprint of a whole document (history entries), so two versions can be compared at a glance. */
export function documentDigest(document: ConfigDocument, key: Uint8Array): string {
  return fingerprint(key, canonicalJson(document));
}

/** JSON with object keys sorted, so equal documents give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
