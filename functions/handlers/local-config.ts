/**
 * The local server's own config facts: which store holds the config (a YAML file, the default file in the
 * data folder, or a DynamoDB table), and the credentials it adds to whatever config runs (an admin from
 * SEALGATE_ACCESS_KEY_ID / SEALGATE_SECRET_ACCESS_KEY, or one generated into the data folder while the
 * config declares none).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Credential } from '../core/auth/credentials.js';
import { ConfigError } from '../core/config/config-error.js';
import type { GatewayConfig } from '../core/config/schema.js';
import type { ConfigDocument } from '../core/control/config-store.js';

/** The data folder's private state: generated credentials, the file store's history, the fingerprint key. */
export function stateDirOf(dataDir: string): string {
  return join(resolve(dataDir), '.sealgate');
}

/** The config file used when none is given: created on first start with one filesystem backend. */
export function defaultConfigFile(dataDir: string): string {
  return join(stateDirOf(dataDir), 'config.yaml');
}

/** The default config: one filesystem backend, `local`, storing in the data folder (relative to the file). */
export const DEFAULT_DOCUMENT: ConfigDocument = {
  backends: [{ name: 'local', type: 'filesystem', path: '..' }],
};

export const DEFAULT_CONFIG_TEXT =
  '# Written by sealgate on first start. Edit it (the server reloads on save or SIGHUP), or change it with\n' +
  '# `sealgate config apply`. Paths are relative to this folder: ".." is the data folder.\n' +
  'backends:\n  - name: local\n    type: filesystem\n    path: ..\n';

function readOrCreateCredentials(file: string): { credential: Credential; created: boolean } {
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as {
      access_key_id: string;
      secret_access_key: string;
    };
    return {
      credential: {
        accessKeyId: stored.access_key_id,
        secretAccessKey: stored.secret_access_key,
        admin: true,
        grants: [],
      },
      created: false,
    };
  }
  const credential: Credential = {
    accessKeyId: 'SG' + randomBytes(9).toString('hex').toUpperCase(),
    secretAccessKey: randomBytes(30).toString('base64url'),
    admin: true,
    grants: [],
  };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(
    file,
    JSON.stringify(
      { access_key_id: credential.accessKeyId, secret_access_key: credential.secretAccessKey },
      null,
      2,
    ) + '\n',
    { mode: 0o600, flag: 'wx' },
  );
  chmodSync(file, 0o600);
  return { credential, created: true };
}

export interface LocalCredentials {
  /** What the server adds to each config it runs. */
  extra: (config: GatewayConfig) => Credential[];
  /** Where a generated credential is kept. */
  credentialsFile: string;
  /** Set when a credential was generated on this start: the one time its secret is shown. */
  generated?: Credential;
}

/**
 * The credentials the local server adds: the environment's admin (both variables set), and, while the running
 * config declares no credential, the generated one kept in the data folder with mode 0600.
 */
export function localCredentials(dataDir: string, env: Record<string, string | undefined>): LocalCredentials {
  const credentialsFile = join(stateDirOf(dataDir), 'credentials.json');
  const id = env.SEALGATE_ACCESS_KEY_ID;
  const secret = env.SEALGATE_SECRET_ACCESS_KEY;
  if ((id === undefined || id === '') !== (secret === undefined || secret === '')) {
    throw new ConfigError(
      'environment',
      'set both SEALGATE_ACCESS_KEY_ID and SEALGATE_SECRET_ACCESS_KEY, or neither',
    );
  }
  const fromEnv: Credential | undefined =
    id && secret ? { accessKeyId: id, secretAccessKey: secret, admin: true, grants: [] } : undefined;
  let file: Credential | undefined;
  const result: LocalCredentials = {
    credentialsFile,
    extra(config) {
      const declared = new Set(config.credentials.map((c) => c.accessKeyId));
      const extra: Credential[] = [];
      // The config's own declaration of an id wins over the environment's (a later apply may add it).
      if (fromEnv && !declared.has(fromEnv.accessKeyId)) extra.push(fromEnv);
      if (!fromEnv && config.credentials.length === 0) {
        if (!file) {
          const { credential, created } = readOrCreateCredentials(credentialsFile);
          file = credential;
          if (created) result.generated = credential;
        }
        extra.push(file);
      }
      return extra;
    },
  };
  return result;
}
