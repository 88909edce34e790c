import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { DynamoDbCatalog, ensureCatalogTable } from '../adapters/aws/dynamodb-catalog.js';
import { localS3Client, S3BlobStore } from '../adapters/aws/s3-blob-store.js';
import { FileSecrets } from '../adapters/local/file-secrets.js';
import { LocalProcessRunner } from '../adapters/local/process-runner.js';
import { localAccess } from '../api/app-access.js';
import { createRouter } from '../api/router.js';
import type { CoreDeps } from '../core/deps.js';
import { jsonLogger, type Logger } from '../core/logger.js';
import type { Notifier, Scheduler } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { attachDatabase } from '../core/use-cases/databases.js';
import { reconcileStoppedTask } from '../core/use-cases/transfers.js';
import { startApiServer } from './api-server.js';

export const LOCAL_TABLE = 'pgbackups';
export const LOCAL_BUCKET = 'pgbackups-local';

export interface LocalStackOptions {
  /** Where dynalite, s3rver and secrets keep their data; survives restarts. */
  readonly dataDir: string;
  /** API port; 0 picks a free one. */
  readonly port: number;
  readonly host?: string;
  /** Attach this URL as DATABASE of `app` at start. */
  readonly databaseUrl?: string;
  readonly app?: string;
  readonly log?: Logger;
  /** How often workers report progress. @default 3000 */
  readonly progressIntervalMs?: number;
  readonly scheduler?: Scheduler;
  readonly notifier?: Notifier;
  /** Show workers' log lines on this process's output. @default 'inherit' */
  readonly workerOutput?: 'inherit' | 'ignore';
}

export interface LocalStack {
  readonly apiUrl: string;
  readonly deps: CoreDeps;
  readonly runner: LocalProcessRunner;
  readonly dynamoEndpoint: string;
  readonly s3Endpoint: string;
  readonly bucket: string;
  readonly table: string;
  stop(): Promise<void>;
}

const closeServer = (s: Server) => new Promise<void>((r) => s.close(() => r()));

/**
 * The whole service on 127.0.0.1: dynalite and s3rver (the production DynamoDB and S3 adapters talk to them),
 * file secrets, the API, and workers as child processes running the container's entrypoint.
 */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const host = opts.host ?? '127.0.0.1';
  const dataDir = resolve(opts.dataDir);
  const log = opts.log ?? jsonLogger({ service: 'pgbackups-local' });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });

  const dynamo = dynalite({ path: join(dataDir, 'dynamodb'), createTableMs: 0 });
  await new Promise<void>((r) => dynamo.listen(0, host, r));
  const dynamoEndpoint = `http://${host}:${(dynamo.address() as AddressInfo).port}`;

  const s3 = new S3rver({
    address: host,
    port: 0,
    silent: true,
    directory: join(dataDir, 's3'),
    configureBuckets: [{ name: LOCAL_BUCKET, configs: [] }],
  });
  const s3Endpoint = `http://${host}:${(await s3.run()).port}`;

  const dynamoClient = new DynamoDBClient({
    endpoint: dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await ensureCatalogTable(dynamoClient, LOCAL_TABLE);

  const secretsDir = join(dataDir, 'secrets');
  let deps: CoreDeps | undefined;
  const runner = new LocalProcessRunner({
    log,
    workerOutput: opts.workerOutput,
    env: {
      PGBACKUPS_TABLE: LOCAL_TABLE,
      PGBACKUPS_BUCKET: LOCAL_BUCKET,
      PGBACKUPS_DYNAMODB_ENDPOINT: dynamoEndpoint,
      PGBACKUPS_S3_ENDPOINT: s3Endpoint,
      PGBACKUPS_SECRETS_DIR: secretsDir,
      PGBACKUPS_PROGRESS_INTERVAL_MS: String(opts.progressIntervalMs ?? 3000),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      // Locally Node 20 is supported; the SDK's "needs Node 22 from 2027" banner is for the AWS side, which runs 22.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    onExit: async (exit) => {
      if (!deps) return;
      await reconcileStoppedTask(deps, {
        app: exit.app,
        num: exit.num,
        exitCode: exit.exitCode,
        reason: exit.signal ? `worker killed by ${exit.signal}` : 'worker exited',
      });
    },
  });

  deps = {
    catalog: DynamoDbCatalog.fromClient(dynamoClient, LOCAL_TABLE),
    blobs: new S3BlobStore({ client: localS3Client(s3Endpoint), bucket: LOCAL_BUCKET }),
    secrets: new FileSecrets(secretsDir),
    runner,
    scheduler: opts.scheduler ?? { upsert: async () => {}, remove: async () => {} },
    notifier: opts.notifier ?? { notify: async (a) => log.warn('alert', { ...a }) },
    clock: systemClock,
    log,
  };
  const coreDeps = deps;

  // Workers of a previous run died with it: whatever they left pending or running is failed now, not left stuck.
  for (const t of await coreDeps.catalog.listActiveTransfers()) {
    await reconcileStoppedTask(coreDeps, {
      app: t.app,
      num: t.num,
      reason: 'the local stack restarted while it ran',
    });
  }

  if (opts.databaseUrl) {
    await attachDatabase(coreDeps, { app: opts.app ?? 'local', name: 'DATABASE', url: opts.databaseUrl });
  }

  const api = await startApiServer(createRouter(coreDeps, { access: localAccess }), {
    host,
    port: opts.port,
  });

  return {
    apiUrl: api.url,
    deps: coreDeps,
    runner,
    dynamoEndpoint,
    s3Endpoint,
    bucket: LOCAL_BUCKET,
    table: LOCAL_TABLE,
    stop: async () => {
      await closeServer(api.server);
      await runner.stopAll();
      dynamoClient.destroy();
      await s3.close();
      await closeServer(dynamo);
    },
  };
}
