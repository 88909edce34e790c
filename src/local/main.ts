import { localNotifier } from '../adapters/local/webhook-notifier.js';
import { redactSecrets } from '../cli/format.js';
import { type LocalEnv, parseLocalEnv } from '../config/local-env.js';
import { jsonLogger } from '../core/logger.js';
import { type LocalStack, LocalStartupError, startLocalStack } from './stack.js';

// `npm run local`: configuration comes from the environment, parsed once here (src/config/local-env.ts).
let env: LocalEnv;
try {
  env = parseLocalEnv(process.env);
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}

// The SDK's "needs Node 22 from 2027" banner concerns the AWS side (Node 22); locally Node 20 is supported.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const log = jsonLogger({ service: 'pgbackups-local' });
let stack: LocalStack;
try {
  stack = await startLocalStack({
    dataDir: env.PGBACKUPS_DATA_DIR,
    port: env.PGBACKUPS_PORT,
    app: env.PGBACKUPS_APP,
    databaseUrl: env.DATABASE_URL,
    databaseHosts: {
      allowLoopback: env.PGBACKUPS_DB_ALLOW_LOOPBACK,
      allowlist: env.PGBACKUPS_DB_HOST_ALLOWLIST,
    },
    apiAccess: {
      hosts: env.PGBACKUPS_ALLOWED_HOSTS,
      origins: env.PGBACKUPS_ALLOWED_ORIGINS,
    },
    log,
    // Alerts: a log line, and a signed POST when PGBACKUPS_WEBHOOK_URL is set.
    notifier: localNotifier({ url: env.PGBACKUPS_WEBHOOK_URL, secret: env.PGBACKUPS_WEBHOOK_SECRET }, log),
  });
} catch (e) {
  // Start-up failures a user can fix are said in words; anything else keeps its stack trace for a bug report.
  const known = e instanceof LocalStartupError;
  process.stderr.write(
    `pgbackups local stack could not start: ${redactSecrets((e as Error)?.message ?? String(e))}\n${
      known ? '' : `${redactSecrets((e as Error)?.stack ?? '')}\n`
    }`,
  );
  process.exit(1);
}

process.stderr.write(
  `${[
    '',
    `pgbackups is running at ${stack.apiUrl}`,
    `  data:   ${env.PGBACKUPS_DATA_DIR}`,
    env.DATABASE_URL ? `  DATABASE_URL attached as DATABASE of app ${env.PGBACKUPS_APP}` : '',
    `  try:    curl ${stack.apiUrl}/v1/health`,
    `  CLI:    export PGBACKUPS_API_URL=${stack.apiUrl}`,
    'Press Ctrl-C to stop.',
    '',
  ]
    .filter((l) => l !== '')
    .join('\n')}\n`,
);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`\n${signal}: stopping workers and servers…\n`);
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
