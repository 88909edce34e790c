/** Exit codes: 0 success, 1 an error, 2 bad usage or a transfer that failed, 130 stopped watching with Ctrl-C. */
export const EXIT = { ok: 0, error: 1, usage: 2, transferFailed: 2, interrupted: 130 } as const;

/** An error the CLI reports as ` ›   Error: message` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad usage: an unknown command or flag, a missing or malformed argument. Exits 2. */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message, EXIT.usage);
  }
}

/** An error answer from the API (`{"error":{"code","message"}}`), or a gateway's own error. Exits 1. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message, EXIT.error);
  }
}
