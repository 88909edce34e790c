import { readFileSync } from 'node:fs';
import { App, type AppProps, Validations } from 'aws-cdk-lib';
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
