import type { AddressInfo } from 'node:net';
import { createBackends } from '../adapters/create-backends.js';
import { createKeyServices } from '../adapters/create-key-services.js';
import { createNodeServer } from '../adapters/node-http.js';
import { createGateway } from '../core/gateway.js';
import type { Logger } from '../core/logger.js';
import { loadLocalConfig, type LocalConfig } from './local-config.js';

export interface LocalServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  configFile?: string;
  tls?: { cert: Buffer; key: Buffer };
  env: Record<string, string | undefined>;
  logger: Logger;
}

export interface LocalServer extends LocalConfig {
  /** The endpoint clients use, e.g. http://127.0.0.1:9000. */
  endpoint: string;
  close(): Promise<void>;
}

/** Starts the gateway as a plain Node server: the local mode, and the container data plane's core. */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const local = loadLocalConfig(options);
  const gateway = createGateway({
    config: local.config,
    backends: createBackends(local.config.backends),
    keyServices: createKeyServices(local.config.backends),
    logger: options.logger,
  });
  const server = createNodeServer({ gateway, logger: options.logger, tls: options.tls });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    ...local,
    endpoint: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
