import { ConfigError } from '../functions/core/config/config-error.js';
import type { GatewayConfig } from '../functions/core/config/schema.js';
import { roleSignsKms, usesFunctionRole } from './backend-signers.js';

/** KMS key ARNs for the function's role. Each ARN is in one list only, the one that grants it most. */
export interface KmsKeyGrants {
  /** aws-kms-envelope keys: the gateway calls GenerateDataKey, Encrypt and Decrypt itself. */
  envelope: string[];
  /** sse-kms keys: S3 calls GenerateDataKey and Decrypt on the caller's behalf, with the caller's permissions. */
  sseKms: string[];
  /** Keys of objects written earlier (`legacy_kms_key_ids`): Decrypt only. */
  decryptOnly: string[];
}

/**
 * A deploy-only field of a backend's `encryption` block: KMS keys (ARNs) that objects written earlier are
 * wrapped or encrypted under, on which the role gets kms:Decrypt. The gateway's own schema does not know it,
 * so it is taken out of the document before the config is checked and handed to the function.
 */
export const LEGACY_KMS_KEYS_FIELD = 'legacy_kms_key_ids';

/** A KMS key ARN: `arn:<partition>:kms:<region>:<account>:key/<key-id>` (a multi-region key's id starts `mrk-`). */
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key\/[A-Za-z0-9-]+$/;

/**
 * A KMS key named in IAM must be a key ARN. IAM authorizes KMS calls against the key's ARN, never an alias;
 * Decrypt names no key at all (the ciphertext does), so an alias-based condition would not cover reads; and a
 * bare key id leaves the key's region and account to guess.
 */
export function keyArn(value: unknown, where: string): string {
  if (typeof value === 'string' && KMS_KEY_ARN.test(value)) return value;
  throw new ConfigError(
    where,
    'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key-id>) to deploy: the stack grants the ' +
      "function's role KMS use on exactly that key, and IAM cannot name a key by alias or bare id. Find the " +
      'ARN with `aws kms describe-key --key-id <alias or id> --query KeyMetadata.Arn --output text`',
  );
}

/**
 * The KMS keys the function's role may use, for the backends whose calls it signs:
 * - aws-kms-envelope: `kms_key_id`, for GenerateDataKey, Encrypt and Decrypt;
 * - sse-kms with a `kms_key_id`: GenerateDataKey and Decrypt, which S3 calls on the role's behalf (the AWS
 *   managed key aws/s3, used when `kms_key_id` is left out, needs no grant);
 * - `legacy_kms_key_ids` (any mode): Decrypt, to read what was written under earlier keys.
 *
 * `legacyKmsKeyIds` are those lists by backend index. `placeholders` are the values standing for references:
 * a region that is one is unknown at synth, so a key's region cannot be checked against it.
 */
export function kmsKeyGrants(
  config: GatewayConfig,
  legacyKmsKeyIds: Map<number, string[]>,
  placeholders: Set<string>,
): KmsKeyGrants {
  const envelope = new Set<string>();
  const sseKms = new Set<string>();
  const decryptOnly = new Set<string>();
  const checkRegion = (arn: string, region: string, where: string, why: string): void => {
    const keyRegion = KMS_KEY_ARN.exec(arn)![1];
    if (!placeholders.has(region) && keyRegion !== region) {
      throw new ConfigError(where, `names a key in ${keyRegion}, but ${why} ${region}`);
    }
  };
  config.backends.forEach((backend, i) => {
    const { encryption } = backend;
    const path = `backends[${i}].encryption`;
    if (encryption.mode === 'aws-kms-envelope' && roleSignsKms(backend)) {
      const arn = keyArn(encryption.kmsKeyId, `${path}.kms_key_id`);
      checkRegion(
        arn,
        encryption.kms!.region,
        `${path}.kms_key_id`,
        'this backend calls KMS in (set kms_region to the key region)',
      );
      envelope.add(arn);
    }
    if (encryption.mode === 'sse-kms' && encryption.kmsKeyId !== undefined && usesFunctionRole(backend)) {
      const arn = keyArn(encryption.kmsKeyId, `${path}.kms_key_id`);
      checkRegion(arn, backend.region, `${path}.kms_key_id`, 'S3 uses only keys in the bucket region,');
      sseKms.add(arn);
    }
    const legacy = legacyKmsKeyIds.get(i) ?? [];
    if (legacy.length > 0 && !roleSignsKms(backend) && !usesFunctionRole(backend)) {
      throw new ConfigError(
        `${path}.${LEGACY_KMS_KEYS_FIELD}`,
        "this backend signs its S3 and KMS calls with its own access keys, not the function's role: grant " +
          'kms:Decrypt on these keys to those access keys instead, and leave this field out',
      );
    }
    for (const arn of legacy) decryptOnly.add(arn);
  });
  const without = (keys: Set<string>, ...granted: Set<string>[]): string[] =>
    [...keys].filter((k) => !granted.some((g) => g.has(k))).sort();
  return {
    envelope: without(envelope),
    sseKms: without(sseKms, envelope),
    decryptOnly: without(decryptOnly, envelope, sseKms),
  };
}
