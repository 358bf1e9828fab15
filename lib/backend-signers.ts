/**
 * Which of a backend's AWS calls the function's role signs: what the stack may grant it. A backend that
 * signs with access keys of its own needs its permissions on those keys' IAM user instead.
 */
import type { BackendConfig, S3BackendConfig } from '../functions/core/config/schema.js';

/** Whether a backend is AWS S3 reached with the function's role (no endpoint, no keys of its own). */
export function usesFunctionRole(backend: BackendConfig): backend is S3BackendConfig {
  return backend.type === 's3' && backend.endpoint === undefined && backend.accessKeyId === undefined;
}

/**
 * Whether the function's role signs a backend's KMS calls. The same rule as `kmsCredentials` in
 * functions/adapters/create-key-services.ts: an S3 backend's own keys sign them when the backend is AWS S3
 * or `kms_endpoint` is set; otherwise the default credential chain does, which on Lambda is the role.
 */
export function roleSignsKms(backend: BackendConfig): boolean {
  if (backend.type !== 's3' || backend.accessKeyId === undefined) return true;
  return backend.endpoint !== undefined && backend.encryption.kms?.endpoint === undefined;
}
