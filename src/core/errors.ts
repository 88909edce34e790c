/**
 * Typed errors with stable codes. The API maps each code to an HTTP status in exactly one place
 * (`src/api/http-errors.ts`); everything else throws these and never deals with HTTP. An error raised because of
 * another carries it as `cause` (logged with the stack when the error is unexpected), unless the other's text may
 * hold a secret (a connection URL that did not parse): the message then says what was wrong instead.
 */
export type ErrorCode = 'bad_request' | 'forbidden' | 'not_found' | 'conflict' | 'unprocessable' | 'internal';

export class PgBackupsError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input is malformed: a bad name, id, field or JSON. */
export class ValidationError extends PgBackupsError {
  constructor(message: string, options?: ErrorOptions) {
    super('bad_request', message, options);
  }
}

/** The caller has not shown it may act on an app the request names (e.g. the other app of `other-app::b101`). */
export class ForbiddenError extends PgBackupsError {
  constructor(message: string, options?: ErrorOptions) {
    super('forbidden', message, options);
  }
}

/** The thing named does not exist (for this app). */
export class NotFoundError extends PgBackupsError {
  constructor(message: string, options?: ErrorOptions) {
    super('not_found', message, options);
  }
}

/** The request clashes with the current state, e.g. cancelling a finished transfer. */
export class ConflictError extends PgBackupsError {
  constructor(message: string, options?: ErrorOptions) {
    super('conflict', message, options);
  }
}

/** Well-formed but impossible, e.g. restoring when the app has no completed backup. */
export class UnprocessableError extends PgBackupsError {
  constructor(message: string, options?: ErrorOptions) {
    super('unprocessable', message, options);
  }
}

/** A connection secret the catalog refers to is gone; both Secrets adapters say so in these words. */
export class SecretNotFoundError extends NotFoundError {
  constructor(
    readonly ref: string,
    options?: ErrorOptions,
  ) {
    super(`Connection secret ${ref} not found: attach the database again`, options);
  }
}

export function isPgBackupsError(e: unknown): e is PgBackupsError {
  return e instanceof PgBackupsError;
}
