import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** Renders a CloudFormation value the way cdk-nag names it in a finding (`<Logical.Arn>`, `<AWS::Region>`). */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') return `<${v.Ref}>`;
    if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if (Array.isArray(v['Fn::Join'])) {
      const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(separator);
    }
  }
  throw new Error(`Cannot name ${JSON.stringify(value)} in a cdk-nag finding`);
}

/** The cdk-nag finding id for a wildcard `resourceArn` in an IAM policy: `AwsSolutions-IAM5[Resource::…]`. */
export function wildcardResourceFinding(scope: Construct, resourceArn: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(resourceArn))}]`;
}

/**
 * Acknowledges exactly one wildcard-resource finding on the grantee's role, next to the grant that causes it, so
 * the reason lives with the code and any other wildcard still fails the check.
 */
export function acknowledgeWildcardResource(
  grantee: iam.IGrantable,
  resourceArn: string,
  reason: string,
): void {
  const principal = grantee.grantPrincipal;
  if (!(principal instanceof Construct)) return;
  Validations.of(principal).acknowledge({ id: wildcardResourceFinding(principal, resourceArn), reason });
}

/** Id of a cdk-validator-cfnguard (Control Tower proactive controls) finding, as `Validations.acknowledge` takes it. */
export function guardFinding(rule: string): string {
  return `cdk-validator-cfnguard::${rule}`;
}

/** Acknowledges cfn-guard findings on `scope`, each with its reason, next to the code that causes them. */
export function acknowledgeGuard(scope: Construct, findings: Readonly<Record<string, string>>): void {
  for (const [rule, reason] of Object.entries(findings)) {
    Validations.of(scope).acknowledge({ id: guardFinding(rule), reason });
  }
}

/** The two Control Tower log-group controls every pgbackups log group answers the same way. */
export function acknowledgeLogGroup(logGroup: Construct): void {
  acknowledgeGuard(logGroup, {
    cloudwatch_log_group_retention_period_check:
      'Operational logs, kept for the retention the deployer chose (default 3 months): they hold request and transfer metadata, no backup data, and a year of them costs without helping anyone',
    cloudwatch_log_group_encrypted_check:
      'CloudWatch Logs encrypts every log group at rest; these hold no secrets (names and ids only, see src/core/logger.ts), so a customer key would add cost and a key policy to get wrong',
  });
}

/** KMS key-policy statement CT.KMS.PR.3 asks for: only AWS services may create grants on the key. */
export function denyGrantsExceptForAwsServices(): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'DenyGrantsExceptForAwsServices',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['kms:CreateGrant'],
    resources: ['*'],
    conditions: {
      BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
    },
  });
}
