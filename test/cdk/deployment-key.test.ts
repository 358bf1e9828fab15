/**
 * The deployment's own KMS key (`-c kmsKey`): created by the stack or imported by ARN, usable by every
 * function for aws-kms-envelope, encrypting the config table, and named in an output for configs applied
 * after the deploy.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';

import { MINIMAL_CONFIG, statements, synth as synthConfig } from './synth.js';

const IMPORTED = 'arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';

const synth = (kmsKey?: string): Template => synthConfig(MINIMAL_CONFIG, { kmsKey });

/** The KMS actions a role's statements grant on `resource`. */
function kmsActions(template: Template, role: string, resource: unknown): string[] {
  return statements(template, role)
    .filter((s) => JSON.stringify(s.Resource) === JSON.stringify(resource))
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
    .filter((a) => a.startsWith('kms:'))
    .sort();
}

describe('the deployment KMS key', () => {
  it('is none by default: no key, the table under the AWS managed key', () => {
    const template = synth();
    template.resourceCountIs('AWS::KMS::Key', 1); // the alarm topic's only
    expect(Object.keys(template.findOutputs('KmsKeyArn'))).toEqual([]);
    template.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true } });
  });

  describe('created', () => {
    const template = synth('create');
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key')).filter((id) =>
      id.startsWith('DataKey'),
    );
    const arn = { 'Fn::GetAtt': [keyId, 'Arn'] };

    it('rotates and outlives the stack', () => {
      expect(keyId).toBeDefined();
      expect(template.findResources('AWS::KMS::Key')[keyId]).toMatchObject({
        Properties: { EnableKeyRotation: true },
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    });

    it('may be used for envelope encryption by the gateway and the job tasks, and is named in an output', () => {
      for (const role of ['GatewayRole', 'JobTaskRole']) {
        expect(kmsActions(template, role, arn), role).toEqual(
          expect.arrayContaining(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']),
        );
      }
      template.hasOutput('KmsKeyArn', { Value: arn });
    });

    it('encrypts the config table', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: arn },
      });
    });
  });

  describe('imported by ARN', () => {
    const template = synth(IMPORTED);

    it('creates no key, grants envelope use on that ARN, and encrypts the table under it', () => {
      template.resourceCountIs('AWS::KMS::Key', 1); // the alarm topic's only
      expect(kmsActions(template, 'GatewayRole', IMPORTED)).toEqual(
        expect.arrayContaining(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']),
      );
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        SSESpecification: { KMSMasterKeyId: IMPORTED },
      });
      template.hasOutput('KmsKeyArn', { Value: IMPORTED });
    });

    it('refuses an alias, asking for the key ARN', () => {
      expect(() => synth('alias/sealgate')).toThrow(/-c kmsKey.*must be a KMS key ARN/);
    });
  });
});
