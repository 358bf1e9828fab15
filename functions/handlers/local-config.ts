import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Credential } from '../core/auth/credentials.js';
import { ConfigError } from '../core/config/config-error.js';
import { parseConfigText } from '../core/config/config-text.js';
import type { GatewayConfig } from '../core/config/schema.js';

export interface LocalConfigOptions {
  /** A YAML config file; without one, a single filesystem backend named `local` stores under `dataDir`. */
  configFile?: string;
  /** The data folder: the default backend's storage and the generated credentials file. */
  dataDir: string;
  env: Record<string, string | undefined>;
}

export interface LocalConfig {
  config: GatewayConfig;
  /** Set when credentials were generated on this start: the one time the secret is shown. */
  generated?: Credential;
  /** Where generated credentials are kept. */
  credentialsFile: string;
}

/** Reads and validates the config file, resolving relative backend paths against the file's folder. */
export function loadConfigFile(file: string, env: Record<string, string | undefined>): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, error instanceof Error ? error.message : String(error));
  }
  const config = parseConfigText(text, env, file);
  const base = dirname(resolve(file));
  for (const backend of config.backends) {
    if (backend.type === 'filesystem' && !isAbsolute(backend.path)) backend.path = join(base, backend.path);
  }
  return config;
}

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

/**
 * The local server's configuration: the config file (or the one-backend default), plus credentials from
 * SEALGATE_ACCESS_KEY_ID / SEALGATE_SECRET_ACCESS_KEY (an admin). With no credentials from either, an
 * admin credential is generated once and kept in the data folder with mode 0600.
 */
export function loadLocalConfig(options: LocalConfigOptions): LocalConfig {
  const dataDir = resolve(options.dataDir);
  const config: GatewayConfig = options.configFile
    ? loadConfigFile(options.configFile, options.env)
    : {
        backends: [{ name: 'local', type: 'filesystem', path: dataDir, encryption: { mode: 'none' } }],
        defaultBackend: 'local',
        buckets: [],
        credentials: [],
        domains: [],
      };
  const credentialsFile = join(dataDir, '.sealgate', 'credentials.json');
  const id = options.env.SEALGATE_ACCESS_KEY_ID;
  const secret = options.env.SEALGATE_SECRET_ACCESS_KEY;
  if ((id === undefined || id === '') !== (secret === undefined || secret === '')) {
    throw new ConfigError(
      'environment',
      'set both SEALGATE_ACCESS_KEY_ID and SEALGATE_SECRET_ACCESS_KEY, or neither',
    );
  }
  if (id && secret) {
    if (config.credentials.some((c) => c.accessKeyId === id)) {
      throw new ConfigError(
        'SEALGATE_ACCESS_KEY_ID',
        `access key id ${id} is also declared in the config file`,
      );
    }
    config.credentials.push({ accessKeyId: id, secretAccessKey: secret, admin: true, grants: [] });
  }
  let generated: Credential | undefined;
  if (config.credentials.length === 0) {
    const { credential, created } = readOrCreateCredentials(credentialsFile);
    config.credentials.push(credential);
    if (created) generated = credential;
  }
  return { config, generated, credentialsFile };
}
