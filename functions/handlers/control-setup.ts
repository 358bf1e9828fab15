/**
 * Wiring shared by the local server and the Lambda handler: the secret resolver with its sources, the
 * DynamoDB store, and the reload settings read from the environment.
 */
import { SecretResolver, envSecretSource, type SecretSource } from '../core/config/secret-resolver.js';
import { ConfigError } from '../core/config/config-error.js';
import { DEFAULT_RELOAD_INTERVAL_MS } from '../core/control/control-plane.js';
import type { AwsSecretSourcesOptions } from '../adapters/aws-secret-sources.js';

/** How long a resolved secret is served from the cache, by default: a rotation takes effect within it. */
export const DEFAULT_SECRETS_TTL_MS = 60_000;

/** The AWS endpoint and region the control plane's own calls use (DynamoDB, Secrets Manager, SSM). */
export interface ControlAwsOptions {
  /** One endpoint for all three (moto, LocalStack); default AWS's regional endpoints. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

function milliseconds(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(name, 'must be a number of milliseconds');
  return value;
}

export function reloadIntervalFrom(env: Record<string, string | undefined>): number {
  return milliseconds(env, 'SEALGATE_RELOAD_INTERVAL_MS', DEFAULT_RELOAD_INTERVAL_MS);
}

/**
 * How long a request may take to arrive, headers and body (`SEALGATE_REQUEST_TIMEOUT_MS`; 0, the default,
 * is no limit). A deployment with jobs sets it within the job's write bound, so that no write accepted
 * before a gate can land after the job has swept.
 */
export function requestTimeoutFrom(env: Record<string, string | undefined>): number {
  return milliseconds(env, 'SEALGATE_REQUEST_TIMEOUT_MS', 0);
}

export function secretsTtlFrom(env: Record<string, string | undefined>): number {
  return milliseconds(env, 'SEALGATE_SECRETS_TTL_MS', DEFAULT_SECRETS_TTL_MS);
}

export function controlAwsFrom(env: Record<string, string | undefined>): ControlAwsOptions {
  return {
    endpoint: env.SEALGATE_AWS_ENDPOINT || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
  };
}

/**
 * A source whose AWS client is made on its first use: most configs reference no AWS secret, and a Lambda
 * cold start should not pay for loading clients it never calls.
 */
function lazySource(scheme: 'secretsmanager' | 'ssm', options: AwsSecretSourcesOptions): SecretSource {
  let source: Promise<SecretSource> | undefined;
  return {
    async get(name) {
      source ??= import('../adapters/aws-secret-sources.js').then((m) => m.awsSecretSources(options)[scheme]);
      return (await source).get(name);
    },
  };
}

/** The resolver for `${env:...}`, `${secretsmanager:...}` and `${ssm:...}` references. */
export function secretResolver(
  env: Record<string, string | undefined>,
  aws: ControlAwsOptions,
  ttlMs = secretsTtlFrom(env),
): SecretResolver {
  const options: AwsSecretSourcesOptions = {
    region: aws.region,
    secretsManagerEndpoint: aws.endpoint,
    ssmEndpoint: aws.endpoint,
    credentials: aws.credentials,
  };
  return new SecretResolver({
    sources: {
      env: envSecretSource(env),
      secretsmanager: lazySource('secretsmanager', options),
      ssm: lazySource('ssm', options),
    },
    ttlMs,
  });
}

/** How jobs run on this instance, from the environment (see the README's "Jobs"). */
export interface JobSettings {
  pageSize: number;
  budgetMs: number;
  writeBoundMs: number;
  concurrency: number;
}

function positiveInteger(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(name, 'must be a whole number');
  return value;
}

export function jobSettingsFrom(
  env: Record<string, string | undefined>,
  defaults: Partial<JobSettings> = {},
): JobSettings {
  return {
    pageSize: Math.max(1, positiveInteger(env, 'SEALGATE_JOB_PAGE_SIZE', defaults.pageSize ?? 1000)),
    budgetMs: positiveInteger(env, 'SEALGATE_JOB_BUDGET_MS', defaults.budgetMs ?? 20_000),
    writeBoundMs: positiveInteger(env, 'SEALGATE_JOB_WRITE_BOUND_MS', defaults.writeBoundMs ?? 30_000),
    concurrency: Math.max(1, positiveInteger(env, 'SEALGATE_JOB_CONCURRENCY', defaults.concurrency ?? 4)),
  };
}
