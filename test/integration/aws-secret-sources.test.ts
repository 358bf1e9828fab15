/**
 * The Secrets Manager and SSM sources against moto on loopback (no mocks of the services), resolved through
 * the core's SecretResolver with an injected clock: rotation within and after the TTL, a JSON secret's
 * `#field`, and not-found errors that name the secret and hold no value. Access denied, which moto does not
 * enforce without IAM set up, is fed to a real client as the service's own exception.
 */
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  awsSecretSources,
  secretsManagerSource,
  type AwsSecretSourcesOptions,
} from '../../functions/adapters/aws-secret-sources.js';
import { findReferences, type SecretReference } from '../../functions/core/config/references.js';
import { SecretResolver, SecretSourceError } from '../../functions/core/config/secret-resolver.js';
import { useMoto } from '../support/moto.js';
import { rejected } from '../support/thrown.js';

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const TTL_MS = 60_000;

const ADMIN_SECRET = 'admin-secret-value-v1-7f3a';
const ROTATED_SECRET = 'admin-secret-value-v2-91c4';
const JSON_SECRET = { access_key_id: 'AKIAJSONFIELD', secret_access_key: 'json-field-value-5d2e' };
const PLAIN_SECRET = 'plain-text-not-json-value-0b8e';
const PARAMETER_VALUE = 'ssm-securestring-value-3c9d';
const ALL_VALUES = [
  ADMIN_SECRET,
  ROTATED_SECRET,
  JSON_SECRET.secret_access_key,
  PLAIN_SECRET,
  PARAMETER_VALUE,
];

const moto = useMoto();

function sourcesOptions(): AwsSecretSourcesOptions {
  return {
    region: REGION,
    credentials: CREDENTIALS,
    secretsManagerEndpoint: moto.endpoint,
    ssmEndpoint: moto.endpoint,
  };
}

/** The one reference in `text`, found as the config loader finds it. */
function referenceIn(text: string): SecretReference {
  const { references, problems } = findReferences({ value: text });
  expect(problems).toEqual([]);
  expect(references).toHaveLength(1);
  return references[0];
}

/** A Secrets Manager client on moto that counts the requests it sends. */
function countingClient(): { client: SecretsManagerClient; requests: () => number } {
  const client = new SecretsManagerClient({
    region: REGION,
    credentials: CREDENTIALS,
    endpoint: moto.endpoint,
  });
  let requests = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      requests++;
      return next(args);
    },
    { step: 'initialize' },
  );
  return { client, requests: () => requests };
}

function clock(): { now: () => number; advance(ms: number): void } {
  let at = 1_000_000;
  return { now: () => at, advance: (ms) => void (at += ms) };
}

// Sets secrets up as an operator would, with the SDK clients, outside the sources under test.
let secrets: SecretsManagerClient;

beforeAll(async () => {
  const clientConfig = { region: REGION, credentials: CREDENTIALS, endpoint: moto.endpoint };
  secrets = new SecretsManagerClient(clientConfig);
  const ssm = new SSMClient(clientConfig);
  await secrets.send(new CreateSecretCommand({ Name: 'sealgate/admin', SecretString: ADMIN_SECRET }));
  await secrets.send(
    new CreateSecretCommand({ Name: 'sealgate/backend', SecretString: JSON.stringify(JSON_SECRET) }),
  );
  await secrets.send(new CreateSecretCommand({ Name: 'sealgate/plain', SecretString: PLAIN_SECRET }));
  await secrets.send(
    new CreateSecretCommand({
      Name: 'sealgate/binary',
      SecretBinary: new TextEncoder().encode('binary-bytes'),
    }),
  );
  await ssm.send(
    new PutParameterCommand({ Name: '/sealgate/prod/key', Type: 'SecureString', Value: PARAMETER_VALUE }),
  );
  ssm.destroy();
});

afterAll(() => secrets.destroy());

