import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../nag.js';

/** Props of {@link ConnectionSecrets}. */
export interface ConnectionSecretsProps {
  /**
   * Name prefix of the connection secrets: one secret `<prefix>/<app>/<database>` per attached database.
   * @default 'pgbackups'
   */
  readonly prefix?: string;
}

/**
 * Connection URLs in Secrets Manager under one name prefix. The secrets are created at run time by the API (when a
 * database is attached), so this construct creates no resource: it scopes who may touch the prefix.
 */
export class ConnectionSecrets extends Construct {
  public readonly prefix: string;
  /** ARN pattern of every secret under the prefix (Secrets Manager appends `-XXXXXX` to each name). */
  public readonly arnPattern: string;

  constructor(scope: Construct, id: string, props: ConnectionSecretsProps = {}) {
    super(scope, id);
    this.prefix = props.prefix ?? 'pgbackups';
    if (!/^[A-Za-z0-9_+=.@-]+(\/[A-Za-z0-9_+=.@-]+)*$/.test(this.prefix)) {
      throw new Error(
        `Invalid secrets prefix ${JSON.stringify(this.prefix)}: use letters, digits, /_+=.@- only`,
      );
    }
    this.arnPattern = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${this.prefix}/*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** Create, replace, restore and delete the connection secrets (the API). */
  grantWrite(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'secretsmanager:CreateSecret',
        'secretsmanager:PutSecretValue',
        'secretsmanager:RestoreSecret',
        'secretsmanager:DeleteSecret',
        'secretsmanager:DescribeSecret',
      ],
      resourceArns: [this.arnPattern],
    });
    acknowledgeWildcardResource(
      grantee,
      this.arnPattern,
      `Secrets are created at run time, one per attached database; limited to names under ${this.prefix}/`,
    );
  }

  /** Read the connection URLs (the worker). */
  grantRead(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      resourceArns: [this.arnPattern],
    });
    acknowledgeWildcardResource(
      grantee,
      this.arnPattern,
      `One secret per attached database, named at run time; read-only and limited to names under ${this.prefix}/`,
    );
  }
}
