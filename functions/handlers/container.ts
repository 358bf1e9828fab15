/**
 * The container data plane's entry point (lib/container-data-plane.ts builds the service that runs it):
 * the gateway as a plain Node HTTP server on `0.0.0.0:SEALGATE_PORT` (default 8080), behind the load
 * balancer. It has none of the function URL's body or response limits. The environment is the gateway
 * function's (see container-server.ts), and no secret is in it.
 *
 * ECS stops a task with SIGTERM once the load balancer has drained it, and with SIGKILL after the task's
 * stop timeout. The server stops taking connections on SIGTERM and exits when the requests in flight are done.
 */
import { EmfMetricsSink, powertoolsLogger } from '../adapters/powertools-observability.js';
import { ConfigError } from '../core/config/config-error.js';
import { useMetricsSink } from '../core/metrics.js';
import { startContainerServer } from './container-server.js';

/** How often the metrics go out: CloudWatch's standard resolution. */
const METRICS_FLUSH_MS = 60_000;

const DEFAULT_PORT = 8080;

function portFrom(env: Record<string, string | undefined>): number {
  const raw = env.SEALGATE_PORT;
  if (raw === undefined || raw === '') return DEFAULT_PORT;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) throw new ConfigError('SEALGATE_PORT', 'must be a port number');
  return port;
}

// The same service names as the function's, so the stack's dashboard and alarms count both planes.
const logger = powertoolsLogger('sealgate-gateway', process.env.SEALGATE_LOG_LEVEL);
const metrics = process.env.SEALGATE_METRICS === 'emf' ? new EmfMetricsSink('sealgate-gateway') : undefined;
useMetricsSink(metrics);
if (metrics) setInterval(() => metrics.flush(), METRICS_FLUSH_MS).unref();

try {
  const server = await startContainerServer({
    env: process.env,
    logger,
    host: '0.0.0.0',
    port: portFrom(process.env),
  });
  logger.info('serving', { endpoint: server.endpoint });
  const stop = (signal: string) => {
    logger.info('stopping', { signal });
    server.close().then(
      () => {
        metrics?.flush();
        logger.info('stopped');
      },
      (error: unknown) => {
        logger.error('stop failed', { error: error instanceof Error ? error.message : String(error) });
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (error) {
  // ECS replaces a task that exits; say why once, in the log.
  logger.error('start failed', { error: error instanceof Error ? error.message : String(error) });
  // Exit once the record is out: stdout to a pipe is written asynchronously.
  process.stdout.write('', () => process.exit(1));
}
