import type { Node } from 'constructs';

/**
 * Settings a deployer may pass as CDK context (`cdk deploy -c vpcId=vpc-123 -c subnetIds=subnet-a,subnet-b` or
 * `cdk.json`). Props given in code win over context. Nothing here triggers a lookup: ids are used as given.
 */
export interface ContextSettings {
  readonly vpcId?: string;
  readonly subnetIds?: string[];
  readonly securityGroupId?: string;
  readonly assignPublicIp?: boolean;
  readonly databaseSecurityGroupIds?: string[];
  readonly alertEmail?: string;
  readonly secretsPrefix?: string;
  readonly workerCpu?: number;
  readonly workerMemoryMiB?: number;
  readonly workerEphemeralStorageGiB?: number;
  readonly catalogDeletionProtection?: boolean;
  readonly databaseHostAllowlist?: string[];
}

function str(node: Node, key: string): string | undefined {
  const v: unknown = node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`Context ${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** A list given as a JSON array (cdk.json) or a comma-separated string (`-c key=a,b`). */
function list(node: Node, key: string): string[] | undefined {
  const v: unknown = node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
  if (!items?.every((i) => typeof i === 'string')) {
    throw new Error(`Context ${key} must be a list of strings or a comma-separated string`);
  }
  return items.map((i: string) => i.trim()).filter((i) => i.length > 0);
}

function bool(node: Node, key: string): boolean | undefined {
  const v: unknown = node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new Error(`Context ${key} must be true or false, got ${JSON.stringify(v)}`);
}

function int(node: Node, key: string): number | undefined {
  const v: unknown = node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`Context ${key} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Reads and checks the context keys of {@link ContextSettings}. */
export function readContext(node: Node): ContextSettings {
  if (node.tryGetContext('scheduledExpirationDays') !== undefined) {
    throw new Error(
      'Context scheduledExpirationDays was removed: S3 no longer expires scheduled backups by age (that could ' +
        'delete a backup the catalog still lists); the daily prune applies retention. Remove the key (docs/deploy.md).',
    );
  }
  return {
    vpcId: str(node, 'vpcId'),
    subnetIds: list(node, 'subnetIds'),
    securityGroupId: str(node, 'securityGroupId'),
    assignPublicIp: bool(node, 'assignPublicIp'),
    databaseSecurityGroupIds: list(node, 'databaseSecurityGroupIds'),
    alertEmail: str(node, 'alertEmail'),
    secretsPrefix: str(node, 'secretsPrefix'),
    workerCpu: int(node, 'workerCpu'),
    workerMemoryMiB: int(node, 'workerMemoryMiB'),
    workerEphemeralStorageGiB: int(node, 'workerEphemeralStorageGiB'),
    catalogDeletionProtection: bool(node, 'catalogDeletionProtection'),
    databaseHostAllowlist: list(node, 'databaseHostAllowlist'),
  };
}
