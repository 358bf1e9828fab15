/**
 * `config validate` without a gateway: the document goes through the same load step a gateway runs
 * (references found, resolved, substituted, then validated), with `${env:...}` read from the CLI's own
 * environment and every other reference replaced by a placeholder, so its field checks still run.
 */
import { randomBytes } from 'node:crypto';
import type { ConfigProblem } from '../core/config/problems.js';
import { envSecretSource, SecretResolver } from '../core/config/secret-resolver.js';
import type { ConfigDocument } from '../core/control/config-store.js';
import { loadConfig } from '../core/control/load-config.js';

export interface OfflineValidation {
  problems: ConfigProblem[];
  /** The references (as written) that were not resolved here and stood in as placeholders. */
  placeholders: string[];
}

export async function validateOffline(
  document: ConfigDocument,
  options: { env: Record<string, string | undefined>; store: 'file' | 'dynamodb' },
): Promise<OfflineValidation> {
  const resolver = new SecretResolver({
    sources: { env: envSecretSource(options.env) },
    ttlMs: 0,
    placeholders: true,
  });
  // The fingerprints loadConfig computes are not shown: any key does.
  const loaded = await loadConfig(document, {
    resolver,
    store: options.store,
    fingerprintKey: randomBytes(32),
  });
  return { problems: loaded.problems, placeholders: loaded.placeholders };
}
