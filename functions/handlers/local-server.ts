import { watch, type FSWatcher } from 'node:fs';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { basename, dirname, resolve } from 'node:path';
import { createBackends } from '../adapters/create-backends.js';
import type { Backend } from '../core/backend.js';
import { createKeyServices } from '../adapters/create-key-services.js';
import { DynamoConfigStore } from '../adapters/dynamodb-config-store.js';
import { FileConfigStore } from '../adapters/file-config-store.js';
import { LocalJobRunner, type LocalJobRunnerOptions } from '../adapters/local-job-runner.js';
import { createNodeServer } from '../adapters/node-http.js';
import { ConfigError } from '../core/config/config-error.js';
import { readConfigYaml } from '../core/config/config-text.js';
import type { GatewayConfig } from '../core/config/schema.js';
import type { ConfigDocument, ConfigStore } from '../core/control/config-store.js';
import { ControlPlane } from '../core/control/control-plane.js';
import { createGateway } from '../core/gateway.js';
import type { JobStore } from '../core/jobs/job-record.js';
import type { JobEnvironment } from '../core/jobs/job-tasks.js';
import { JobsService } from '../core/jobs/jobs-service.js';
import type { Credential } from '../core/auth/credentials.js';
import type { Logger } from '../core/logger.js';
import {
  controlAwsFrom,
  jobSettingsFrom,
  reloadIntervalFrom,
  secretResolver,
  type ControlAwsOptions,
} from './control-setup.js';
import {
  DEFAULT_CONFIG_TEXT,
  DEFAULT_DOCUMENT,
  defaultConfigFile,
  localCredentials,
  stateDirOf,
} from './local-config.js';

export interface LocalServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  /** A YAML config file (the file store); without it and without `configTable`, `<data>/.sealgate/config.yaml`. */
  configFile?: string;
  /**
   * A DynamoDB config table (the store the Lambda plane uses): the server serves what it holds. With
   * `configFile` too, the file seeds an empty table.
   */
  configTable?: string;
  /** Where the control plane reaches AWS (default: from the environment). */
  aws?: ControlAwsOptions;
  /** How often the store is checked (default SEALGATE_RELOAD_INTERVAL_MS, else 5 s). */
  reloadIntervalMs?: number;
  tls?: { cert: Buffer; key: Buffer };
  env: Record<string, string | undefined>;
  logger: Logger;
  /** How the in-process job runner runs (tests inject crashes and shorten retries). */
  jobRunner?: LocalJobRunnerOptions;
  /** Called at each step of a job page (fault-injection tests crash there). */
  onJobStep?: JobEnvironment['onStep'];
  /** Wraps each backend as a config generation makes it (fault-injection tests fail or stall its calls). */
  wrapBackend?: (backend: Backend, name: string) => Backend;
}

export interface LocalServer {
  /** The endpoint clients use, e.g. http://127.0.0.1:9000. */
  endpoint: string;
  control: ControlPlane;
  jobs: JobsService;
  jobRunner: LocalJobRunner;
  /** The config serving now (it changes on reload). */
  readonly config: GatewayConfig;
  /** Set when credentials were generated on this start: the one time the secret is shown. */
  generated?: Credential;
  /** Where generated credentials are kept. */
  credentialsFile: string;
  /** The config file the server watches, when its store is a file. */
  configFile?: string;
  /** Checks the store now (SIGHUP). */
  reload(): Promise<void>;
  close(): Promise<void>;
}

function wrapped(
  backends: Map<string, Backend>,
  wrap: LocalServerOptions['wrapBackend'],
): Map<string, Backend> {
  if (!wrap) return backends;
  return new Map([...backends].map(([name, backend]) => [name, wrap(backend, name)]));
}

function readDocument(file: string): ConfigDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, error instanceof Error ? error.message : String(error));
  }
  return (readConfigYaml(text, file) ?? {}) as ConfigDocument;
}

