/**
 * Structured JSON logs: a constant message plus fields, one object per line. Transfer ids go in fields
 * (`{app, transfer}`) so a transfer's whole story can be filtered out of CloudWatch or a terminal.
 * Nothing that may hold a secret is ever logged: callers pass attachment names, never URLs.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export function jsonLogger(
  base: LogFields = {},
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const emit = (level: string, message: string, fields?: LogFields) => {
    write(JSON.stringify({ time: new Date().toISOString(), level, message, ...base, ...fields }));
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => jsonLogger({ ...base, ...fields }, write),
  };
}

export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/**
 * An unexpected error for the logs, in full: name and message, stack, and the chain of causes. Only for errors
 * whose text cannot hold a secret (the API's: connection URLs never reach an error message, src/core/errors.ts).
 */
export function errorDetails(e: unknown): LogFields {
  if (!(e instanceof Error)) return { error: String(e) };
  const causes: string[] = [];
  for (let c = e.cause; c !== undefined && causes.length < 5; c = c instanceof Error ? c.cause : undefined) {
    causes.push(c instanceof Error ? `${c.name}: ${c.message}` : String(c));
  }
  return { error: `${e.name}: ${e.message}`, stack: e.stack, ...(causes.length > 0 ? { causes } : {}) };
}

/** An error's message without its stack, for logs and transfer records. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Awaits work whose failure must not fail the caller (cleanup, a heartbeat the next tick repeats), logging at
 * warn what could not be done and why. Resolves to the work's value, or undefined when it failed.
 */
export async function bestEffort<T>(log: Logger, what: string, work: Promise<T>): Promise<T | undefined> {
  try {
    return await work;
  } catch (e) {
    log.warn(`could not ${what}`, { error: errorMessage(e) });
    return undefined;
  }
}
