import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { CATALOG_TABLE } from '../../src/adapters/aws/catalog-table-schema.js';

/** Props of {@link CatalogTable}. */
export interface CatalogTableProps {
  /**
   * Customer-managed key for the table. The catalog holds no secrets (connection URLs live in Secrets Manager),
   * so an AWS managed key is enough by default.
   * @default - the AWS managed key `aws/dynamodb`
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the table when the stack is deleted or replaces it.
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE (kept, except when the deploy that created it rolls back)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * DynamoDB deletion protection. Off by default because it also blocks the rollback of a failed first deploy,
   * leaving a table that makes the retry fail; the removal policy already keeps the table when the stack goes.
   * Turn it on once the first deploy has succeeded if you want to guard against deletes outside CloudFormation.
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * Adopt the catalog table a deleted stack left behind (same key schema and index), instead of creating one.
   * @default - a new table
   */
  readonly existingTableName?: string;
}

/**
 * The catalog: apps, databases, transfers, schedules and logs in one DynamoDB table whose keys come from
 * {@link CATALOG_TABLE}, the schema the local stack also uses. On demand, point-in-time recovery and KMS
 * encryption; retained when the stack is deleted, removed when the deploy that created it rolls back.
 */
export class CatalogTable extends Construct {
  /** The table; grant access with `grantReadWriteData`. */
  public readonly table: dynamodb.ITableV2;

  constructor(scope: Construct, id: string, props: CatalogTableProps = {}) {
    super(scope, id);
    if (props.existingTableName) {
      this.table = dynamodb.TableV2.fromTableAttributes(this, 'Table', {
        tableName: props.existingTableName,
        encryptionKey: props.encryptionKey,
      });
      return;
    }
    const key = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: key(CATALOG_TABLE.partitionKey),
      sortKey: key(CATALOG_TABLE.sortKey),
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection ?? false,
      // Only deployment checks (pgbackups doctor) carry it: they are dropped a day after they were made.
      timeToLiveAttribute: CATALOG_TABLE.timeToLiveAttribute,
      encryption: props.encryptionKey
        ? dynamodb.TableEncryptionV2.customerManagedKey(props.encryptionKey)
        : dynamodb.TableEncryptionV2.awsManagedKey(),
      globalSecondaryIndexes: [
        {
          indexName: CATALOG_TABLE.gsi1.name,
          partitionKey: key(CATALOG_TABLE.gsi1.partitionKey),
          sortKey: key(CATALOG_TABLE.gsi1.sortKey),
        },
      ],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
  }

  /**
   * Item reads and writes on the table and its one index, named explicitly (`grantReadWriteData` would grant
   * `index/*` and table-management reads the catalog never uses).
   */
  grantReadWrite(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:BatchWriteItem',
        // Transactions are authorized by these item actions; there is no separate IAM action.
        'dynamodb:ConditionCheckItem',
      ],
      resourceArns: [this.table.tableArn, `${this.table.tableArn}/index/${CATALOG_TABLE.gsi1.name}`],
    });
    this.table.encryptionKey?.grantEncryptDecrypt(grantee);
  }
}
