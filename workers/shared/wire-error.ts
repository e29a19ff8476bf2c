import type { WireError } from './protocol.js';

// Comlink carries only message/name/stack of a thrown error (Node 20's structured clone). Both sides turn errors into this
// plain shape before they cross a thread, so a NuError's code and hint survive.

export function toWireError(err: unknown): WireError {
  if (err instanceof Error) {
    const fields = err as Error & { code?: unknown; hint?: unknown };
    return {
      message: err.message,
      code: typeof fields.code === 'string' ? fields.code : undefined,
      hint: typeof fields.hint === 'string' ? fields.hint : undefined,
    };
  }
  return { message: String(err) };
}

/** One line for a status display or a failed_jobs row. */
export function describeWireError(error: WireError): string {
  return error.code ? `${error.message} [${error.code}]` : error.message;
}
