#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../core/config/config-error.js';
import { jsonLogger, parseLevel } from '../core/logger.js';
import { startLocalServer } from './local-server.js';

const USAGE = `Usage: sealgate serve [--config FILE] [--host ADDR] [--port N] [--data DIR] [--tls-cert FILE --tls-key FILE]

  --config FILE    YAML config (backends, bucket routes, credentials); optional
  --host ADDR      address to listen on (default 127.0.0.1, or SEALGATE_HOST)
  --port N         port to listen on (default 9000, or SEALGATE_PORT)
  --data DIR       data folder: the default backend's storage and generated credentials
                   (default ./data, or SEALGATE_DATA)
  --tls-cert FILE  serve HTTPS with this certificate (PEM) ...
  --tls-key FILE   ... and this private key (PEM)
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals[0] !== 'serve' || positionals.length > 1) {
    process.stderr.write(USAGE);
    return values.help ? 0 : 2;
  }
  const env = process.env;
  const port = Number(values.port ?? env.SEALGATE_PORT ?? 9000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`sealgate: --port must be an integer from 0 to 65535\n`);
    return 2;
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    process.stderr.write('sealgate: --tls-cert and --tls-key go together\n');
    return 2;
  }
  const tls =
    values['tls-cert'] !== undefined && values['tls-key'] !== undefined
      ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) }
      : undefined;
  const logger = jsonLogger(parseLevel(env.SEALGATE_LOG_LEVEL));
  const server = await startLocalServer({
    host: values.host ?? env.SEALGATE_HOST ?? '127.0.0.1',
    port,
    dataDir: values.data ?? env.SEALGATE_DATA ?? 'data',
    configFile: values.config ?? env.SEALGATE_CONFIG,
    tls,
    env,
    logger,
  });
  const out = process.stdout;
  out.write(`Sealgate is serving S3 on ${server.endpoint}\n`);
  if (server.generated) {
    out.write(
      `\nGenerated credentials (shown once; kept in ${server.credentialsFile}, mode 0600):\n` +
        `  access key id:     ${server.generated.accessKeyId}\n` +
        `  secret access key: ${server.generated.secretAccessKey}\n\n` +
        `Try it:\n` +
        `  AWS_ACCESS_KEY_ID=${server.generated.accessKeyId} AWS_SECRET_ACCESS_KEY=${server.generated.secretAccessKey} ` +
        `AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url ${server.endpoint} s3 mb s3://my-bucket\n\n`,
    );
  } else if (server.config.credentials.length === 1 && !env.SEALGATE_ACCESS_KEY_ID && !values.config) {
    out.write(
      `Credentials: access key id ${server.config.credentials[0].accessKeyId}, secret in ${server.credentialsFile}\n`,
    );
  }
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof ConfigError) process.stderr.write(`sealgate: ${error.message}\n`);
    else process.stderr.write(`sealgate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
