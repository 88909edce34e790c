import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SecretNotFoundError } from '../../core/errors.js';
import type { Secrets } from '../../core/ports.js';

export interface SecretsManagerSecretsOptions {
  readonly client: SecretsManagerClient;
  /**
   * Name prefix of every connection secret; IAM grants are scoped to it. Needed only to `put` (the worker reads
   * secrets by ARN and has none).
   */
  readonly prefix?: string;
  /** Days a deleted secret stays recoverable. @default 7 */
  readonly recoveryWindowInDays?: number;
}

/**
 * Connection URLs in Secrets Manager, one secret `<prefix>/<app>/<database>` per attached database. References
 * are secret ARNs. No error message ever contains a URL: failures name the app and database only.
 */
export class SecretsManagerSecrets implements Secrets {
  constructor(private readonly opts: SecretsManagerSecretsOptions) {}

  /** Secret name of a database. */
  nameOf(app: string, database: string): string {
    if (!this.opts.prefix) throw new Error('SecretsManagerSecrets needs a prefix to name new secrets');
    return `${this.opts.prefix}/${app}/${database}`;
  }

  async put(app: string, database: string, url: string): Promise<string> {
    const name = this.nameOf(app, database);
    const { client } = this.opts;
    try {
      const out = await client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: url,
          Description: `pgbackups connection URL of ${database} in ${app}`,
        }),
      );
      return requireArn(out.ARN, app, database);
    } catch (e) {
      if (e instanceof ResourceExistsException) {
        // Re-attaching a database: replace the URL, keep the secret (and its ARN).
        const out = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: url }));
        return requireArn(out.ARN, app, database);
      }
      if (isScheduledForDeletion(e)) {
        // Re-attaching within the recovery window of a removed database: bring the secret back first.
        await client.send(new RestoreSecretCommand({ SecretId: name }));
        const out = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: url }));
        return requireArn(out.ARN, app, database);
      }
      throw new Error(`Could not store the connection URL of ${database} in ${app}: ${errorName(e)}`, {
        cause: e,
      });
    }
  }

  async get(ref: string): Promise<string> {
    try {
      const out = await this.opts.client.send(new GetSecretValueCommand({ SecretId: ref }));
      if (out.SecretString === undefined) throw new Error(`Secret ${ref} has no string value`);
      return out.SecretString;
    } catch (e) {
      // A deleted secret waits out its recovery window, and reading it meanwhile is an InvalidRequestException:
      // for the caller it is gone all the same.
      if (e instanceof ResourceNotFoundException || isScheduledForDeletion(e)) {
        throw new SecretNotFoundError(ref, { cause: e });
      }
      throw e;
    }
  }

  async delete(ref: string): Promise<void> {
    try {
      await this.opts.client.send(
        new DeleteSecretCommand({
          SecretId: ref,
          RecoveryWindowInDays: this.opts.recoveryWindowInDays ?? 7,
          ForceDeleteWithoutRecovery: false,
        }),
      );
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException)) throw e;
    }
  }
}

function requireArn(arn: string | undefined, app: string, database: string): string {
  if (!arn)
    throw new Error(`Secrets Manager returned no ARN for the connection secret of ${database} in ${app}`);
  return arn;
}

/** Secrets Manager's words for a secret in its recovery window ("scheduled for" / "marked for deletion"). */
const isScheduledForDeletion = (e: unknown) =>
  e instanceof InvalidRequestException && /(scheduled|marked) for deletion/i.test(e.message);

const errorName = (e: unknown) => (e instanceof Error ? e.name : 'unknown error');
