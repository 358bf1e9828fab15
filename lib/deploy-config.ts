import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, ConfigErrors } from '../functions/core/config/config-error.js';
import type { ConfigProblem } from '../functions/core/config/problems.js';
import {
  findReferences,
  parseValue,
  substituteReferences,
  type SecretReference,
} from '../functions/core/config/references.js';
import type { GatewayConfig } from '../functions/core/config/schema.js';
import { secretFields } from '../functions/core/config/secret-fields.js';
import { validateConfig } from '../functions/core/config/validate.js';
import { usesFunctionRole } from './backend-signers.js';
import { keyArn, kmsKeyGrants, LEGACY_KMS_KEYS_FIELD, type KmsKeyGrants } from './kms-grants.js';

/**
 * A gateway config read at synth time, with what the stack derives from it. The stack needs names,
 * backends and bucket routes as written (to scope IAM), so those must be literal; secrets stay references
 * to Secrets Manager or SSM Parameter Store, which the function resolves when it runs.
 */
export interface DeployConfig {
  /**
   * The config document as compact JSON (which is YAML too), references left as written and deploy-only
   * fields taken out: `SEALGATE_INITIAL_CONFIG`, which seeds an empty config table.
   */
  text: string;
  /** The validated config, with each reference replaced by a placeholder. */
  config: GatewayConfig;
  /** The prefix every secret reference was checked against: what the role may read (see {@link checkSecretPrefix}). */
  secretPrefix: string;
  /** What the function reads at run time: Secrets Manager secret names (without `#field`) and SSM parameter paths. */
  secrets: { secretsManager: string[]; ssmParameters: string[] };
  /** What validation found that does not refuse the config (every problem left is a warning). */
  warnings: ConfigProblem[];
  /** Buckets on AWS S3 reached with the function's own role: what its IAM policy names. */
  awsBuckets: string[];
  /** True when the default backend is AWS S3 with the function's role: ListBuckets then lists the account's buckets. */
  defaultBackendIsAws: boolean;
  /** KMS key ARNs the function's role may use, by what it does with them. */
  kmsKeys: KmsKeyGrants;
}

export interface DeployConfigOptions {
  /** The secrets' name prefix, and as `/<prefix>` the SSM parameters' path (default `sealgate/`). */
  secretPrefix?: string;
}

export const DEFAULT_SECRET_PREFIX = 'sealgate/';

/**
 * Secrets Manager names and SSM parameter paths share these characters; ending in `/` makes the prefix a
 * path in both (`sealgate/` covers the secret `sealgate/admin` and the parameter `/sealgate/admin`).
 */
const SECRET_PREFIX = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/$/;

/** Checks the `secretPrefix` context: the role may read the secrets `<prefix>*` and the parameters `/<prefix>*`. */
export function checkSecretPrefix(prefix: string): string {
  if (!SECRET_PREFIX.test(prefix)) {
    throw new ConfigError(
      '-c secretPrefix',
      `${JSON.stringify(prefix)} must be a path ending in "/" (sealgate/, prod/sealgate/), of A-Z, a-z, 0-9, ` +
        '".", "_", "-" and "/": it names both the Secrets Manager secrets and the SSM parameters the function may read',
    );
  }
  return prefix;
}

/** Fields that may hold references in a deployed config: secrets (and a backend's access key id and region). */
const REFERENCE_ALLOWED = [
  /^credentials\[\d+\]\.(access_key_id|secret_access_key)$/,
  /^backends\[\d+\]\.(access_key_id|secret_access_key|region)$/,
  /^backends\[\d+\]\.encryption\.(key|legacy_key)$/,
];
/** The encryption keys the gateway holds itself (secret fields too, with their own wording). */
const KEY_FIELD = /^backends\[\d+\]\.encryption\.(key|legacy_key)$/;

/** Variables Lambda sets itself: the function may read them from its environment (they are not secrets). */
function isReserved(name: string): boolean {
  return name.startsWith('AWS_') || name.startsWith('LAMBDA_') || name.startsWith('_');
}

