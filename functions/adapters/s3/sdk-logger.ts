import type { Logger } from '../../core/logger.js';

/**
 * The SDK's logger shape over the gateway's. Only warnings and errors get through: at info level the SDK
 * records every command with its input and output, which would double the log of every request.
 */
export function sdkLogger(logger: Logger) {
  const text = (content: unknown[]) =>
    content.map((item) => (item instanceof Error ? item.message : String(item)));
  return {
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (...content: unknown[]) => logger.warn(`s3 client: ${text(content).join(' ')}`),
    error: (...content: unknown[]) => logger.error(`s3 client: ${text(content).join(' ')}`),
  };
}
