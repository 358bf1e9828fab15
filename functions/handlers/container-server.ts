/**
 * The container data plane's server: the gateway core as a plain Node HTTP server (the local mode's
 * adapter), on the control plane every function of the stack runs on. Its config is the DynamoDB table named
 * by `SEALGATE_CONFIG_TABLE`, seeded from `SEALGATE_INITIAL_CONFIG` when empty, with secrets resolved at run
 * time. Its jobs are executions of the state machine named by `SEALGATE_JOB_STATE_MACHINE`. So the
 * container plane and the function URL serve the same config, credentials, keys and jobs.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KEEP_ALIVE_TIMEOUT_MS, behindLoadBalancer } from '../adapters/load-balancer.js';
import { createNodeServer } from '../adapters/node-http.js';
import type { ControlPlane } from '../core/control/control-plane.js';
import { createGateway } from '../core/gateway.js';
import type { Logger } from '../core/logger.js';
import { requestTimeoutFrom } from './control-setup.js';
import { startLambdaControl } from './lambda-control.js';
import { sfnJobsService } from './sfn-jobs.js';

export interface ContainerServerOptions {
  env: Record<string, string | undefined>;
  logger: Logger;
  /** `0.0.0.0` in a task: the load balancer reaches it on the task's own address. */
  host: string;
  /** 0 picks a free port. */
  port: number;
}

export interface ContainerServer {
  /** `http://HOST:PORT`, as the load balancer's target. */
  endpoint: string;
  server: Server;
  control: ControlPlane;
  /**
   * Stops taking connections and resolves once the requests in flight have finished. The task's stop
   * timeout bounds how long that may take.
   */
  close(): Promise<void>;
}

/** Starts the server once the config has loaded, so a task takes traffic only when it can serve it. */
export async function startContainerServer(options: ContainerServerOptions): Promise<ContainerServer> {
  const { env, logger } = options;
  const { control, store } = await startLambdaControl(env, logger);
  const gateway = createGateway({ control, jobs: sfnJobsService(env, control, store), logger });
  const server = createNodeServer({ gateway: behindLoadBalancer(gateway), logger });
  server.requestTimeout = requestTimeoutFrom(env);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
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
    endpoint: `http://${host}:${port}`,
    server,
    control,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections between requests would hold the close open until they time out.
        server.closeIdleConnections();
      }),
  };
}
