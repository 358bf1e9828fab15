/**
 * `${secretsmanager:...}` and `${ssm:...}` sources for the core's SecretResolver, on Powertools' Parameters
 * utility with injected SDK v3 clients. The resolver owns the TTL, so every read here asks Powertools to
 * fetch and to keep nothing (`forceFetch`, `maxAge: 0`): its own cache (5 s by default) would otherwise
 * serve a rotated secret's old value past the resolver's TTL, and hold a second copy of every secret.
 */
import { GetParameterError } from '@aws-lambda-powertools/parameters';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { SecretSourceError, type SecretSource } from '../core/config/secret-resolver.js';

export interface AwsSecretSourcesOptions {
  /** The region of both services; the SDK's own resolution (`AWS_REGION`) when unset. */
  region?: string;
  secretsManagerEndpoint?: string;
  ssmEndpoint?: string;
  /** The SDK's default credential chain when unset. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Both AWS sources, each with a client of its own made from `options`. */
export function awsSecretSources(options: AwsSecretSourcesOptions = {}): {
  secretsmanager: SecretSource;
  ssm: SecretSource;
} {
  const common = { region: options.region, credentials: options.credentials };
  return {
    secretsmanager: secretsManagerSource(
      new SecretsManagerClient({ ...common, endpoint: options.secretsManagerEndpoint }),
    ),
    ssm: ssmSource(new SSMClient({ ...common, endpoint: options.ssmEndpoint })),
  };
}

const NO_CACHE = { forceFetch: true, maxAge: 0 } as const;

/** Secrets Manager's GetSecretValue on `client`: a secret by name or ARN, its SecretString. */
export function secretsManagerSource(client: SecretsManagerClient): SecretSource {
  const provider = new SecretsProvider({ awsSdkV3Client: client });
  return {
    async get(name) {
      let value: string | Uint8Array | undefined;
      try {
        value = await provider.get(name, NO_CACHE);
      } catch (error) {
        throw translate(error, {
          what: `secret ${name}`,
          where: 'Secrets Manager',
          notFound: ['ResourceNotFoundException'],
          permissions: 'secretsmanager:GetSecretValue, and kms:Decrypt on its key',
        });
      }
      if (typeof value === 'string') return value;
      // A config value is text; a binary secret has no one right way to become text.
      throw new SecretSourceError(
        `secret ${name} holds a binary value (SecretBinary): store it as SecretString`,
      );
    },
  };
}

/** SSM's GetParameter WithDecryption on `client`: a parameter by name or ARN (a SecureString decrypted). */
export function ssmSource(client: SSMClient): SecretSource {
  const provider = new SSMProvider({ awsSdkV3Client: client });
  return {
    async get(name) {
      let value: string | undefined;
      try {
        value = await provider.get(name, { ...NO_CACHE, decrypt: true });
      } catch (error) {
        throw translate(error, {
          what: `parameter ${name}`,
          where: 'SSM Parameter Store',
          notFound: ['ParameterNotFound', 'ParameterVersionNotFound'],
          permissions: 'ssm:GetParameter, and kms:Decrypt on a SecureString key',
        });
      }
      if (value === undefined)
        throw new SecretSourceError(`parameter ${name} has no value in SSM Parameter Store`);
      return value;
    },
  };
}

interface Vendor {
  /** `secret NAME`, `parameter /x`. */
  what: string;
  where: string;
  /** The SDK exception names for "no such secret". */
  notFound: string[];
  /** What the caller's role needs, for an access-denied message. */
  permissions: string;
}

// SDK exceptions are told apart by `name`, not `instanceof`: Powertools may hold another copy of the SDK.
function translate(error: unknown, vendor: Vendor): SecretSourceError {
  // Powertools wraps the SDK's exception in a GetParameterError with the same message, the SDK's as cause.
  const cause = error instanceof GetParameterError && error.cause instanceof Error ? error.cause : error;
  const name = cause instanceof Error ? cause.name : '';
  const message = cause instanceof Error ? cause.message : String(cause);
  if (vendor.notFound.includes(name)) {
    return new SecretSourceError(`${vendor.what} was not found in ${vendor.where}`, { cause });
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return new SecretSourceError(
      `access to ${vendor.what} in ${vendor.where} was denied: the role needs ${vendor.permissions}`,
      { cause },
    );
  }
  // AWS error messages name the resource and the problem, never a secret's value.
  return new SecretSourceError(`cannot read ${vendor.what} from ${vendor.where}: ${message}`, { cause });
}
