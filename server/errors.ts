/**
 * One error type for everything a user can fix: `message` says what is wrong, `hint` how to fix it.
 * Callers add context as they rethrow (`withContext`), so the final text reads like a trail:
 * "sandbox up webhook-to-kernel: inventory: files/inventory/...:3:1: ...".
 */
export class FaultlineError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "FaultlineError";
  }
}

/** Rethrows `err` with `context` prefixed, keeping the hint and the original as `cause`. */
export function withContext(context: string, err: unknown): FaultlineError {
  if (err instanceof FaultlineError) return new FaultlineError(`${context}: ${err.message}`, err.hint, { cause: err });
  const msg = err instanceof Error ? err.message : String(err);
  return new FaultlineError(`${context}: ${msg}`, undefined, { cause: err });
}

/** The text shown to a user: the message, then the hint on its own line. */
export function formatError(err: unknown): string {
  if (err instanceof FaultlineError) return err.hint ? `${err.message}\n  fix: ${err.hint}` : err.message;
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}
