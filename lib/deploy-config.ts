import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../functions/core/config/config-error.js';
import { interpolateTree } from '../functions/core/config/interpolate.js';
import { parseConfig, type GatewayConfig, type S3BackendConfig } from '../functions/core/config/schema.js';

/**
 * A gateway config read at synth time, with what the stack derives from it. The stack needs names,
 * backends and bucket routes as written (to scope IAM), so those must be literal; secrets stay
 * `${env:NAME}` references and are resolved only inside the function.
 */
export interface DeployConfig {
  /** The config document as compact JSON (which is YAML too), references left as written: `SEALGATE_CONFIG`. */
  text: string;
  /** The validated config, with each reference replaced by a placeholder. */
  config: GatewayConfig;
  /** Environment variables the config needs from the function's environment (referenced without a default). */
  references: string[];
  /** Buckets on AWS S3 reached with the function's own role: what its IAM policy names. */
  awsBuckets: string[];
  /** True when the default backend is AWS S3 with the function's role: ListBuckets then lists the account's buckets. */
  defaultBackendIsAws: boolean;
}

const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g;

/** Fields that may hold `${env:...}` references in a deployed config: secrets (and a backend's region). */
const REFERENCE_ALLOWED = [
  /^credentials\[\d+\]\.(access_key_id|secret_access_key)$/,
  /^backends\[\d+\]\.(access_key_id|secret_access_key|region)$/,
];

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

/** Whether a backend is AWS S3 reached with the function's role (no endpoint, no keys of its own). */
function usesFunctionRole(backend: GatewayConfig['backends'][number]): backend is S3BackendConfig {
  return backend.type === 's3' && backend.endpoint === undefined && backend.accessKeyId === undefined;
}

/** Parses and checks a config document for deployment behind the function URL. */
export function deployConfigFromText(source: string, text: string): DeployConfig {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(source, error instanceof Error ? error.message : String(error));
  }
  const found = new Map<string, boolean>();
  collectReferences(document, '', found);
  const placeholders = Object.fromEntries(
    [...found.keys()].map((name) => [name, `sealgate-placeholder-${name}`]),
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
