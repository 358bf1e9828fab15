/**
 * `sealgate serve`: the gateway as a plain local server. The action resolves only once the server has
 * stopped (SIGINT or SIGTERM); SIGHUP makes it check its config store at once.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { jsonLogger, parseLevel } from '../core/logger.js';
import type { LocalServer } from '../handlers/local-server.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo, type SetExitCode } from './output.js';

interface ServeOptions {
  config?: string;
  configTable?: string;
  host?: string;
  port?: string;
  data?: string;
  tlsCert?: string;
  tlsKey?: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function portNumber(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535)
    throw new CliError('--port must be an integer from 0 to 65535', EXIT_USAGE);
  return port;
}

function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The access key id of the credential kept in the data folder, when it is one the server runs with (its
 * secret stays in the file; only the id is read).
 */
function keptCredentialId(server: LocalServer): string | undefined {
  let stored: unknown;
  try {
    stored = JSON.parse(readFileSync(server.credentialsFile, 'utf8'));
  } catch {
    return undefined;
  }
  const id = (stored as { access_key_id?: unknown } | null)?.access_key_id;
  return typeof id === 'string' && server.config.credentials.some((c) => c.accessKeyId === id)
    ? id
    : undefined;
}

function banner(server: LocalServer): string {
  let text = `Sealgate is serving S3 on ${server.endpoint}\n`;
  const generated = server.generated;
  if (generated) {
    text +=
      `\nGenerated credentials (shown once; kept in ${server.credentialsFile}, mode 0600):\n` +
      `  access key id:     ${generated.accessKeyId}\n` +
      `  secret access key: ${generated.secretAccessKey}\n\n` +
      `Try it:\n` +
      `  AWS_ACCESS_KEY_ID=${generated.accessKeyId} AWS_SECRET_ACCESS_KEY=${generated.secretAccessKey} ` +
      `AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url ${server.endpoint} s3 mb s3://my-bucket\n\n`;
  } else {
    const kept = keptCredentialId(server);
    if (kept !== undefined)
      text += `Credentials: access key id ${kept}, secret in ${server.credentialsFile}\n`;
  }
  return text;
}

export function serveCommand(io: CliIo, setExitCode: SetExitCode): Command {
  return new Command('serve')
    .description('serve S3 (and the admin API) on this machine')
    .option(
      '--config <file>',
      'YAML config (backends, bucket routes, credentials); default SEALGATE_CONFIG, else <data>/.sealgate/config.yaml',
    )
    .option(
      '--config-table <name>',
      'serve the config held in this DynamoDB table (default SEALGATE_CONFIG_TABLE); --config then seeds an empty table',
    )
    .option('--host <addr>', 'address to listen on (default 127.0.0.1, or SEALGATE_HOST)')
    .option('--port <n>', 'port to listen on (default 9000, or SEALGATE_PORT)')
    .option(
      '--data <dir>',
      "data folder: the default backend's storage and generated credentials (default ./data, or SEALGATE_DATA)",
    )
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM) ...')
    .option('--tls-key <file>', '... and this private key (PEM)')
    .addHelpText(
      'after',
      '\nLog level: SEALGATE_LOG_LEVEL (debug, info, warn, error, silent; default info).\n' +
        'Signals: SIGHUP checks the config store now; SIGINT and SIGTERM stop the server.',
    )
    .action(async (options: ServeOptions) => {
      const env = io.env;
      const port = portNumber(options.port ?? nonEmpty(env.SEALGATE_PORT) ?? '9000');
      if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
        throw new CliError('--tls-cert and --tls-key go together', EXIT_USAGE);
      }
      const tls =
        options.tlsCert !== undefined && options.tlsKey !== undefined
          ? { cert: readPem(options.tlsCert), key: readPem(options.tlsKey) }
          : undefined;
      // Loaded here, not at the top: the server pulls in the AWS SDK, which the operator's remote commands
      // (and their start-up time) do without.
      const { startLocalServer } = await import('../handlers/local-server.js');
      const server = await startLocalServer({
        host: options.host ?? nonEmpty(env.SEALGATE_HOST) ?? '127.0.0.1',
        port,
        dataDir: options.data ?? nonEmpty(env.SEALGATE_DATA) ?? 'data',
        configFile: options.config ?? nonEmpty(env.SEALGATE_CONFIG),
        configTable: options.configTable ?? nonEmpty(env.SEALGATE_CONFIG_TABLE),
        tls,
        env,
        logger: jsonLogger(parseLevel(env.SEALGATE_LOG_LEVEL)),
      });
      io.stdout(banner(server));
      setExitCode(await untilStopped(server, io));
    });
}

/** Waits for SIGINT or SIGTERM, then closes the server; SIGHUP reloads meanwhile. */
function untilStopped(server: LocalServer, io: CliIo): Promise<number> {
  const signals = io.signals ?? process;
  return new Promise((resolve) => {
    // The server logs a failed reload itself; the running config stays.
    const reload = () => void server.reload();
    const stop = () => {
      signals.off('SIGINT', stop);
      signals.off('SIGTERM', stop);
      signals.off('SIGHUP', reload);
      server.close().then(
        () => resolve(EXIT_OK),
        (error: unknown) => {
          io.stderr(
            `sealgate: closing the server failed: ${error instanceof Error ? error.message : String(error)}\n`,
          );
          resolve(EXIT_FAILURE);
        },
      );
    };
    signals.on('SIGINT', stop);
    signals.on('SIGTERM', stop);
    signals.on('SIGHUP', reload);
  });
}
