import { createRequire } from 'node:module';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { acknowledgeLogGroup } from '../../lib/nag.js';
import { PgBackupsStack } from '../../lib/pgbackups-stack.js';
import { buildTestStack, cdkJsonContext, StrictCfnGuard } from './stack-fixture.js';

describe('policy validation: cdk-nag AwsSolutions and cfn-guard (Control Tower proactive controls)', () => {
  it('finds nothing unacknowledged in the real app (bundled functions, image asset), synthesized offline', () => {
    // As bin/pgbackups.ts builds it; only esbuild bundling is skipped. The image asset is staged, not built. One
    // synth serves both packs: cfn-guard runs its bundled binary once per rule, which is the slow part.
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new PgBackupsStack(app, 'PgBackups');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new StrictCfnGuard());
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    expect(artifact.environment.account).toBe('unknown-account');
    expect(assembly.manifest.missing ?? []).toEqual([]);
    // cfn-guard runs its bundled binary per rule (about 240): ~40 s of CPU, minutes on a shared machine.
  }, 600_000);

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

  it('fails on a cfn-guard finding nobody acknowledged, and only on that one, even next to an acknowledged one', () => {
    // One rule and a two-resource stack keep this fast; the full rule set runs on the real app above.
    const rule = createRequire(import.meta.url).resolve(
      '@cdklabs/cdk-validator-cfnguard/rules/control-tower/cfn-guard/cloudwatch/ct-cloudwatch-pr-2.guard',
    );
    const app = new App();
    const stack = new Stack(app, 'GuardProbe');
    acknowledgeLogGroup(new logs.LogGroup(stack, 'Acknowledged', { retention: logs.RetentionDays.ONE_WEEK }));
    new logs.LogGroup(stack, 'Forgotten', { retention: logs.RetentionDays.ONE_WEEK });
    Validations.of(app).addPlugins(new StrictCfnGuard({ controlTowerRulesEnabled: false, rules: [rule] }));
    let report = '';
    try {
      app.synth();
    } catch (e) {
      report = String(e);
    }
    expect(report).toMatch(/GuardProbe\/Forgotten\/Resource/);
    expect(report).not.toMatch(/GuardProbe\/Acknowledged/);
  });
});
