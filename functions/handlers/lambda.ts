/**
 * The Lambda entry point behind the function URL. Everything here runs once per container, at init: the
 * config, the backends (and their SDK clients) and the gateway are built at module scope and reused by every
 * invocation the container serves. Nothing depends on state kept between invocations.
 */
import { createBackends } from '../adapters/create-backends.js';
import { createKeyServices } from '../adapters/create-key-services.js';
import { streamHandle } from '../adapters/function-url.js';
import { ConfigError } from '../core/config/config-error.js';
import { parseConfigText } from '../core/config/config-text.js';
import type { GatewayConfig } from '../core/config/schema.js';
import { createGateway } from '../core/gateway.js';
import { jsonLogger, parseLevel } from '../core/logger.js';

/**
 * Reads the config from `SEALGATE_CONFIG` (YAML or JSON text, as the stack sets it), resolving `${env:NAME}`
 * references against the function's environment.
 */
export function configFromEnvironment(env: Record<string, string | undefined>): GatewayConfig {
  const text = env.SEALGATE_CONFIG;
  if (text === undefined || text.trim() === '') {
    throw new ConfigError(
      'SEALGATE_CONFIG',
      'is not set: the function needs its config in this environment variable',
    );
  }
  const config = parseConfigText(text, env, 'SEALGATE_CONFIG');
  if (config.credentials.length === 0) {
    // The local server can generate a credential into its data folder; a Lambda container has none to keep it in.
    throw new ConfigError('credentials', 'at least one credential is required on Lambda');
  }
  return config;
}

const logger = jsonLogger(parseLevel(process.env.SEALGATE_LOG_LEVEL));

function init() {
  try {
    const config = configFromEnvironment(process.env);
    return createGateway({
      config,
      backends: createBackends(config.backends),
      keyServices: createKeyServices(config.backends),
      logger,
    });
  } catch (error) {
    // An init failure fails every invocation of this container; say why once, in the log.
    logger.error('init failed', { error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}

export const handler = streamHandle(init(), logger);
