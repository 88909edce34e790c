import type { Node } from 'constructs';
import { describe, expect, it } from 'vitest';
import { readContext } from '../../../lib/context.js';

const node = (context: Record<string, unknown>) =>
  ({ tryGetContext: (key: string) => context[key] }) as unknown as Node;

describe('readContext', () => {
  it('reads lists, flags and sizes from cdk.json values and -c strings alike', () => {
    expect(
      readContext(
        node({
          vpcId: 'vpc-1',
          subnetIds: 'subnet-a, subnet-b,',
          databaseSecurityGroupIds: ['sg-1'],
          assignPublicIp: 'true',
          catalogDeletionProtection: false,
          workerCpu: '2048',
          workerMemoryMiB: 4096,
          alertEmail: '',
          'some:cdk-feature-flag': true,
        }),
      ),
    ).toEqual({
      vpcId: 'vpc-1',
      subnetIds: ['subnet-a', 'subnet-b'],
      databaseSecurityGroupIds: ['sg-1'],
      assignPublicIp: true,
      catalogDeletionProtection: false,
      workerCpu: 2048,
      workerMemoryMiB: 4096,
    });
  });

  it('names every bad key, what it must be, and what it got, in one error', () => {
    expect(() =>
      readContext(node({ vpcId: 3, subnetIds: ['a', 1], workerCpu: 'abc', workerEphemeralStorageGiB: 1.5 })),
    ).toThrow(
      'Invalid CDK context (cdk.json or cdk deploy -c key=value): vpcId must be a string, got 3; ' +
        'subnetIds must be a list of strings or a comma-separated string, got ["a",1]; ' +
        'workerCpu must be a positive integer, got "abc"; workerEphemeralStorageGiB must be a positive integer, got 1.5',
    );
  });

  it('refuses the removed scheduledExpirationDays with what to do instead', () => {
    expect(() => readContext(node({ scheduledExpirationDays: 400 }))).toThrow(/removed.*daily prune/);
  });
});
