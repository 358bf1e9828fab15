/**
 * The config table: its schema (the runtime's DynamoDB store relies on it), how it is kept, and what the
 * function's role may do on it.
 */
import { describe, expect, it } from 'vitest';
import { MINIMAL_CONFIG, statements, synth } from './synth.js';

const CONFIG = MINIMAL_CONFIG;

const TABLE_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

type TableResource = {
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

function tableOf(template: ReturnType<typeof synth>): [string, TableResource] {
  const tables = Object.entries(template.findResources('AWS::DynamoDB::Table'));
  expect(tables).toHaveLength(1);
  return tables[0] as [string, TableResource];
}

describe('the config table', () => {
  const template = synth(CONFIG);
  const [logicalId, table] = tableOf(template);

  it('is keyed by pk and sk, both strings: the schema the DynamoDB store uses', () => {
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.Properties.AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ]);
    expect(table.Properties.GlobalSecondaryIndexes).toBeUndefined();
  });

  it('is billed per request, with point-in-time recovery and deletion protection', () => {
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties.ProvisionedThroughput).toBeUndefined();
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
  });

  it('is retained when the stack is deleted or the table replaced', () => {
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });

  it('is encrypted under the AWS managed key by default', () => {
    expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true });
  });

  it('lets the role use items on this table only, and nothing else of DynamoDB', () => {
    const dynamodb = statements(template).filter((s) =>
      ([] as string[]).concat(s.Action).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamodb).toHaveLength(1);
    expect(dynamodb[0].Sid).toBe('ConfigTable');
    expect(([] as string[]).concat(dynamodb[0].Action).sort()).toEqual([
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(dynamodb[0].Resource).toEqual({ 'Fn::GetAtt': [logicalId, 'Arn'] });
  });

  it('grants no KMS permission for the AWS managed key', () => {
    expect(statements(template).find((s) => s.Sid === 'ConfigTableKey')).toBeUndefined();
  });

  describe('with a customer managed key', () => {
    const withKey = synth(CONFIG, { configTableKeyArn: TABLE_KEY_ARN });

    it('is encrypted under that key', () => {
      expect(tableOf(withKey)[1].Properties.SSESpecification).toEqual({
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: TABLE_KEY_ARN,
      });
    });

    it('lets the role use the key through DynamoDB only, on that key only', () => {
      const key = statements(withKey).find((s) => s.Sid === 'ConfigTableKey')!;
      expect(key.Resource).toBe(TABLE_KEY_ARN);
      expect(([] as string[]).concat(key.Action).sort()).toEqual([
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey*',
      ]);
      expect(key.Condition).toEqual({
        StringEquals: {
          'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
        },
      });
    });

    it('refuses a key named by alias, asking for the key ARN', () => {
      expect(() => synth(CONFIG, { configTableKeyArn: 'alias/sealgate-config' })).toThrow(
        /-c configTableKeyArn: must be a KMS key ARN/,
      );
    });
  });
});
