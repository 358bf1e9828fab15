/**
 * Where a remote command goes and as whom: the endpoint, the admin credential, the region and the CA
 * bundle, from the command's options and the usual AWS environment variables.
 */
import { readFileSync } from 'node:fs';
import { AdminClient } from './admin-client.js';
import { CliError, EXIT_USAGE } from './output.js';

/** The endpoint when neither `--endpoint`, SEALGATE_ENDPOINT nor AWS_ENDPOINT_URL names one. */
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:9000';

/** The options every remote command takes. */
export interface RemoteOptions {
  endpoint?: string;
  caBundle?: string;
}

/** Where the commands go, and whether the operator named it (for `config validate`: remote or offline). */
export interface ResolvedEndpoint {
  url: URL;
  /** True when given by `--endpoint` or SEALGATE_ENDPOINT (AWS_ENDPOINT_URL and the default are not). */
  explicit: boolean;
}

/** `--endpoint`, else SEALGATE_ENDPOINT, else AWS_ENDPOINT_URL, else {@link DEFAULT_ENDPOINT}. */
export function resolveEndpoint(
  option: string | undefined,
  env: Record<string, string | undefined>,
): ResolvedEndpoint {
  const explicit = option ?? nonEmpty(env.SEALGATE_ENDPOINT);
  const text = explicit ?? nonEmpty(env.AWS_ENDPOINT_URL) ?? DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(
      `the endpoint ${JSON.stringify(text)} is not a URL (expected e.g. ${DEFAULT_ENDPOINT})`,
      EXIT_USAGE,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`the endpoint ${text} must be an http:// or https:// URL`, EXIT_USAGE);
  }
  return { url, explicit: explicit !== undefined };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Builds the client for a remote command: the endpoint (see {@link resolveEndpoint}), credentials from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN if set), region from AWS_REGION /
 * AWS_DEFAULT_REGION, and the CA bundle from `--ca-bundle` or AWS_CA_BUNDLE.
 */
export function adminClientFrom(
  options: RemoteOptions,
  env: Record<string, string | undefined>,
): AdminClient {
  const { url } = resolveEndpoint(options.endpoint, env);
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new CliError(
      'no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to an admin credential of the gateway',
    );
  }
  const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
  const caFile = options.caBundle ?? nonEmpty(env.AWS_CA_BUNDLE);
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile);
    } catch (error) {
      throw new CliError(
        `cannot read the CA bundle ${caFile}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return new AdminClient({
    endpoint: url,
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) },
    region: nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1',
    ca,
  });
}
