import { type ErrorCode, isPgBackupsError } from '../core/errors.js';
import { errorDetails, type Logger } from '../core/logger.js';
import { type ApiResponse, json } from './http.js';

/** The one place typed errors become HTTP statuses. */
const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  internal: 500,
};

export function errorResponse(e: unknown, log: Logger): ApiResponse {
  if (isPgBackupsError(e)) {
    return json(STATUS[e.code], { error: { code: e.code, message: e.message } });
  }
  // Unexpected errors are logged in full (stack and causes) but answered generically: their text may name internals.
  log.error('unhandled error', errorDetails(e));
  return json(500, {
    error: {
      code: 'internal',
      message:
        'Internal error. The request was not completed; retry, and check the service logs if it persists.',
    },
  });
}
