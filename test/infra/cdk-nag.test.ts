import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { PgBackupsStack } from '../../lib/pgbackups-stack.js';
import { buildTestStack, cdkJsonContext } from './stack-fixture.js';

describe('policy validation: cdk-nag AwsSolutions and cfn-guard (Control Tower proactive controls)', () => {
  it('finds nothing unacknowledged in the real app (bundled functions, image asset), synthesized offline', () => {
    // As bin/pgbackups.ts builds it; only esbuild bundling is skipped. The image asset is staged, not built. One
    // synth serves both packs: cfn-guard runs its bundled binary once per rule, which is the slow part.
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new PgBackupsStack(app, 'PgBackups');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new CfnGuardValidator());
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    expect(artifact.environment.account).toBe('unknown-account');
    expect(assembly.manifest.missing ?? []).toEqual([]);
  });

  it('acknowledges single findings, so a new wildcard still fails the check', () => {
    const { app, stack } = buildTestStack({ nag: true });
    stack.api.handler.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [stack.backups.bucket.arnForObjects('other/*')],
      }),
    );
    expect(() => app.synth()).toThrow(
      /AwsSolutions-IAM5\[Resource::<BackupsBucket[0-9A-F]+\.Arn>\/other\/\*\]/,
    );
  });
});
