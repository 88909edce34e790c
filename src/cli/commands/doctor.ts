/**
 * `pgbackups doctor`: after a deploy, checks in order that the API answers, that the credentials in use are
 * accepted for the app, that the app has the database, and — through a worker task started like a transfer's
 * (POST /v1/apps/APP/checks) — that a task starts, reaches the database and can write and read the bucket. One
 * line per check; when one fails, what is wrong and what to do, in words. Never prints a secret.
 */

import type { ResponseOf } from '../../api/contract.js';
import { parseSeconds } from '../args.js';
import { appPath, isLoopback } from '../client.js';
import {
  type Command,
  type Context,
  cmd,
  databaseArg,
  knownApps,
  listDatabases,
  out,
  printJson,
} from '../command.js';
import { ApiError, CliError, EXIT } from '../errors.js';
import { jsonFlag } from '../flags.js';
import { redactSecrets } from '../format.js';
import type { DatabaseJson } from '../types.js';

/** What the doctor reads of a check (the contract's Check, src/api/contract.ts). */
export type CheckJson = Pick<ResponseOf<'getCheck', 200>, 'id' | 'database' | 'status' | 'steps'>;

export interface DoctorLine {
  readonly check: string;
  /** `skip`: not checked, because an earlier check it needs failed. */
  readonly result: 'ok' | 'fail' | 'skip';
  readonly message: string;
  readonly hint?: string;
}

const LABELS = ['API', 'Credentials', 'App', 'Worker', 'Database', 'Bucket'] as const;
const STEP_LABEL = { worker: 'Worker', database: 'Database', bucket: 'Bucket' } as const;
const LABEL_WIDTH = Math.max(...LABELS.map((l) => l.length)) + 2;

/** How long to wait for the check's worker by default: a cold Fargate task pulls its image first. */
export const DEFAULT_DOCTOR_TIMEOUT_SECONDS = 300;
const POLL_SECONDS = 3;

function render(line: DoctorLine): string {
  const mark = { ok: 'ok  ', fail: 'FAIL', skip: 'skip' }[line.result];
  const head = `${mark}  ${line.check.padEnd(LABEL_WIDTH)}${line.message}`;
  const pad = ' '.repeat(6 + LABEL_WIDTH);
  return line.hint ? `${head}\n${pad}→ ${line.hint}` : head;
}

/** Who signs the requests, without any secret: the profile name, or where the default chain looks. */
function identity(env: Readonly<Record<string, string | undefined>>): string {
  if (env.AWS_PROFILE) return `AWS profile ${env.AWS_PROFILE}`;
  if (env.AWS_ACCESS_KEY_ID) return 'the access key in AWS_ACCESS_KEY_ID';
  return 'the default AWS credential chain (no AWS_PROFILE set)';
}

/** The API could not be reached at all (no HTTP answer), as opposed to an answer that refused the request. */
const unreachable = (e: unknown) =>
  e instanceof CliError && e.message.startsWith('Could not reach the pgbackups API');
const unsigned = (e: unknown) => e instanceof CliError && e.message.startsWith('Could not sign the request');

/** Hint for a 401/403 from API Gateway's IAM authorizer, from its message. */
function credentialsHint(e: ApiError, ctx: Context): string {
  const who = identity(ctx.io.env);
  const m = e.message;
  const arn = /User: (arn:\S+) is not authorized/.exec(m)?.[1];
  if (arn) {
    return `${arn} (${who}) may not call this app's paths: grant it execute-api:Invoke on the API's …/*/*/v1/apps/${ctx.app}/* (docs/deploy.md), or use a profile that has it.`;
  }
  if (/security token|expired|signature|InvalidClientTokenId|ExpiredToken/i.test(m)) {
    return `The credentials of ${who} are invalid or expired: refresh them (aws sso login, or new keys), and check that AWS_REGION is the stack's region.`;
  }
  return `The credentials in use (${who}) are not allowed to call this app's paths: check AWS_PROFILE and AWS_REGION, and that the identity may execute-api:Invoke …/v1/apps/${ctx.app}/*.`;
}

