import type { Node } from 'constructs';
import * as z from 'zod';
import { describeIssues } from '../src/config/parse-env.js';

// Absent, null and '' (`-c key=`) all mean "not given".
const given = (v: unknown) => (v === null || v === '' ? undefined : v);

const str = z.preprocess(given, z.string({ error: 'must be a string' }).optional());

/** A list given as a JSON array (cdk.json) or a comma-separated string (`-c key=a,b`). */
const list = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',') : given(v)),
  z
    .array(z.string({ error: 'must be a list of strings or a comma-separated string' }), {
      error: 'must be a list of strings or a comma-separated string',
    })
    .transform((items) => items.map((i) => i.trim()).filter((i) => i.length > 0))
    .optional(),
);

const bool = z.preprocess(
  (v) => (v === 'true' ? true : v === 'false' ? false : given(v)),
  z.boolean({ error: 'must be true or false' }).optional(),
);

const positiveInt = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : given(v)),
  z
    .number({ error: 'must be a positive integer' })
    .int({ error: 'must be a positive integer' })
    .positive({ error: 'must be a positive integer' })
    .optional(),
);

/**
 * Settings a deployer may pass as CDK context (`cdk deploy -c vpcId=vpc-123 -c subnetIds=subnet-a,subnet-b` or
 * `cdk.json`). Props given in code win over context. Nothing here triggers a lookup: ids are used as given.
 */
const contextSchema = z.object({
  vpcId: str,
  subnetIds: list,
  securityGroupId: str,
  assignPublicIp: bool,
  databaseSecurityGroupIds: list,
  alertEmail: str,
  secretsPrefix: str,
  workerCpu: positiveInt,
  workerMemoryMiB: positiveInt,
  workerEphemeralStorageGiB: positiveInt,
  catalogDeletionProtection: bool,
  databaseHostAllowlist: list,
});

export type ContextSettings = Readonly<z.output<typeof contextSchema>>;

/** Reads and checks the context keys of {@link ContextSettings}; one error names every bad key. */
export function readContext(node: Node): ContextSettings {
  if (node.tryGetContext('scheduledExpirationDays') !== undefined) {
    throw new Error(
      'Context scheduledExpirationDays was removed: S3 no longer expires scheduled backups by age (that could ' +
        'delete a backup the catalog still lists); the daily prune applies retention. Remove the key (docs/deploy.md).',
    );
  }
  const raw: Record<string, unknown> = Object.fromEntries(
    Object.keys(contextSchema.shape).map((key) => [key, node.tryGetContext(key)]),
  );
  const parsed = contextSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `Invalid CDK context (cdk.json or cdk deploy -c key=value): ${describeIssues(parsed.error, raw, 'context')}`,
    );
  }
  return parsed.data;
}
