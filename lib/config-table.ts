import { Aws, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IPrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface ConfigTableProps {
  /**
   * A customer managed KMS key to encrypt the table with. Without one the table is encrypted under the AWS
   * managed key `aws/dynamodb`, whose key policy already lets the account's principals use it through
   * DynamoDB.
   */
  encryptionKey?: IKey;
}

/**
 * What the gateway does with its table: single items and queries (GetItem, PutItem, UpdateItem, DeleteItem,
 * Query), and transactions of those, which IAM authorizes action by action (TransactWriteItems needs
 * PutItem, UpdateItem, DeleteItem and ConditionCheckItem for its parts; TransactGetItems needs GetItem), and
 * BatchWriteItem, with which an apply prunes the versions beyond the kept history. No Scan, no table
 * administration.
 */
const ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
  'dynamodb:BatchWriteItem',
];

/**
 * What DynamoDB needs from a caller when it uses the table's customer managed key on the caller's behalf
 * (the caller's permissions are checked, as for SSE-KMS in S3).
 */
const TABLE_KEY_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:DescribeKey'];

/**
 * The gateway's control-plane table: the applied config document and its history, per-bucket settings,
 * and the job records (their cursors, counters and failures). The layout belongs to the runtime's
 * DynamoDB store (functions/adapters/dynamodb-config-store.ts); this construct fixes only the key schema
 * it relies on, `pk` and `sk`, both strings.
 *
 * The table outlives the stack: it is retained when the stack is deleted and has deletion protection,
 * because it is the running gateway's source of truth once seeded, with point-in-time recovery to undo a
 * bad apply beyond the kept history.
 */
export class ConfigTable extends Construct {
  readonly table: Table;
  /** The customer managed key the table is encrypted with, when one was given. */
  readonly encryptionKey?: IKey;

  constructor(scope: Construct, id: string, props: ConfigTableProps = {}) {
    super(scope, id);
    this.encryptionKey = props.encryptionKey;
    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.encryptionKey === undefined
        ? { encryption: TableEncryption.AWS_MANAGED }
        : { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }),
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /**
   * Lets `principal` read and write the table's items (see {@link ITEM_ACTIONS}) on this table only, and
   * use its customer managed key, if it has one, through DynamoDB only.
   */
  grantGateway(principal: IPrincipal): void {
    principal.addToPrincipalPolicy(
      new PolicyStatement({ sid: 'ConfigTable', actions: ITEM_ACTIONS, resources: [this.table.tableArn] }),
    );
    if (this.encryptionKey !== undefined) {
      principal.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'ConfigTableKey',
          actions: TABLE_KEY_ACTIONS,
          resources: [this.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Aws.REGION}.amazonaws.com` } },
        }),
      );
      if (Construct.isConstruct(principal)) {
        Validations.of(principal).acknowledge({
          id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
          reason:
            "DynamoDB's documented key permissions for a customer managed table key, on that key only and only through DynamoDB (kms:ViaService).",
        });
      }
    }
  }
}
