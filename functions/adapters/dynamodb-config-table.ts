/**
 * The config table's shape, for tests and local setups (the CDK stack creates the deployed table with the
 * same key schema): a string partition key `pk` and a string sort key `sk`, billed per request.
 */
import { CreateTableCommand, waitUntilTableExists, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** The key attributes every item of the config table has. */
export const CONFIG_TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/** Creates the config table and resolves once it is ACTIVE. */
export async function createConfigTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: CONFIG_TABLE_KEYS.partitionKey, AttributeType: 'S' },
        { AttributeName: CONFIG_TABLE_KEYS.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: CONFIG_TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: CONFIG_TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: tableName });
}
