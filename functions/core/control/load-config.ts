/**
 * From a stored config document to a running config: find the secret references, resolve them (from the
 * resolver's cache while fresh), substitute, validate. Every problem comes back at once, each with its
 * path; a document with any error yields no config. The resolved secrets never leave this step except as
 * fingerprints.
 */
import { isAbsolute, join } from 'node:path';
import { valueAt } from '../config/document-paths.js';
import { fingerprint } from '../config/fingerprint.js';
import type { ConfigProblem } from '../config/problems.js';
import { findReferences, substituteReferences } from '../config/references.js';
import type { GatewayConfig } from '../config/schema.js';
import { secretFieldPaths } from '../config/secret-fields.js';
import type { SecretResolver } from '../config/secret-resolver.js';
import { validateConfig } from '../config/validate.js';
import type { ConfigDocument } from './config-store.js';

export interface LoadOptions {
  resolver: SecretResolver;
  /** Which store the document comes from: the DynamoDB store refuses inline secrets. */
  store: 'file' | 'dynamodb';
  /** Relative filesystem backend paths are relative to this folder (the config file's). */
  baseDir?: string;
  /** Keys the `fp:` fingerprints of the document's secrets. */
  fingerprintKey: Uint8Array;
}

export interface LoadedConfig {
  /** Set when the document has no error. */
  config?: GatewayConfig;
  problems: ConfigProblem[];
  /** One fingerprint per secret field present in the document, over its resolved value, by path. */
  fingerprints: Record<string, string>;
  /**
   * A fingerprint over every resolved reference: when it changes with the document unchanged, a secret
   * was rotated and the running config must be rebuilt.
   */
  secretsDigest: string;
  /** References that resolved to placeholders (offline validation only). */
  placeholders: string[];
}

export async function loadConfig(document: ConfigDocument, options: LoadOptions): Promise<LoadedConfig> {
  const found = findReferences(document);
  const resolved = await options.resolver.resolveAll(found.references);
  const substituted = substituteReferences(document, (reference) => resolved.values.get(reference.raw));
  const validation = validateConfig(substituted, { store: options.store, original: document });
  const problems = [...found.problems, ...resolved.problems, ...validation.problems];

  const fingerprints: Record<string, string> = {};
  for (const path of secretFieldPaths(document)) {
    const value = valueAt(substituted, path);
    if (typeof value === 'string' && !resolvedFailed(found.references, resolved.values, path)) {
      fingerprints[path] = fingerprint(options.fingerprintKey, value);
    }
  }
  const secretsDigest = fingerprint(
    options.fingerprintKey,
    JSON.stringify([...resolved.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  );
  const hasError = problems.some((p) => p.severity === 'error');
  const config = hasError ? undefined : validation.config;
  if (config && options.baseDir !== undefined) {
    for (const backend of config.backends) {
      if (backend.type === 'filesystem' && !isAbsolute(backend.path)) {
        backend.path = join(options.baseDir, backend.path);
      }
    }
  }
  return { config, problems, fingerprints, secretsDigest, placeholders: resolved.placeholders };
}

/** True when a reference in the field at `path` did not resolve (its fingerprint would be of the reference text). */
function resolvedFailed(
  references: { raw: string; path: string }[],
  values: ReadonlyMap<string, string>,
  path: string,
): boolean {
  return references.some((r) => r.path === path && !values.has(r.raw));
}
