/**
 * The one DynamoDB table of the catalog. Shared by the CDK construct (which creates it in AWS) and the local
 * stack (which creates it in dynalite), so the two cannot drift.
 *
 * Items (pk / sk):
 * - `APP#<app>` / `SETTINGS`        app settings
 * - `APP#<app>` / `COUNTER`         the per-app transfer counter (`transferCount`); also the app's registry entry
 * - `APP#<app>` / `DB#<name>`       database attachment (secret reference, host, never a password)
 * - `APP#<app>` / `XFER#<num:10>`   transfer; zero-padded so a Query returns them in number order. Or a mirror
 *                                   of another app's copy (`mirrorOf` set, no state; src/core/mirror.ts)
 * - `APP#<app>` / `XLOG#<num:10>`   the transfer's log lines, apart so listing stays small
 * - `APP#<app>` / `SCHED#<name>`    schedule
 * - `APP#<app>` / `CHECK#<id>`      deployment check (`pgbackups doctor`), dropped by TTL on `expiresAt`
 * - `APPS` / `<app>`                one marker per app (first attachment or transfer), so apps list by Query
 * GSI `gsi1` is sparse: `gsi1pk = ACTIVE` on pending/running transfers (removed when they finish) and
 * `gsi1pk = SCHEDULE` on schedules, and `gsi1pk = APP`, `gsi1sk = <app>` on each app's COUNTER item (written when
 * a database is attached or a transfer numbered), so the watchdog and the pruner find them with a Query, never a Scan.
 */
export const CATALOG_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  gsi1: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  /** Epoch seconds; DynamoDB deletes the item some time after (only check items carry it). */
  timeToLiveAttribute: 'expiresAt',
} as const;
