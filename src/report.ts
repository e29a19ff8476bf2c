import { isNuError, messageOf } from './errors.js';

/**
 * The one place that turns any thrown value into what a user reads: an `Error: …` line and a `Try: …` line.
 * A NuError carries its own hint; anything else is unexpected, and its hint says how to learn more. With debug
 * on, the cause chain follows, and the stack of whatever was unexpected (a NuError's stack only shows where we
 * noticed a condition we already explained).
 */
export function formatError(err: unknown, debug = false): string[] {
  const lines = [`Error: ${messageOf(err)}`];
  if (isNuError(err)) {
    if (err.hint) lines.push(`Try: ${err.hint}`);
  } else {
    lines.push(
      debug ? 'Try: report this with the lines below.' : 'Try: run again with --debug (or /debug on) for details.',
    );
  }
  if (!debug) return lines;
  let innermost: unknown = err;
  let cause = err instanceof Error ? err.cause : undefined;
  while (cause !== undefined) {
    lines.push(`  caused by: ${messageOf(cause)}`);
    innermost = cause;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  if (innermost instanceof Error && !isNuError(innermost) && innermost.stack) {
    lines.push(
      ...innermost.stack
        .split('\n')
        .slice(1)
        .map((l) => `  ${l.trim()}`),
    );
  }
  return lines;
}

/** The `Try: …` line of a notice that is not an error (a start-up that waits for a stopped process says how). */
export function formatHint(hint: string): string {
  return `Try: ${hint}`;
}
