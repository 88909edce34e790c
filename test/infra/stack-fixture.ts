import { readFileSync } from 'node:fs';
import { CfnGuardValidator, type CfnGuardValidatorProps } from '@cdklabs/cdk-validator-cfnguard';
import {
  App,
  type AppProps,
  type IPolicyValidationContextBeta1,
  type IPolicyValidationPluginBeta1,
  type PolicyValidationPluginReportBeta1,
  Validations,
} from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { inlineFunctions } from '../../lib/constructs/app-function.js';
import { PgBackupsStack, type PgBackupsStackProps, REPO_ROOT } from '../../lib/pgbackups-stack.js';

/** The context of cdk.json (feature flags included), so tests synthesize what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(`${REPO_ROOT}/cdk.json`, 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

/**
 * A stack with inline function code and a registry image: no esbuild, no Docker context, no handler files needed.
 * `nag` adds the AwsSolutions pack, so `app.synth()` throws on any unacknowledged finding.
 */
export function buildTestStack(
  opts: { context?: Record<string, unknown>; props?: PgBackupsStackProps; nag?: boolean } = {},
): { app: App; stack: PgBackupsStack } {
  const appProps: AppProps = {
    context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...opts.context },
  };
  const app = new App(appProps);
  const stack = new PgBackupsStack(app, 'PgBackups', {
    functions: inlineFunctions,
    workerImage: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22-bookworm-slim'),
    ...opts.props,
  });
  if (opts.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

/**
 * cfn-guard's plugin reports violations without a severity. Once any finding anywhere is acknowledged, aws-cdk-lib
 * recomputes a report's success as "no violation of severity error or fatal", so every remaining cfn-guard
 * violation would pass unnoticed. This wrapper marks them all `error`, so an unacknowledged one fails synth.
 */
export class StrictCfnGuard implements IPolicyValidationPluginBeta1 {
  readonly name: string;
  readonly version?: string;
  readonly ruleIds?: string[];
  private readonly inner: CfnGuardValidator;

  constructor(props?: CfnGuardValidatorProps) {
    this.inner = new CfnGuardValidator(props);
    this.name = this.inner.name;
    this.version = this.inner.version;
    this.ruleIds = this.inner.ruleIds;
  }

  validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    const report = this.inner.validate(context);
    return { ...report, violations: report.violations.map((v) => ({ ...v, severity: 'error' })) };
  }
}
