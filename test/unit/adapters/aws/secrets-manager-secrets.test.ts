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
import { beforeEach, describe, expect, it } from 'vitest';
import { SecretsManagerSecrets } from '../../../../src/adapters/aws/secrets-manager-secrets.js';
import { NotFoundError } from '../../../../src/core/errors.js';

const sm = mockClient(SecretsManagerClient);
const URL = 'postgres://app:s3cr3t-p4ss@db.internal:5432/app';
const ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:pgbackups/example-app/DATABASE-AbCdEf';
const secrets = new SecretsManagerSecrets({
  client: new SecretsManagerClient({ region: 'eu-west-1' }),
  prefix: 'pgbackups',
});

beforeEach(() => sm.reset());

describe('SecretsManagerSecrets.put', () => {
  it('creates <prefix>/<app>/<database> and returns its ARN', async () => {
    sm.on(CreateSecretCommand).resolves({ ARN, Name: 'pgbackups/example-app/DATABASE' });
    await expect(secrets.put('example-app', 'DATABASE', URL)).resolves.toBe(ARN);
    expect(sm.commandCalls(CreateSecretCommand)[0]!.args[0].input).toEqual({
      Name: 'pgbackups/example-app/DATABASE',
      SecretString: URL,
      Description: 'pgbackups connection URL of DATABASE in example-app',
    });
  });

  it('replaces the value when the secret exists', async () => {
    sm.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    sm.on(PutSecretValueCommand).resolves({ ARN });
    await expect(secrets.put('example-app', 'DATABASE', URL)).resolves.toBe(ARN);
    expect(sm).toHaveReceivedCommandExactlyOnceWith(PutSecretValueCommand, {
      SecretId: 'pgbackups/example-app/DATABASE',
      SecretString: URL,
    });
  });

  it('restores a secret scheduled for deletion, then replaces its value', async () => {
    sm.on(CreateSecretCommand).rejects(
      new InvalidRequestException({
        message:
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        $metadata: {},
      }),
    );
    sm.on(RestoreSecretCommand).resolves({ ARN });
    sm.on(PutSecretValueCommand).resolves({ ARN });
    await expect(secrets.put('example-app', 'DATABASE', URL)).resolves.toBe(ARN);
    expect(sm).toHaveReceivedCommandExactlyOnceWith(RestoreSecretCommand, {
      SecretId: 'pgbackups/example-app/DATABASE',
    });
    expect(sm).toHaveReceivedCommandExactlyOnceWith(PutSecretValueCommand, {
      SecretId: 'pgbackups/example-app/DATABASE',
      SecretString: URL,
    });
  });

  it('names the database, never the URL, when storing fails', async () => {
    sm.on(CreateSecretCommand).rejects(
      Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }),
    );
    const error = await secrets.put('example-app', 'DATABASE', URL).then(
      () => new Error('expected a rejection'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe(
      'Could not store the connection URL of DATABASE in example-app: AccessDeniedException',
    );
    expect(JSON.stringify({ message: error.message, stack: error.stack })).not.toContain('s3cr3t');
  });

  it('refuses to name a secret without a prefix', async () => {
    const reader = new SecretsManagerSecrets({ client: new SecretsManagerClient({ region: 'eu-west-1' }) });
    await expect(reader.put('example-app', 'DATABASE', URL)).rejects.toThrow('needs a prefix');
    expect(sm).not.toHaveReceivedAnyCommand();
  });
});

describe('SecretsManagerSecrets.get', () => {
  it('reads the secret by its reference', async () => {
    sm.on(GetSecretValueCommand).resolves({ ARN, SecretString: URL });
    await expect(secrets.get(ARN)).resolves.toBe(URL);
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: ARN });
  });

  it('maps a missing secret to NotFoundError', async () => {
    sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    const error = await secrets.get(ARN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toBe(`Connection secret ${ARN} not found: attach the database again`);
  });
});

describe('SecretsManagerSecrets.delete', () => {
  it('schedules deletion with a 7-day recovery window', async () => {
    sm.on(DeleteSecretCommand).resolves({ ARN });
    await secrets.delete(ARN);
    expect(sm.commandCalls(DeleteSecretCommand)[0]!.args[0].input).toEqual({
      SecretId: ARN,
      RecoveryWindowInDays: 7,
      ForceDeleteWithoutRecovery: false,
    });
  });

  it('treats a secret that is already gone as deleted', async () => {
    sm.on(DeleteSecretCommand).rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    await expect(secrets.delete(ARN)).resolves.toBeUndefined();
  });
});
