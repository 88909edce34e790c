import { Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
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
