import type { Transfer, TransferKind } from './transfer.js';

/** A transfer named from another app: the app it is recorded on, its number and its id there. */
export interface TransferRef {
  readonly app: string;
  readonly num: number;
  readonly id: string;
}

/**
 * What another app stores of a copy that reads or overwrites one of its databases, so that app lists the copy too
 * (with an id of its own numbering). It holds no state: the copy's status, progress, result and logs are read from
 * the copy itself (the primary, on the app that started it) each time the mirror is read ({@link seenFrom}), so
 * the two can never disagree. It is not in the active-transfer index, and retention never counts or deletes it:
 * it goes when its primary goes (src/core/use-cases/prune.ts).
 */
export interface TransferMirror {
  readonly app: string;
  readonly num: number;
  readonly id: string;
  /** Always `copy` today; stored so a listing filtered by kind can filter mirrors without reading the primary. */
  readonly kind: TransferKind;
  /** This app's attachment the copy touches: the target when it is overwritten here, otherwise the source. */
  readonly database: string;
  readonly mirrorOf: TransferRef;
}

/** The primary copy as the mirror's app sees it: the mirror's own app, number, id and database; the rest live. */
export function seenFrom(mirror: TransferMirror, primary: Transfer): Transfer {
  const { mirrors: _mirrors, ...state } = primary;
  return {
    ...state,
    app: mirror.app,
    num: mirror.num,
    id: mirror.id,
    database: mirror.database,
    mirrorOf: mirror.mirrorOf,
  };
}

/**
 * The apps other than the one recording `t` whose databases a copy touches, each with the attachment it touches
 * there (the target wins when both sides are on the same other app): where its mirrors go. Restores are not
 * mirrored: like Heroku's, a restore is recorded on the app it overwrites, and the app whose backup it read has
 * no database involved.
 */
export function mirrorSides(t: Pick<Transfer, 'app' | 'kind' | 'source' | 'target'>): {
  app: string;
  database: string;
}[] {
  if (t.kind !== 'copy') return [];
  const sides = new Map<string, string>();
  if (t.target.type === 'database' && t.target.app !== t.app) sides.set(t.target.app, t.target.database);
  if (t.source.type === 'database' && t.source.app !== t.app && !sides.has(t.source.app)) {
    sides.set(t.source.app, t.source.database);
  }
  return [...sides].map(([app, database]) => ({ app, database }));
}
