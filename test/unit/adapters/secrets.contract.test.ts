/**
 * One contract for every Secrets adapter, like the catalog's (test/integration/catalog.contract.test.ts): the
 * local file store on a temporary directory, Secrets Manager through aws-sdk-client-mock standing in for the
 * service (ResourceNotFoundException for a secret that never existed, InvalidRequestException for one in its
 * recovery window, as Secrets Manager answers), and the in-memory fake the unit tests use.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerSecrets } from '../../../src/adapters/aws/secrets-manager-secrets.js';
import { FileSecrets } from '../../../src/adapters/local/file-secrets.js';
import { NotFoundError, SecretNotFoundError } from '../../../src/core/errors.js';
import type { Secrets } from '../../../src/core/ports.js';
import { MemorySecrets } from '../../fakes/memory-ports.js';

const URL_A = 'postgres://app:first-s3cr3t@db.internal:5432/app';
const URL_B = 'postgres://app:second-s3cr3t@db.internal:5432/app';

/** Secrets Manager's behaviour for the commands the adapter sends, kept in a map by name (ARNs also resolve). */
function mockSecretsManager(): SecretsManagerClient {
  const sm = mockClient(SecretsManagerClient);
  const secrets = new Map<string, { arn: string; value: string; deleted: boolean }>();
  const find = (id: string | undefined) =>
    [...secrets.entries()].find(([name, s]) => name === id || s.arn === id)?.[1];
  const notFound = () =>
    new ResourceNotFoundException({
      message: "Secrets Manager can't find the specified secret.",
      $metadata: {},
    });
  const deletedError = (verb: string) =>
    new InvalidRequestException({
      message: `You can't perform this operation on the secret because it was ${verb} for deletion.`,
      $metadata: {},
    });
  sm.on(CreateSecretCommand).callsFake((input: { Name: string; SecretString: string }) => {
    const existing = secrets.get(input.Name);
    if (existing?.deleted) throw deletedError('scheduled');
    if (existing) throw new ResourceExistsException({ message: 'exists', $metadata: {} });
    const arn = `arn:aws:secretsmanager:eu-west-1:111122223333:secret:${input.Name}-AbCdEf`;
    secrets.set(input.Name, { arn, value: input.SecretString, deleted: false });
    return { ARN: arn, Name: input.Name };
  });
  sm.on(PutSecretValueCommand).callsFake((input: { SecretId: string; SecretString: string }) => {
    const s = find(input.SecretId);
    if (!s) throw notFound();
    if (s.deleted) throw deletedError('marked');
    s.value = input.SecretString;
    return { ARN: s.arn };
  });
  sm.on(RestoreSecretCommand).callsFake((input: { SecretId: string }) => {
    const s = find(input.SecretId);
    if (!s) throw notFound();
    s.deleted = false;
    return { ARN: s.arn };
  });
  sm.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => {
    const s = find(input.SecretId);
    if (!s) throw notFound();
    if (s.deleted) throw deletedError('marked');
    return { ARN: s.arn, SecretString: s.value };
  });
  sm.on(DeleteSecretCommand).callsFake((input: { SecretId: string }) => {
    const s = find(input.SecretId);
    if (!s) throw notFound();
    s.deleted = true;
    return { ARN: s.arn };
  });
  return new SecretsManagerClient({ region: 'eu-west-1' });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgbackups-secrets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const adapters: [string, () => Secrets][] = [
  ['local files', () => new FileSecrets(dir)],
  [
    'Secrets Manager (aws-sdk-client-mock)',
    () => new SecretsManagerSecrets({ client: mockSecretsManager(), prefix: 'pgbackups' }),
  ],
  ['memory fake', () => new MemorySecrets()],
];

describe.each(adapters)('Secrets contract: %s', (_name, make) => {
  let secrets: Secrets;
  beforeAll(() => {
    secrets = make();
  });

  it('stores a URL and reads it back by the reference it returns', async () => {
    const ref = await secrets.put('contract-app', 'DATABASE', URL_A);
    expect(ref).not.toContain('s3cr3t');
    await expect(secrets.get(ref)).resolves.toBe(URL_A);
  });

  it('replaces the URL of a database attached again, under the same reference', async () => {
    const ref = await secrets.put('contract-app', 'REPLACED', URL_A);
    await expect(secrets.put('contract-app', 'REPLACED', URL_B)).resolves.toBe(ref);
    await expect(secrets.get(ref)).resolves.toBe(URL_B);
  });

  it('says "not found" in the same words for a deleted secret, and deleting again is fine', async () => {
    const ref = await secrets.put('contract-app', 'GONE', URL_A);
    await secrets.delete(ref);
    const error = await secrets.get(ref).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({
      code: 'not_found',
      ref,
      message: `Connection secret ${ref} not found: attach the database again`,
    });
    expect(String(error)).not.toContain('s3cr3t');
    await expect(secrets.delete(ref)).resolves.toBeUndefined();
  });

  it('brings a deleted secret back when the database is attached again', async () => {
    const ref = await secrets.put('contract-app', 'BACK', URL_A);
    await secrets.delete(ref);
    await expect(secrets.put('contract-app', 'BACK', URL_B)).resolves.toBe(ref);
    await expect(secrets.get(ref)).resolves.toBe(URL_B);
  });

  it('says "not found" for a reference that never existed', async () => {
    const real = await secrets.put('contract-app', 'REAL', URL_A);
    const never = real.replace('REAL', 'NEVER');
    await expect(secrets.get(never)).rejects.toMatchObject({
      code: 'not_found',
      message: `Connection secret ${never} not found: attach the database again`,
    });
  });
});