/** A reference as a message may show it: an `${env:...}` default elided (it may be a secret). */
function shown(reference: SecretReference): string {
  return reference.fallback === undefined ? reference.raw : `\${env:${reference.name}:-...}`;
}

/**
 * Checks that a secret field is exactly one `${secretsmanager:...}` or `${ssm:...}` reference. Anything
 * else puts the secret in clear, or where it comes from, in the function's environment
 * (SEALGATE_INITIAL_CONFIG) and the config table: a value written out, text around a reference, and an
 * `${env:...}` reference, with or without a default (the stack puts no secret in the environment).
 */
function checkSecretField(value: unknown, path: string, prefix: string): void {
  const what = KEY_FIELD.test(path) ? 'key' : 'secret';
  const store =
    what === 'key' ? 'store the key (64 hex characters) in Secrets Manager' : 'store it in Secrets Manager';
  const pieces = typeof value === 'string' ? parseValue(value, path) : [];
  const only = pieces.length === 1 && pieces[0].kind === 'reference' ? pieces[0].reference : undefined;
  if (only === undefined) {
    throw new ConfigError(
      path,
      `a ${what} written in the file would be stored in clear in the function's environment and the config ` +
        `table: ${store} and write '\${secretsmanager:${prefix}NAME}'`,
    );
  }
  if (only.scheme !== 'env') return;
  const instead = `'\${secretsmanager:${prefix}${only.name}}'`;
  if (only.fallback !== undefined) {
    throw new ConfigError(
      path,
      `${shown(only)} has a default, which would be a ${what} in clear in the function's environment and the ` +
        `config table: ${store} and write ${instead}`,
    );
  }
  if (isReserved(only.name)) {
    throw new ConfigError(
      path,
      `${shown(only)} is a variable Lambda sets itself, not a secret of yours: ${store} and write ` +
        `'\${secretsmanager:${prefix}NAME}'`,
    );
  }
  throw new ConfigError(
    path,
    `${shown(only)} would be read from the function's environment, which holds no secrets (anyone allowed ` +
      `lambda:GetFunctionConfiguration can read it): ${store} and write ${instead} (or ` +
      `'\${ssm:/${prefix}${only.name}}' for an SSM SecureString parameter); the function reads it when it runs`,
  );
}

/**
 * Checks one reference: that it stands in a field the stack need not read at synth, that an `${env:...}`
 * names a variable Lambda sets (the stack sets none of the config's), and that a secret or parameter is
 * named (not by ARN) under the prefix the role may read.
 */
