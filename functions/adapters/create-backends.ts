import type { Backend } from '../core/backend.js';
import type { BackendConfig } from '../core/config/schema.js';
import { FilesystemBackend } from './filesystem-backend.js';
import { S3Backend } from './s3-backend.js';

/** One backend instance per configured backend, keyed by name (created once per process). */
export function createBackends(configs: BackendConfig[]): Map<string, Backend> {
  return new Map(
    configs.map((c): [string, Backend] => [
      c.name,
      c.type === 'filesystem'
        ? new FilesystemBackend({ name: c.name, root: c.path })
        : new S3Backend({
            name: c.name,
            endpoint: c.endpoint,
            region: c.region,
            forcePathStyle: c.forcePathStyle,
            credentials:
              c.accessKeyId !== undefined && c.secretAccessKey !== undefined
                ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }
                : undefined,
          }),
    ]),
  );
}
