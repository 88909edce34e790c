/**
 * Typed errors with stable codes. The API maps each code to an HTTP status in exactly one place
 * (`src/api/http-errors.ts`); everything else throws these and never deals with HTTP.
 */
export type ErrorCode = 'bad_request' | 'forbidden' | 'not_found' | 'conflict' | 'unprocessable' | 'internal';

export class PgBackupsError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input is malformed: a bad name, id, field or JSON. */
export class ValidationError extends PgBackupsError {
  constructor(message: string) {
    super('bad_request', message);
  }
}

/** The caller has not shown it may act on an app the request names (e.g. the other app of `other-app::b101`). */
export class ForbiddenError extends PgBackupsError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/** The thing named does not exist (for this app). */
export class NotFoundError extends PgBackupsError {
  constructor(message: string) {
    super('not_found', message);
  }
}

/** The request clashes with the current state, e.g. cancelling a finished transfer. */
export class ConflictError extends PgBackupsError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/** Well-formed but impossible, e.g. restoring when the app has no completed backup. */
export class UnprocessableError extends PgBackupsError {
  constructor(message: string) {
    super('unprocessable', message);
  }
}

export function isPgBackupsError(e: unknown): e is PgBackupsError {
  return e instanceof PgBackupsError;
}