export const doctor: Command = {
  name: 'doctor',
  usage: '',
  summary:
    'after a deploy: check the API, your credentials, and that a worker reaches the database and bucket',
  description: [
    'Checks, in order: the API answers at PGBACKUPS_API_URL; your credentials are accepted for the app; the',
    'app has the database; a worker task starts (the same task definition and network as a backup), connects to',
    'the database and writes, reads back and deletes a small object under checks/ in the bucket. Each line says',
    'ok, or what is wrong and what to do. Nothing is written to the database. Exits 1 when any check fails.',
  ].join('\n'),
  flags: {
    database: {
      type: 'string',
      value: 'NAME',
      description: 'the attached database the worker connects to (default DATABASE)',
    },
    timeout: {
      type: 'string',
      value: 'SECONDS',
      description: `how long to wait for the worker task (default ${DEFAULT_DOCTOR_TIMEOUT_SECONDS})`,
    },
    json: jsonFlag,
  },
  maxArgs: 0,
  async run(ctx) {
    const database = databaseArg(
      ctx,
      typeof ctx.flags.database === 'string' ? ctx.flags.database : 'DATABASE',
    );
    const timeout = parseSeconds(ctx.flags.timeout, 'timeout', DEFAULT_DOCTOR_TIMEOUT_SECONDS, 10);
    const lines: DoctorLine[] = [];
    const report = (line: DoctorLine) => {
      lines.push(line);
      if (!ctx.json) out(ctx, render(line));
    };
    const skipRest = (from: (typeof LABELS)[number], why: string) => {
      for (const check of LABELS.slice(LABELS.indexOf(from))) report({ check, result: 'skip', message: why });
    };
    const finish = () => {
      const failed = lines.filter((l) => l.result === 'fail').length;
      if (ctx.json) printJson(ctx, { app: ctx.app, database, ok: failed === 0, checks: lines });
      else {
        out(ctx);
        out(
          ctx,
          failed === 0
            ? 'Every check passed.'
            : `${failed} check${failed > 1 ? 's' : ''} failed. Fix the first one first: the ones after it may depend on it.`,
        );
      }
      return failed === 0 ? EXIT.ok : EXIT.error;
    };
    if (!ctx.json) out(ctx, `=== pgbackups doctor: ${ctx.app}\n`);
    const base = ctx.client.baseUrl;
    const local = isLoopback(new URL(base).hostname);

    // 1. The API: any HTTP answer means it is there, even one that refuses these credentials.
    try {
      await ctx.client.get('/v1/health');
      report({ check: 'API', result: 'ok', message: `${base} answers` });
    } catch (e) {
      if (unreachable(e)) {
        report({
          check: 'API',
          result: 'fail',
          message: redactSecrets((e as Error).message.replace(/ Check PGBACKUPS_API_URL.*$/, '')),
          hint: local
            ? 'Is the local stack running (npm run local)? PGBACKUPS_API_URL must be the address it printed.'
            : 'Check PGBACKUPS_API_URL: it is the ApiUrl output of the deployed stack (aws cloudformation describe-stacks --stack-name PgBackups --query "Stacks[0].Outputs"), with no path, in the stack\'s region.',
        });
        skipRest('Credentials', 'not checked: the API cannot be reached');
        return finish();
      }
      if (e instanceof ApiError && e.status === 404) {
        report({
          check: 'API',
          result: 'fail',
          message: `${base} answers, but not as the pgbackups API (HTTP 404 on /v1/health)`,
          hint: 'PGBACKUPS_API_URL must be the ApiUrl output of the stack itself, with no path after it.',
        });
        skipRest('Credentials', 'not checked: PGBACKUPS_API_URL is not the pgbackups API');
        return finish();
      }
      // Signing failures and refusals are the credentials' business, checked next; the API itself answered.
      if (!unsigned(e)) report({ check: 'API', result: 'ok', message: `${base} answers` });
      else report({ check: 'API', result: 'skip', message: 'not checked: requests could not be signed' });
    }

    // 2. Credentials: the app's own access route succeeds only for callers IAM lets act on this app.
    try {
      await ctx.client.get(appPath(ctx.app, 'access'));
      report({
        check: 'Credentials',
        result: 'ok',
        message: local
          ? 'none needed: the local stack has no authentication'
          : `${identity(ctx.io.env)} may act on ${ctx.app}`,
      });
    } catch (e) {
      if (unsigned(e)) {
        report({
          check: 'Credentials',
          result: 'fail',
          message: `no usable AWS credentials: ${redactSecrets((e as Error).message.replace(/^Could not sign the request with AWS credentials: /, ''))}`,
          hint: 'Configure credentials (aws configure, aws sso login, or AWS_PROFILE) for the account the stack is deployed in.',
        });
      } else if (e instanceof ApiError && (e.status === 403 || e.status === 401)) {
        report({
          check: 'Credentials',
          result: 'fail',
          message: `refused: HTTP ${e.status}`,
          hint: credentialsHint(e, ctx),
        });
      } else {
        report({ check: 'Credentials', result: 'fail', message: redactSecrets((e as Error).message) });
      }
      skipRest('App', 'not checked: the API refuses these credentials');
      return finish();
    }

    // 3. The app and its database.
    let attached: DatabaseJson[];
    try {
      attached = await listDatabases(ctx);
    } catch (e) {
      report({ check: 'App', result: 'fail', message: redactSecrets((e as Error).message) });
      skipRest('Worker', 'not checked: the app could not be read');
      return finish();
    }
    if (attached.length === 0) {
      const apps = await knownApps(ctx);
      const known =
        apps === undefined
          ? ''
          : apps.length > 0
            ? ` Known apps: ${apps.join(', ')}.`
            : ' The API knows no apps yet.';
      report({
        check: 'App',
        result: 'fail',
        message: `${ctx.app} has no databases${apps && !apps.includes(ctx.app) ? ' (the API does not know this app)' : ''}.${known}`,
        hint: `Attach one with ${cmd(ctx, 'databases:add DATABASE --url -')}, or give the right app with -a.`,
      });
      skipRest('Worker', 'not checked: no database to reach');
      return finish();
    }
    if (!attached.some((d) => d.name === database)) {
      report({
        check: 'App',
        result: 'fail',
        message: `Unknown database: ${database}. Valid options are: ${attached.map((d) => d.name).join(', ')}`,
        hint: `Run ${cmd(ctx, `doctor --database ${attached[0]?.name}`)}, or attach ${database} first.`,
      });
      skipRest('Worker', 'not checked: no such database');
      return finish();
    }
    report({
      check: 'App',
      result: 'ok',
      message: `${ctx.app} has ${attached.length} database${attached.length > 1 ? 's' : ''}: ${attached.map((d) => d.name).join(', ')}`,
    });

    // 4–6. A worker task, the database and the bucket, seen from inside the task.
    let check: CheckJson;
    try {
      check = await ctx.client.post<CheckJson>(appPath(ctx.app, 'checks'), { database });
    } catch (e) {
      report({
        check: 'Worker',
        result: 'fail',
        message: `the API could not start a check: ${redactSecrets((e as Error).message)}`,
      });
      skipRest('Database', 'not checked: no worker task');
      return finish();
    }
    if (!ctx.json) ctx.io.stderr.write(`Waiting for worker task ${check.id} (up to ${timeout} s)... `);
    // Counted in polls, not wall time: the bound holds however slow each request is.
    try {
      for (let polls = Math.ceil(timeout / POLL_SECONDS); polls > 0; polls--) {
        if (check.status === 'passed' || check.status === 'failed') break;
        await ctx.io.sleep(POLL_SECONDS * 1000);
        check = await ctx.client.get<CheckJson>(appPath(ctx.app, 'checks', check.id));
      }
    } catch (e) {
      if (!ctx.json) ctx.io.stderr.write('!\n');
      report({
        check: 'Worker',
        result: 'fail',
        message: `lost the API while waiting for check ${check.id}: ${redactSecrets((e as Error).message)}`,
        hint: `Run ${cmd(ctx, 'doctor')} again.`,
      });
      skipRest('Database', 'not checked: the check could not be read');
      return finish();
    }
    const finished = check.status === 'passed' || check.status === 'failed';
    if (!ctx.json) ctx.io.stderr.write(finished ? 'done\n' : 'no answer\n');
    for (const step of check.steps) {
      report({
        check: STEP_LABEL[step.name],
        result: step.ok ? 'ok' : 'fail',
        message: redactSecrets(step.message),
        ...(step.ok || !step.hint ? {} : { hint: step.hint }),
      });
    }
    if (!finished) {
      report({
        check: 'Worker',
        result: 'fail',
        message: `check ${check.id} is still ${check.status} after ${timeout} s: ${check.status === 'pending' ? 'the worker task has not started yet' : 'the worker has not finished'}`,
        hint: `A first task can take minutes while Fargate pulls the image: run ${cmd(ctx, `doctor --timeout ${timeout * 2}`)}. If it never starts, the ECS console shows the task's stopped reason; the API fails the check after 10 minutes.`,
      });
    }
    const seen = new Set(lines.map((l) => l.check));
    for (const check of ['Worker', 'Database', 'Bucket'] as const) {
      if (!seen.has(check))
        report({ check, result: 'skip', message: 'not checked: the worker task did not run' });
    }
    return finish();
  },
};
