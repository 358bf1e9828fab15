import type { BackendConfig } from '../core/config/schema.js';
import { CachingKeyService } from '../core/encryption/data-key-cache.js';
import type { KeyService } from '../core/encryption/kms.js';
import { KmsKeyService } from './kms-key-service.js';

/**
 * KMS credentials for a backend: an S3 backend's static keys when they belong to the same account as KMS,
 * else the SDK's default credential chain (undefined).
 *
 * The static keys are taken when the backend is AWS S3 (no `endpoint`), or when KMS is not AWS's either
 * (`kms_endpoint` set: moto, LocalStack and other local setups, where one account serves both). An
 * S3-compatible store's keys (MinIO, R2, Wasabi...) are never sent to AWS KMS: they would not sign for it.
 */
function kmsCredentials(config: BackendConfig): { accessKeyId: string; secretAccessKey: string } | undefined {
  if (config.type !== 's3' || config.accessKeyId === undefined || config.secretAccessKey === undefined) {
    return undefined;
  }
  const sameAccount = config.endpoint === undefined || config.encryption.kms?.endpoint !== undefined;
  return sameAccount
    ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
    : undefined;
}

/**
 * One KMS key service per backend, keyed by backend name (created once per process, no network call until
 * used). Every backend gets one, not only those in aws-kms-envelope mode now: objects written under that mode
 * keep needing KMS to be read after the mode changes. With `kms_cache_seconds` set, each has its own data-key
 * cache; a new config makes new services, and so new, empty caches.
 */
export function createKeyServices(configs: BackendConfig[]): Map<string, KeyService> {
  const services = new Map<string, KeyService>();
  for (const config of configs) {
    // The schema always fills `kms`; the fallback repeats its default for hand-built configs.
    const kms = config.encryption.kms ?? { region: config.type === 's3' ? config.region : 'us-east-1' };
    const service = new KmsKeyService({
      endpoint: kms.endpoint,
      region: kms.region,
      credentials: kmsCredentials(config),
    });
    services.set(config.name, kms.dataKeyCache ? new CachingKeyService(service, kms.dataKeyCache) : service);
  }
  return services;
}