describe('awsSecretSources against moto', () => {
  it('resolves a Secrets Manager secret and a decrypted SSM SecureString', async () => {
    const resolver = new SecretResolver({ sources: awsSecretSources(sourcesOptions()), ttlMs: TTL_MS });
    const { references } = findReferences({
      credentials: [{ secret_access_key: '${secretsmanager:sealgate/admin}' }],
      backends: [{ encryption: { key: '${ssm:/sealgate/prod/key}' } }],
    });
    const resolved = await resolver.resolveAll(references);
    expect(resolved.problems).toEqual([]);
    expect(resolved.values).toEqual(
      new Map([
        ['${secretsmanager:sealgate/admin}', ADMIN_SECRET],
        ['${ssm:/sealgate/prod/key}', PARAMETER_VALUE],
      ]),
    );
  });

  it('serves a rotated secret’s old value within the TTL and the new one after it', async () => {
    await secrets.send(new CreateSecretCommand({ Name: 'sealgate/rotating', SecretString: ADMIN_SECRET }));
    const time = clock();
    const { client, requests } = countingClient();
    const resolver = new SecretResolver({
      sources: { secretsmanager: secretsManagerSource(client) },
      ttlMs: TTL_MS,
      now: time.now,
    });
    const reference = referenceIn('${secretsmanager:sealgate/rotating}');
    expect(await resolver.resolve(reference)).toBe(ADMIN_SECRET);
    expect(requests()).toBe(1);

    await secrets.send(
      new PutSecretValueCommand({ SecretId: 'sealgate/rotating', SecretString: ROTATED_SECRET }),
    );

    time.advance(TTL_MS - 1);
    expect(resolver.stale()).toBe(false);
    expect(await resolver.resolve(reference)).toBe(ADMIN_SECRET);
    expect(requests()).toBe(1);

    time.advance(1);
    expect(resolver.stale()).toBe(true);
    // Powertools keeps nothing of its own (forceFetch, maxAge 0): the read after the TTL reaches moto.
    expect(await resolver.resolve(reference)).toBe(ROTATED_SECRET);
    expect(requests()).toBe(2);
    expect(resolver.stale()).toBe(false);
    client.destroy();
  });

  it('picks one field of a JSON secret with #field, reading the secret once for two fields', async () => {
    const { client, requests } = countingClient();
    const resolver = new SecretResolver({
      sources: { secretsmanager: secretsManagerSource(client) },
      ttlMs: TTL_MS,
    });
    const { references } = findReferences({
      access_key_id: '${secretsmanager:sealgate/backend#access_key_id}',
      secret_access_key: '${secretsmanager:sealgate/backend#secret_access_key}',
    });
    const resolved = await resolver.resolveAll(references);
    expect(resolved.problems).toEqual([]);
    expect([...resolved.values.values()]).toEqual([JSON_SECRET.access_key_id, JSON_SECRET.secret_access_key]);
    expect(requests()).toBe(1);
    client.destroy();
  });

  it('says which secret and field when #field names no field, or the secret is not JSON, without its value', async () => {
    const resolver = new SecretResolver({ sources: awsSecretSources(sourcesOptions()), ttlMs: TTL_MS });
    const { references } = findReferences({
      missing: '${secretsmanager:sealgate/backend#password}',
      plain: '${secretsmanager:sealgate/plain#password}',
    });
    const { problems } = await resolver.resolveAll(references);
    expect(problems).toEqual([
      {
        severity: 'error',
        path: 'missing',
        message:
          'cannot resolve ${secretsmanager:sealgate/backend#password}: secret sealgate/backend has no field "password"',
      },
      {
        severity: 'error',
        path: 'plain',
        message:
          'cannot resolve ${secretsmanager:sealgate/plain#password}: secret sealgate/plain is not JSON, so it has no field "password"',
      },
    ]);
  });

  it('names a secret that does not exist, and shows no value', async () => {
    const resolver = new SecretResolver({ sources: awsSecretSources(sourcesOptions()), ttlMs: TTL_MS });
    const { references } = findReferences({
      credentials: [{ secret_access_key: '${secretsmanager:sealgate/nope}' }],
      backends: [{ encryption: { key: '${ssm:/sealgate/nope}' } }],
    });
    const { values, problems } = await resolver.resolveAll(references);
    expect(values.size).toBe(0);
    expect(problems).toEqual([
      {
        severity: 'error',
        path: 'credentials[0].secret_access_key',
        message:
          'cannot resolve ${secretsmanager:sealgate/nope}: secret sealgate/nope was not found in Secrets Manager',
      },
      {
        severity: 'error',
        path: 'backends[0].encryption.key',
        message:
          'cannot resolve ${ssm:/sealgate/nope}: parameter /sealgate/nope was not found in SSM Parameter Store',
      },
    ]);
    for (const problem of problems) {
      for (const value of ALL_VALUES) expect(problem.message).not.toContain(value);
    }
  });

  it('refuses a binary secret, which has no one text form', async () => {
    const { secretsmanager } = awsSecretSources(sourcesOptions());
    const error = await rejected(secretsmanager.get('sealgate/binary'), SecretSourceError);
    expect(error.message).toBe(
      'secret sealgate/binary holds a binary value (SecretBinary): store it as SecretString',
    );
  });

  it('says what the role needs when Secrets Manager denies access', async () => {
    const client = new SecretsManagerClient({
      region: REGION,
      credentials: CREDENTIALS,
      endpoint: moto.endpoint,
    });
    client.middlewareStack.add(
      () => async () => {
        throw new SecretsManagerServiceException({
          name: 'AccessDeniedException',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
          message:
            'User: arn:aws:sts::123456789012:assumed-role/gw is not authorized to perform GetSecretValue',
        });
      },
      { step: 'finalizeRequest' },
    );
    const error = await rejected(secretsManagerSource(client).get('sealgate/admin'), SecretSourceError);
    expect(error.message).toBe(
      'access to secret sealgate/admin in Secrets Manager was denied: the role needs secretsmanager:GetSecretValue, and kms:Decrypt on its key',
    );
    client.destroy();
  });
});
