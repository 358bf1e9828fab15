import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';

/** Creates a symmetric KMS key on a KMS-compatible endpoint (moto on loopback) and returns its ARN. */
export async function createKmsKey(endpoint: string): Promise<string> {
  const kms = new KMSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  try {
    const key = await kms.send(new CreateKeyCommand({ Description: 'sealgate bench' }));
    const arn = key.KeyMetadata?.Arn;
    if (arn === undefined) throw new Error('KMS CreateKey answered without a key ARN');
    return arn;
  } finally {
    kms.destroy();
  }
}
