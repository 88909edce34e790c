/**
 * The JSON the CLI reads from the API: types only, inferred from the API contract (src/api/contract.ts), the one
 * description of the wire, so a field the API changes is a compile error here. Nothing of the server is bundled.
 */
import type { ResponseOf } from '../api/contract.js';
import type { TransferJson as ApiTransferJson } from '../api/views.js';

export type TransferJson = ApiTransferJson;
export type TransferStatusJson = TransferJson['status'];
export type LogLineJson = NonNullable<TransferJson['logs']>[number];
export type SourceJson = TransferJson['source'];
export type TargetJson = TransferJson['target'];

export type DatabaseJson = ResponseOf<'listDatabases', 200>['databases'][number];
export type ScheduleJson = ResponseOf<'listSchedules', 200>['schedules'][number];
export type SettingsJson = ResponseOf<'getSettings', 200>;
export type RetentionJson = ResponseOf<'retentionPlan', 200>;
