/**
 * The API description served at GET /v1/openapi.json. Kept next to the router; a unit test checks that every
 * route the router serves is described here and nothing else is.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const error = { description: 'Error', content: { 'application/json': { schema: ref('Error') } } };
const ok = (description: string, schema?: object) => ({
  description,
  ...(schema ? { content: { 'application/json': { schema } } } : {}),
});
const body = (schema: object, required = true) => ({ required, content: { 'application/json': { schema } } });
const appParam = {
  name: 'app',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,61}[a-z0-9]$' },
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', example: 'b001' } };
const nameParam = {
  name: 'name',
  in: 'path',
  required: true,
  schema: { type: 'string', example: 'DATABASE' },
};
const errors = { 400: error, 404: error, 409: error, 422: error };

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'pgbackups',
    version: '1',
    description:
      'Logical PostgreSQL backups: capture, list, download, restore. Authenticated with AWS SigV4 (IAM).',
  },
  paths: {
    '/v1/health': { get: { summary: 'Liveness', responses: { 200: ok('OK') } } },
    '/v1/openapi.json': { get: { summary: 'This document', responses: { 200: ok('OpenAPI document') } } },
    '/v1/apps': {
      get: {
        summary: 'The apps that have a database or a transfer (names only)',
        responses: { 200: ok('Apps: {"apps": ["example-app"]}') },
      },
    },
    '/v1/apps/{app}/databases': {
      parameters: [appParam],
      get: { summary: 'List attached databases', responses: { 200: ok('Databases'), ...errors } },
    },
    '/v1/apps/{app}/databases/{name}': {
      parameters: [appParam, nameParam],
      put: {
        summary: 'Attach a database (the URL is stored in the secret store, never returned)',
        requestBody: body({ type: 'object', required: ['url'], properties: { url: { type: 'string' } } }),
        responses: { 201: ok('Attached', ref('Database')), ...errors },
      },
      delete: { summary: 'Detach a database', responses: { 204: ok('Detached'), ...errors } },
    },
    '/v1/apps/{app}/settings': {
      parameters: [appParam],
      get: { summary: 'Plan and retention settings', responses: { 200: ok('Settings'), ...errors } },
      put: {
        summary: 'Change plan or retention overrides (null clears an override)',
        requestBody: body({
          type: 'object',
          properties: {
            plan: { enum: ['essential', 'standard', 'premium', 'enterprise'] },
            manualLimit: { type: ['integer', 'null'] },
            daily: { type: ['integer', 'null'] },
            weekly: { type: ['integer', 'null'] },
            monthly: { type: ['integer', 'null'] },
            compressionLevel: { type: ['integer', 'null'] },
            notifyOnSuccess: { type: 'boolean' },
          },
        }),
        responses: { 200: ok('Settings'), ...errors },
      },
    },
    '/v1/apps/{app}/backups': {
      parameters: [appParam],
      post: {
        summary: 'Capture a backup (default database DATABASE)',
        requestBody: body({ type: 'object', properties: { database: { type: 'string' } } }, false),
        responses: { 202: ok('Started', ref('Transfer')), ...errors },
      },
    },
    '/v1/apps/{app}/backups/{id}': {
      parameters: [appParam, idParam],
      delete: {
        summary: 'Delete a backup: its object, then its record (a running one is cancelled first)',
        responses: { 204: ok('Deleted'), ...errors },
      },
    },
    '/v1/apps/{app}/copies': {
      parameters: [appParam],
      post: {
        summary:
          'Copy a database into another directly (pg_dump → atomic restore); either may be other-app::NAME',
        requestBody: body({
          type: 'object',
          required: ['from', 'to'],
          properties: {
            from: { type: 'string' },
            to: { type: 'string' },
            safetyBackup: { type: 'boolean', default: true },
            keepExtensions: {
              type: 'array',
              items: { type: 'string' },
              description:
                "Extensions already installed in the target to keep: the wipe leaves them, the dump's CREATE EXTENSION is skipped. For extensions only a superuser can create, when the target's owner is not one",
            },
          },
        }),
        responses: { 202: ok('Started', ref('Transfer')), 403: error, ...errors },
      },
    },
    '/v1/apps/{app}/schedules': {
      parameters: [appParam],
      get: { summary: 'Daily backup schedules', responses: { 200: ok('Schedules'), ...errors } },
    },
    '/v1/apps/{app}/schedules/{database}': {
      parameters: [appParam, { name: 'database', in: 'path', required: true, schema: { type: 'string' } }],
      put: {
        summary:
          "Back up a database daily at HH:MM in a time zone (Heroku's --at '02:00 America/Los_Angeles')",
        requestBody: body({
          type: 'object',
          required: ['at'],
          properties: { at: { type: 'string', example: '02:00 UTC' } },
        }),
        responses: { 200: ok('Schedule'), ...errors },
      },
      delete: {
        summary: 'Stop the daily backups of a database',
        responses: { 204: ok('Removed'), ...errors },
      },
    },
    '/v1/apps/{app}/retention': {
      parameters: [appParam],
      get: {
        summary: 'What retention would delete now, and why (a dry run of the pruner)',
        responses: { 200: ok('Plan'), ...errors },
      },
    },
    '/v1/apps/{app}/access': {
      parameters: [appParam],
      get: {
        summary:
          'Succeeds only for callers allowed on this app; cross-app requests are checked against the same permission',
        responses: { 200: ok('Access granted') },
      },
    },
    '/v1/apps/{app}/backups/{id}/url': {
      parameters: [appParam, idParam],
      post: {
        summary: 'A presigned download URL (default 3600 s, at most 43200 s)',
        requestBody: body({ type: 'object', properties: { expiresInSeconds: { type: 'integer' } } }, false),
        responses: { 200: ok('URL'), ...errors },
      },
    },
    '/v1/apps/{app}/transfers': {
      parameters: [
        appParam,
        { name: 'kind', in: 'query', schema: { enum: ['backup', 'restore', 'copy'] } },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
        { name: 'cursor', in: 'query', schema: { type: 'string' } },
      ],
      get: { summary: 'Transfers, newest first', responses: { 200: ok('Transfers'), ...errors } },
    },
    '/v1/apps/{app}/transfers/{id}': {
      parameters: [appParam, idParam, { name: 'logs', in: 'query', schema: { type: 'boolean' } }],
      get: {
        summary: 'One transfer (with logs=true, its log lines)',
        responses: { 200: ok('Transfer', ref('Transfer')), ...errors },
      },
    },
    '/v1/apps/{app}/transfers/{id}/cancel': {
      parameters: [appParam, idParam],
      post: {
        summary: 'Cancel a pending or running transfer',
        responses: { 200: ok('Cancelling', ref('Transfer')), ...errors },
      },
    },
    '/v1/apps/{app}/restores': {
      parameters: [appParam],
      post: {
        summary: 'Restore a backup into an attached database, atomically',
        requestBody: body(
          {
            type: 'object',
            properties: {
              backup: {
                type: 'string',
                description:
                  'b101 or other-app::b101 (needs IAM permission on other-app too), or an https:// URL; default: the newest completed manual or scheduled backup of the target database (never a safety backup)',
              },
              database: { type: 'string', description: 'default DATABASE' },
              extensions: {
                type: 'array',
                items: { type: 'string' },
                description:
                  'NAME or SCHEMA.NAME: extensions created before the restore, also in a schema the dump creates',
              },
              keepExtensions: {
                type: 'array',
                items: { type: 'string' },
                description:
                  "Extensions already installed in the target to keep: the wipe leaves them, the dump's CREATE EXTENSION is skipped. For extensions only a superuser can create, when the target's owner is not one",
              },
              parallel: {
                type: 'integer',
                minimum: 1,
                maximum: 16,
                description:
                  'schema and data atomically, then indexes and constraints with pg_restore --jobs N: not atomic',
              },
              safetyBackup: {
                type: 'boolean',
                default: true,
                description: 'Back up the target (b###, kept 7 days) before overwriting it; false skips it',
              },
              finish: {
                type: 'string',
                description:
                  'r### of a --parallel restore whose index and constraint builds failed: builds only those again, from the same backup (the other fields are taken from it)',
              },
            },
          },
          false,
        ),
        responses: { 202: ok('Started', ref('Transfer')), 403: error, ...errors },
      },
    },
    '/v1/apps/{app}/checks': {
      parameters: [appParam],
      post: {
        summary:
          'Start a deployment check (pgbackups doctor): a worker task connects to the database and round-trips an object through the bucket',
        requestBody: body(
          { type: 'object', properties: { database: { type: 'string', description: 'default DATABASE' } } },
          false,
        ),
        responses: { 202: ok('Started', ref('Check')), ...errors },
      },
    },
    '/v1/apps/{app}/checks/{id}': {
      parameters: [
        appParam,
        { name: 'id', in: 'path', required: true, schema: { type: 'string', example: 'chk-0123456789ab' } },
      ],
      get: {
        summary: 'A check and what each step found (kept one day)',
        responses: { 200: ok('Check', ref('Check')), ...errors },
      },
    },
  },
  components: {
    schemas: {
      Error: {
        type: 'object',
        properties: {
          error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
        },
      },
      Database: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          host: { type: 'string' },
          port: { type: 'integer' },
          database: { type: 'string' },
          user: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
      Transfer: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          num: { type: 'integer' },
          kind: { enum: ['backup', 'restore', 'copy'] },
          type: { enum: ['manual', 'scheduled', 'safety'] },
          status: { enum: ['pending', 'running', 'completed', 'failed', 'cancelled'] },
          app: { type: 'string' },
          database: { type: 'string' },
          source: { type: 'object' },
          target: { type: 'object' },
          createdAt: { type: 'string', format: 'date-time' },
          startedAt: { type: ['string', 'null'] },
          finishedAt: { type: ['string', 'null'] },
          sourceBytes: { type: ['integer', 'null'] },
          processedBytes: { type: 'integer' },
          backupBytes: { type: ['integer', 'null'] },
          sha256: { type: ['string', 'null'] },
          compression: { type: ['string', 'null'] },
          archiveFormat: {
            type: ['string', 'null'],
            description: 'Backups: the pg_dump custom-format archive version, e.g. 1.16',
          },
          oldestPgRestore: {
            type: ['integer', 'null'],
            description: 'Backups: the oldest pg_restore major version that can read the archive',
          },
          safetyBackup: { type: ['object', 'null'], description: 'The backup of the target taken first' },
          warnings: { type: 'integer' },
          error: { type: ['string', 'null'] },
          logs: { type: 'array', items: { type: 'object' } },
        },
      },
      Check: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          app: { type: 'string' },
          database: { type: 'string' },
          status: { enum: ['pending', 'running', 'passed', 'failed'] },
          createdAt: { type: 'string', format: 'date-time' },
          startedAt: { type: ['string', 'null'] },
          finishedAt: { type: ['string', 'null'] },
          steps: {
            type: 'array',
            description:
              'worker, database, bucket: each ok or not, what was found, and when not ok what to do',
            items: {
              type: 'object',
              properties: {
                name: { enum: ['worker', 'database', 'bucket'] },
                ok: { type: 'boolean' },
                message: { type: 'string' },
                hint: { type: ['string', 'null'] },
              },
            },
          },
          serverVersion: { type: ['string', 'null'] },
          dumpClient: { type: ['integer', 'null'], description: 'The pg_dump major a capture would run' },
          clients: {
            type: 'array',
            items: { type: 'integer' },
            description: 'Client majors in the worker image',
          },
        },
      },
    },
  },
} as const;
