import { isNuError, messageOf } from './errors.js';

/**
 * The one place that turns any thrown value into what a user reads: an `Error: …` line and, when we know
 * what to do about it, a `Try: …` line. With debug on, the cause chain and stack follow.
 */
export function formatError(err: unknown, debug = false): string[] {
  const lines = [`Error: ${messageOf(err)}`];
  if (isNuError(err) && err.hint) lines.push(`Try: ${err.hint}`);
  if (debug) {
    let cause = err instanceof Error ? err.cause : undefined;
    while (cause !== undefined) {
      lines.push(`  caused by: ${messageOf(cause)}`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
    if (err instanceof Error && err.stack)
      lines.push(
        ...err.stack
          .split('\n')
          .slice(1)
          .map((l) => `  ${l.trim()}`),
      );
  }
  return lines;
}
