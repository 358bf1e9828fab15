/**
 * What every Lambda function of the stack starts from (the gateway's, the job tasks'), and the container
 * data plane's tasks too: the config store the environment names and the control plane over it.
 */
import { createBackends } from '../adapters/create-backends.js';
import { createKeyServices } from '../adapters/create-key-services.js';
import { DynamoConfigStore } from '../adapters/dynamodb-config-store.js';
import { ConfigError } from '../core/config/config-error.js';
import { readConfigYaml } from '../core/config/config-text.js';
import type { ConfigDocument, ConfigStore } from '../core/control/config-store.js';
import { ControlPlane } from '../core/control/control-plane.js';
import { MemoryConfigStore } from '../core/control/memory-config-store.js';
import type { Logger } from '../core/logger.js';
import { controlAwsFrom, reloadIntervalFrom, secretResolver } from './control-setup.js';

function parseDocument(text: string, source: string): ConfigDocument {
  const document = readConfigYaml(text, source);
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new ConfigError(source, 'must be a mapping (the config document)');
  }
  return document as ConfigDocument;
}

/** The store the function's environment names, and the document that seeds an empty one. */
export function storeFromEnvironment(env: Record<string, string | undefined>): {
  store: ConfigStore;
  initial?: ConfigDocument;
} {
  const aws = controlAwsFrom(env);
  if (env.SEALGATE_CONFIG_TABLE) {
    const initial = env.SEALGATE_INITIAL_CONFIG;
    return {
      store: new DynamoConfigStore({
        tableName: env.SEALGATE_CONFIG_TABLE,
        endpoint: aws.endpoint,
        region: aws.region,
      }),
      initial: initial ? parseDocument(initial, 'SEALGATE_INITIAL_CONFIG') : undefined,
    };
  }
  const text = env.SEALGATE_CONFIG;
  if (text === undefined || text.trim() === '') {
    throw new ConfigError(
      'SEALGATE_CONFIG_TABLE',
      'is not set: the function reads its config from this DynamoDB table (or a fixed config from SEALGATE_CONFIG)',
    );
  }
  return {
    store: new MemoryConfigStore(
      parseDocument(text, 'SEALGATE_CONFIG'),
      'this function runs the fixed config of its SEALGATE_CONFIG variable: deploy it with a config table to change the config at run time',
    ),
  };
}

/** The control plane every function of the stack runs on (the gateway's, the job tasks'), and every container task. */
export async function startLambdaControl(
  env: Record<string, string | undefined>,
  log: Logger,
): Promise<{
  control: ControlPlane;
  store: ConfigStore;
}> {
  const { store, initial } = storeFromEnvironment(env);
  const control = await ControlPlane.start({
    store,
    resolver: secretResolver(env, controlAwsFrom(env)),
    backendFactory: (configs) => ({
      backends: createBackends(configs),
      keyServices: createKeyServices(configs),
    }),
    logger: log,
    reloadIntervalMs: reloadIntervalFrom(env),
    initialDocument: initial,
    // The local server can generate a credential into its data folder; a Lambda container or an ECS task has
    // none to keep it in.
    check: (config) =>
      config.credentials.length === 0
        ? [
            {
              severity: 'error',
              path: 'credentials',
              message: 'at least one credential is required on AWS (Lambda or ECS)',
            },
          ]
        : [],
  });
  return { control, store };
}