function openStore(
  options: LocalServerOptions,
  aws: ControlAwsOptions,
): {
  store: ConfigStore & JobStore;
  file?: string;
  initial?: { document: ConfigDocument; text?: string };
} {
  const tableName = options.configTable ?? options.env.SEALGATE_CONFIG_TABLE;
  if (tableName) {
    return {
      store: new DynamoConfigStore({
        tableName,
        endpoint: aws.endpoint,
        region: aws.region,
        credentials: aws.credentials,
      }),
      initial: options.configFile ? { document: readDocument(options.configFile) } : undefined,
    };
  }
  const stateDir = stateDirOf(options.dataDir);
  if (options.configFile) {
    const file = resolve(options.configFile);
    // A missing file is an error here, not an empty store: the operator named it.
    readDocument(file);
    return { store: new FileConfigStore({ file, stateDir }), file };
  }
  const file = defaultConfigFile(options.dataDir);
  return {
    store: new FileConfigStore({ file, stateDir }),
    file,
    initial: { document: DEFAULT_DOCUMENT, text: DEFAULT_CONFIG_TEXT },
  };
}

/** Reloads when the config file changes (editors often replace the file, so the folder is watched). */
function watchFile(file: string, reload: () => void): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
    if (name !== null && name !== basename(file)) return;
    clearTimeout(timer);
    timer = setTimeout(reload, 50);
  });
  watcher.on('error', () => undefined);
  return watcher;
}

/**
 * Starts the gateway as a plain Node server: the local mode. The container data plane runs the same core on
 * the same Node adapter, with the Lambda plane's control setup (container-server.ts).
 */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const aws = options.aws ?? controlAwsFrom(options.env);
  const credentials = localCredentials(options.dataDir, options.env);
  const { store, file, initial } = openStore(options, aws);
  const control = await ControlPlane.start({
    store,
    resolver: secretResolver(options.env, aws),
    backendFactory: (configs) => ({
      backends: wrapped(createBackends(configs), options.wrapBackend),
      keyServices: createKeyServices(configs),
    }),
    logger: options.logger,
    reloadIntervalMs: options.reloadIntervalMs ?? reloadIntervalFrom(options.env),
    baseDir: file ? dirname(file) : undefined,
    extraCredentials: credentials.extra,
    initialDocument: initial?.document,
    initialText: initial?.text,
  });
  const reloadIntervalMs = control.health().reloadIntervalMs;
  const jobEnv: JobEnvironment = {
    store,
    runtime: () => control.current(),
    now: () => new Date(),
    logger: options.logger,
    // A file store serves this process only, which sees a new gate at once (the start refreshes it); a
    // table is shared with other instances, which see it within their reload interval.
    gateSettleMs: store.kind === 'dynamodb' ? reloadIntervalMs + 1000 : 0,
    ...jobSettingsFrom(options.env),
    onStep: options.onJobStep,
    settingsChanged: () => control.reload(),
  };
  const jobRunner = new LocalJobRunner(jobEnv, options.jobRunner);
  const jobs = new JobsService({
    store,
    runner: jobRunner,
    runtime: () => control.current(),
    now: () => new Date(),
    refresh: () => control.reload(),
  });
  const gateway = createGateway({ control, jobs, logger: options.logger });
  const server = createNodeServer({ gateway, logger: options.logger, tls: options.tls });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const reload = () =>
    control.reload().catch((error: unknown) => {
      options.logger.warn('config reload failed', {
        error: error instanceof Error ? error.message : String(error),
      });
    });
  const watcher = file ? watchFile(file, () => void reload()) : undefined;
  // Jobs this server was running when it last stopped go on from their cursors.
  const resumed = await jobRunner.resumeUnfinished(await store.listJobs());
  if (resumed.length > 0) options.logger.info('unfinished jobs resumed', { executions: resumed.length });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    endpoint: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    control,
    jobs,
    jobRunner,
    get config() {
      return control.runtime.config;
    },
    generated: credentials.generated,
    credentialsFile: credentials.credentialsFile,
    configFile: file,
    reload,
    close: async () => {
      await jobRunner.close();
      await new Promise<void>((resolve, reject) => {
        watcher?.close();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