function checkReference(reference: SecretReference, prefix: string): void {
  const { path, name } = reference;
  if (!REFERENCE_ALLOWED.some((allowed) => allowed.test(path))) {
    throw new ConfigError(
      path,
      `${shown(reference)} cannot stand here: the stack needs this value written out at synth time, to scope IAM ` +
        "to the names, backends and bucket routes in the file (only secrets, access key ids and a backend's " +
        'region may be references, which the function resolves when it runs)',
    );
  }
  if (reference.scheme === 'env') {
    if (isReserved(name)) return;
    throw new ConfigError(
      path,
      `${shown(reference)} is not set in the function's environment (the stack passes no variables of yours): ` +
        `write the value out, or store it in Secrets Manager and write '\${secretsmanager:${prefix}${name}}'`,
    );
  }
  const [what, under] =
    reference.scheme === 'secretsmanager'
      ? ['the Secrets Manager secrets whose names start with', prefix]
      : ['the SSM parameters under', `/${prefix}`];
  if (name.startsWith('arn:')) {
    throw new ConfigError(
      path,
      `${reference.raw} names an ARN: write the name (${under}...). The function's role may read ${what} ` +
        `${under} in the stack's own account and region`,
    );
  }
  if (!name.startsWith(under) || name.length === under.length) {
    throw new ConfigError(
      path,
      `${reference.raw} is outside the secret prefix "${prefix}": the function's role may read only ${what} ` +
        `${under}. Move it there, or deploy with -c secretPrefix=<the prefix it is under>`,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

type EncryptionBlock = [block: Record<string, unknown>, path: string, backendIndex: number];

/** Each backend's `encryption` block as written, with its path (the schema reports any other shape). */
function encryptionBlocks(document: unknown): EncryptionBlock[] {
  if (!isObject(document) || !Array.isArray(document.backends)) return [];
  return document.backends.flatMap((backend: unknown, i): EncryptionBlock[] =>
    isObject(backend) && isObject(backend.encryption)
      ? [[backend.encryption, `backends[${i}].encryption`, i]]
      : [],
  );
}

/** Takes the deploy-only `legacy_kms_key_ids` out of each encryption block: the lists, by backend index. */
function takeLegacyKmsKeyIds(document: unknown): Map<number, string[]> {
  const lists = new Map<number, string[]>();
  for (const [block, path, index] of encryptionBlocks(document)) {
    const value = block[LEGACY_KMS_KEYS_FIELD];
    delete block[LEGACY_KMS_KEYS_FIELD];
    if (value === undefined || value === null) continue;
    const where = `${path}.${LEGACY_KMS_KEYS_FIELD}`;
    if (!Array.isArray(value)) throw new ConfigError(where, 'must be a list of KMS key ARNs');
    lists.set(
      index,
      value.map((arn, i) => keyArn(arn, `${where}[${i}]`)),
    );
  }
  return lists;
}

/** Parses and checks a config document for deployment behind the function URL. */
export function deployConfigFromText(
  source: string,
  text: string,
  options: DeployConfigOptions = {},
): DeployConfig {
  const prefix = checkSecretPrefix(options.secretPrefix ?? DEFAULT_SECRET_PREFIX);
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(source, error instanceof Error ? error.message : String(error));
  }
  const legacyKmsKeyIds = takeLegacyKmsKeyIds(document);
  const found = findReferences(document);
  if (found.problems.length > 0) throw new ConfigErrors(found.problems);
  for (const { path, value } of secretFields(document)) checkSecretField(value, path, prefix);
  for (const reference of found.references) checkReference(reference, prefix);
  // A placeholder must pass every check its field has, including a key's 64 hex characters: the SHA-256 of
  // the reference, in hex, does (and is the same for every use of one reference, as the value will be).
  const placeholders = new Map(
    found.references.map(({ raw }) => [raw, createHash('sha256').update(raw).digest('hex')]),
  );
  const { config, problems } = validateConfig(
    substituteReferences(document, (reference) => placeholders.get(reference.raw)),
    { store: 'dynamodb', original: document },
  );
  if (config === undefined) throw new ConfigErrors(problems);

  config.backends.forEach((backend, i) => {
    if (backend.type === 'filesystem') {
      throw new ConfigError(
        `backends[${i}].type`,
        'a filesystem backend cannot run on Lambda (its disk is temporary and per container): use an s3 backend',
      );
    }
  });
  if (config.credentials.length === 0) {
    throw new ConfigError('credentials', 'at least one credential is required on Lambda');
  }

  const roleBackends = new Set(config.backends.filter(usesFunctionRole).map((b) => b.name));
  const awsBuckets = [
    ...new Set(config.buckets.filter((r) => roleBackends.has(r.backend)).map((r) => r.backendBucket)),
  ].sort();
  const namesOf = (scheme: SecretReference['scheme']): string[] =>
    [...new Set(found.references.filter((r) => r.scheme === scheme).map((r) => r.name))].sort();
  return {
    text: JSON.stringify(document),
    config,
    secretPrefix: prefix,
    secrets: { secretsManager: namesOf('secretsmanager'), ssmParameters: namesOf('ssm') },
    warnings: problems,
    awsBuckets,
    defaultBackendIsAws: roleBackends.has(config.defaultBackend),
    kmsKeys: kmsKeyGrants(config, legacyKmsKeyIds, new Set(placeholders.values())),
  };
}

/** Reads a config file for deployment (see {@link deployConfigFromText}). */
export function readDeployConfig(file: string, options: DeployConfigOptions = {}): DeployConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      file,
      `cannot read the config file: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return deployConfigFromText(file, text, options);
}
