import { z } from 'zod';
import { localNotifier } from '../adapters/local/webhook-notifier.js';
import { parseCidrList } from '../adapters/net/url-guard.js';
import { redactSecrets } from '../cli/format.js';
import { jsonLogger } from '../core/logger.js';
import { type LocalStack, LocalStartupError, startLocalStack } from './stack.js';

// `npm run local`: configuration comes from the environment, parsed once here.
const env = z
  .object({
    PGBACKUPS_PORT: z.coerce.number().int().min(0).max(65535).default(8787),
    PGBACKUPS_DATA_DIR: z.string().min(1).default('.pgbackups'),
    PGBACKUPS_APP: z.string().min(1).default('local'),
    DATABASE_URL: z.string().min(1).optional(),
    // Which database hosts tenants may reach: loopback and unix sockets (on by default here, never in AWS), and
    // private ranges as CIDRs.
    PGBACKUPS_DB_ALLOW_LOOPBACK: z.enum(['true', 'false']).default('true'),
    PGBACKUPS_DB_HOST_ALLOWLIST: z
      .string()
      .optional()
      .superRefine((v, ctx) => {
        try {
          parseCidrList(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      }),
    // What the API answers besides its own address: extra Host values (name:port) and Origins, comma-separated.
    PGBACKUPS_ALLOWED_HOSTS: z.string().optional(),
    PGBACKUPS_ALLOWED_ORIGINS: z.string().optional(),
  })
  .safeParse(process.env);

if (!env.success) {
  console.error(
    `Invalid environment: ${env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
  );
  process.exit(2);
}

// The SDK's "needs Node 22 from 2027" banner concerns the AWS side (Node 22); locally Node 20 is supported.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function commaList(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const log = jsonLogger({ service: 'pgbackups-local' });
let stack: LocalStack;
try {
  stack = await startLocalStack({
    dataDir: env.data.PGBACKUPS_DATA_DIR,
    port: env.data.PGBACKUPS_PORT,
    app: env.data.PGBACKUPS_APP,
    databaseUrl: env.data.DATABASE_URL,
    databaseHosts: {
      allowLoopback: env.data.PGBACKUPS_DB_ALLOW_LOOPBACK === 'true',
      allowlist: parseCidrList(env.data.PGBACKUPS_DB_HOST_ALLOWLIST),
    },
    apiAccess: {
      hosts: commaList(env.data.PGBACKUPS_ALLOWED_HOSTS),
      origins: commaList(env.data.PGBACKUPS_ALLOWED_ORIGINS),
    },
    log,
    // Alerts: a log line, and a signed POST when PGBACKUPS_WEBHOOK_URL is set.
    notifier: localNotifier(process.env, log),
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
    `  data:   ${env.data.PGBACKUPS_DATA_DIR}`,
    env.data.DATABASE_URL ? `  DATABASE_URL attached as DATABASE of app ${env.data.PGBACKUPS_APP}` : '',
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
