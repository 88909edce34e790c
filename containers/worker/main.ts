/**
 * The worker entrypoint: the ECS task's command, and the child process the local stack starts. It runs one
 * transfer (PGBACKUPS_APP + PGBACKUPS_TRANSFER_NUM) and exits. SIGTERM (ECS StopTask, cancel) or SIGINT aborts it:
 * the child processes are stopped, nothing is left behind, and the transfer is recorded `cancelled`.
 * Exit code 0 means the worker recorded the outcome itself; anything else is left to the reconciler.
 * With PGBACKUPS_CHECK_ID instead of a transfer number it runs a deployment check (`pgbackups doctor`,
 * src/worker/run-check.ts) with the same role, network and clients.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDbCatalog } from '../../src/adapters/aws/dynamodb-catalog.js';
import { localS3Client, S3BlobStore } from '../../src/adapters/aws/s3-blob-store.js';
import { SecretsManagerSecrets } from '../../src/adapters/aws/secrets-manager-secrets.js';
import { FileSecrets } from '../../src/adapters/local/file-secrets.js';
import { databaseHostGuard, openGuardedUrl } from '../../src/adapters/net/url-guard.js';
import { ENV } from '../../src/config/env-names.js';
import {
  type CheckEnv,
  parseCheckEnv,
  parseWorkerEnv,
  workerHostPolicy,
} from '../../src/config/worker-env.js';
import { errorMessage, jsonLogger } from '../../src/core/logger.js';
import { systemClock } from '../../src/core/ports.js';
import { parseBinDirs } from '../../src/worker/pg-clients.js';
import { runCheck } from '../../src/worker/run-check.js';
import { runTransfer } from '../../src/worker/run-transfer.js';

const log = jsonLogger({ service: 'pgbackups-worker' });

/** The adapters every worker run uses, built once from its environment. */
function buildDeps(env: Omit<CheckEnv, typeof ENV.CHECK_ID>, labels: Record<string, unknown>) {
  const region = env.AWS_REGION;
  const dynamo = new DynamoDBClient(
    env.PGBACKUPS_DYNAMODB_ENDPOINT ? { endpoint: env.PGBACKUPS_DYNAMODB_ENDPOINT, region } : { region },
  );
  const s3 = env.PGBACKUPS_S3_ENDPOINT ? localS3Client(env.PGBACKUPS_S3_ENDPOINT) : new S3Client({ region });
  const deps = {
    catalog: DynamoDbCatalog.fromClient(dynamo, env.PGBACKUPS_TABLE),
    blobs: new S3BlobStore({
      client: s3,
      bucket: env.PGBACKUPS_BUCKET,
      partSize: env.PGBACKUPS_PART_SIZE_MB ? env.PGBACKUPS_PART_SIZE_MB * 1024 * 1024 : undefined,
    }),
    secrets: env.PGBACKUPS_SECRETS_DIR
      ? new FileSecrets(env.PGBACKUPS_SECRETS_DIR)
      : new SecretsManagerSecrets({ client: new SecretsManagerClient({ region }) }),
    clock: systemClock,
    // Database hosts are checked again at every connect, on the addresses resolved then.
    databaseHosts: databaseHostGuard(workerHostPolicy(env)),
    log: log.child({ app: env.PGBACKUPS_APP, ...labels }),
  };
  const close = () => {
    dynamo.destroy();
    s3.destroy();
  };
  return { deps, close };
}

async function main(): Promise<number> {
  if (process.env[ENV.CHECK_ID] !== undefined) {
    const env = parseCheckEnv(process.env);
    const { deps, close } = buildDeps(env, { check: env.PGBACKUPS_CHECK_ID });
    const status = await runCheck(
      deps,
      { app: env.PGBACKUPS_APP, id: env.PGBACKUPS_CHECK_ID },
      { pgBinDirs: parseBinDirs(env.PGBACKUPS_PG_BINDIRS) },
    );
    deps.log.info('worker finished', { status });
    close();
    return 0;
  }
  const env = parseWorkerEnv(process.env);
  const { deps, close } = buildDeps(env, { num: env.PGBACKUPS_TRANSFER_NUM });

  const abort = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      deps.log.warn('stop requested', { signal });
      abort.abort(new Error(`stopped by ${signal}`));
    });
  }
  const status = await runTransfer(
    deps,
    { app: env.PGBACKUPS_APP, num: env.PGBACKUPS_TRANSFER_NUM },
    abort.signal,
    {
      progressIntervalMs: env.PGBACKUPS_PROGRESS_INTERVAL_MS,
      pgBinDirs: parseBinDirs(env.PGBACKUPS_PG_BINDIRS),
      // Restores from a URL go through the SSRF guard again here, at connect time and on every redirect.
      openUrl: (url, signal) => openGuardedUrl(url, { signal }),
    },
  );
  deps.log.info('worker finished', { status });
  close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log.error('worker crashed', { error: errorMessage(e) });
    process.exit(1);
  },
);
