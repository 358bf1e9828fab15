/**
 * Validating a config document: every problem at once, errors and warnings, each with its path. The
 * admin API's validate and apply, the config loaders and the CLI all go through here.
 */
import { ProblemSink } from './fields.js';
import type { ConfigProblem } from './problems.js';
import { readConfig, type GatewayConfig } from './schema.js';
import { secretFields } from './secret-fields.js';

export interface ValidateOptions {
  /**
   * Which store the document is for: 'dynamodb' refuses inline secrets (they would sit in clear in the
   * table); 'file' only warns. Default 'file'.
   */
  store?: 'file' | 'dynamodb';
  /**
   * The document as the operator wrote it, before secret references were substituted; used to tell an
   * inline secret from a reference. Default: the document itself. A string value containing '${' (not the
   * escape '$${') is a reference.
   */
  original?: unknown;
}

export interface ValidationResult {
  /** Set exactly when no problem is an error. */
  config?: GatewayConfig;
  /** Every problem found, errors and warnings, in the order the checks ran. */
  problems: ConfigProblem[];
}

/** True when `value` holds a secret reference (`${env:NAME}`, `${ssm:/path}`), not the secret itself. */
function isReference(value: unknown): boolean {
  return typeof value === 'string' && value.split('$${').some((part) => part.includes('${'));
}

/** Secrets written out in the document rather than referenced: a warning in a file, an error in the table. */
function checkInlineSecrets(original: unknown, store: 'file' | 'dynamodb', sink: ProblemSink): void {
  for (const { path, value } of secretFields(original)) {
    if (isReference(value)) continue;
    if (store === 'dynamodb') {
      sink.error(
        path,
        'a secret written inline would be stored in clear in the config table: write a reference, ' +
          '${secretsmanager:NAME} or ${ssm:/path}',
      );
    } else {
      sink.warn(
        path,
        'written inline in the config: anyone who can read the file reads it; use ${env:NAME} ' +
          '(or ${secretsmanager:NAME} / ${ssm:/path} on AWS)',
      );
    }
  }
}

/**
 * Validates a config document whose secret references were already substituted, and gives the config
 * when nothing is an error. Problems never include a secret's value.
 */
export function validateConfig(document: unknown, options: ValidateOptions = {}): ValidationResult {
  const sink = new ProblemSink();
  const config = readConfig(document, sink);
  checkInlineSecrets(options.original ?? document, options.store ?? 'file', sink);
  if (config === undefined || sink.errorCount > 0) return { problems: sink.problems };
  return { config, problems: sink.problems };
}
