import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../functions/core/config/config-error.js';
import { interpolateTree } from '../functions/core/config/interpolate.js';
import { parseConfig, type GatewayConfig } from '../functions/core/config/schema.js';
import { usesFunctionRole } from './backend-signers.js';
import { keyArn, kmsKeyGrants, LEGACY_KMS_KEYS_FIELD, type KmsKeyGrants } from './kms-grants.js';

/**
 * A gateway config read at synth time, with what the stack derives from it. The stack needs names,
 * backends and bucket routes as written (to scope IAM), so those must be literal; secrets stay
 * `${env:NAME}` references and are resolved only inside the function.
 */
export interface DeployConfig {
  /**
   * The config document as compact JSON (which is YAML too), references left as written and deploy-only
   * fields taken out: `SEALGATE_CONFIG`.
   */
  text: string;
  /** The validated config, with each reference replaced by a placeholder. */
  config: GatewayConfig;
  /** Environment variables the config needs from the function's environment (referenced without a default). */
  references: string[];
  /** Buckets on AWS S3 reached with the function's own role: what its IAM policy names. */
  awsBuckets: string[];
  /** True when the default backend is AWS S3 with the function's role: ListBuckets then lists the account's buckets. */
  defaultBackendIsAws: boolean;
  /** KMS key ARNs the function's role may use, by what it does with them. */
  kmsKeys: KmsKeyGrants;
}

const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g;

/** Fields that may hold `${env:...}` references in a deployed config: secrets (and a backend's region). */
const REFERENCE_ALLOWED = [
  /^credentials\[\d+\]\.(access_key_id|secret_access_key)$/,
  /^backends\[\d+\]\.(access_key_id|secret_access_key|region)$/,
  /^backends\[\d+\]\.encryption\.(key|legacy_key)$/,
];

/** The encryption keys the gateway holds itself: each must be exactly one reference to a secret. */
const KEY_FIELDS = ['key', 'legacy_key'];
const WHOLE_REFERENCE = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}$/;

/** Variables Lambda sets itself (and refuses to have set): a config may use them, the stack never maps them. */
function isReserved(name: string): boolean {
  return name.startsWith('AWS_') || name.startsWith('LAMBDA_') || name.startsWith('_');
}

/** Collects `${env:...}` references (not `$${` escapes), checking each sits in a field that may hold one. */
function collectReferences(node: unknown, path: string, found: Map<string, boolean>): void {
  if (typeof node === 'string') {
    for (const part of node.split('$${')) {
      for (const match of part.matchAll(REFERENCE)) {
        if (!REFERENCE_ALLOWED.some((allowed) => allowed.test(path))) {
          throw new ConfigError(
            path,
            `\${env:${match[1]}} cannot be resolved at deploy time: write this value out in the file ` +
              '(the stack reads names, backends and bucket routes at synth time to scope IAM; only secrets may be references)',
          );
        }
        const required = match[2] === undefined;
        found.set(match[1], (found.get(match[1]) ?? false) || required);
      }
    }
  } else if (Array.isArray(node)) {
    node.forEach((item, i) => collectReferences(item, `${path}[${i}]`, found));
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node))
      collectReferences(value, path ? `${path}.${key}` : key, found);
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

/**
 * Checks that `key` and `legacy_key` are each one `${env:NAME}` reference: the stack maps NAME to a Secrets
 * Manager secret. A key written out, a default after `:-`, or a variable Lambda sets would put the key (or
 * where it comes from) in clear in the template.
 */
function checkKeyReferences(document: unknown): void {
  for (const [block, path] of encryptionBlocks(document)) {
    for (const field of KEY_FIELDS) {
      const value = block[field];
      if (value === undefined || value === null) continue;
      const where = `${path}.${field}`;
      const match = typeof value === 'string' ? WHOLE_REFERENCE.exec(value) : null;
      if (match === null) {
        throw new ConfigError(
          where,
          'a key written in the file would be stored in clear in the CloudFormation template: write ' +
            `'\${env:NAME}' and store the key (64 hex characters) in the Secrets Manager secret <prefix>NAME ` +
            '(sealgate/NAME by default)',
        );
      }
      if (match[2] !== undefined) {
        throw new ConfigError(
          where,
          `\${env:${match[1]}:-...} has a default, which would be a key in clear in the template: ` +
            `write '\${env:${match[1]}}' and store the key in the Secrets Manager secret <prefix>${match[1]} ` +
            `(sealgate/${match[1]} by default)`,
        );
      }
      if (isReserved(match[1])) {
        throw new ConfigError(
          where,
          `\${env:${match[1]}} is a variable Lambda sets itself, not a secret: name a variable of your own, ` +
            'which the stack reads from Secrets Manager',
        );
      }
    }
  }
}

/** Parses and checks a config document for deployment behind the function URL. */
export function deployConfigFromText(source: string, text: string): DeployConfig {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(source, error instanceof Error ? error.message : String(error));
  }
  const legacyKmsKeyIds = takeLegacyKmsKeyIds(document);
  checkKeyReferences(document);
  const found = new Map<string, boolean>();
  collectReferences(document, '', found);
  // A placeholder must pass every check its field has, including a key's 64 hex characters: the SHA-256 of
  // the variable's name, in hex, does (and is the same for every use of one variable, as the value will be).
  const placeholders = Object.fromEntries(
    [...found.keys()].map((name) => [name, createHash('sha256').update(name).digest('hex')]),
  );
  const config = parseConfig(interpolateTree(document, placeholders));

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
  return {
    text: JSON.stringify(document),
    config,
    references: [...found]
      .filter(([name, required]) => required && !isReserved(name))
      .map(([name]) => name)
      .sort(),
    awsBuckets,
    defaultBackendIsAws: roleBackends.has(config.defaultBackend),
    kmsKeys: kmsKeyGrants(config, legacyKmsKeyIds, new Set(Object.values(placeholders))),
  };
}

/** Reads a config file for deployment (see {@link deployConfigFromText}). */
export function readDeployConfig(file: string): DeployConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      file,
      `cannot read the config file: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return deployConfigFromText(file, text);
}
