import { describe, expect, it } from 'vitest';
import { toWireError } from '../workers/shared/wire-error.js';
import { fromWireError, isNuError, messages } from '../src/errors.js';

// Error codes are a type read from the messages table, so that code comparing `err.code` with a code no message
// gives (a typo, a code since renamed) fails to compile; `npm test` type-checks this file with the rest.

describe('error codes', () => {
  it('are checked by the compiler: comparing with a code no message gives does not compile', () => {
    const err: unknown = messages.backupAlreadyRunning('process 1');
    expect(isNuError(err) && err.code === 'BACKUP_RUNNING').toBe(true);
    // @ts-expect-error: no message has this code (one N too many)
    expect(isNuError(err) && err.code === 'BACKUP_RUNNNING').toBe(false);
  });

  it('survive the control socket, and an error without one arrives as REMOTE_ERROR', () => {
    const across = fromWireError(JSON.parse(JSON.stringify(toWireError(messages.backupAlreadyRunning('process 1')))));
    expect(across).toMatchObject({ code: 'BACKUP_RUNNING', hint: 'Wait for it to finish, then try again.' });
    expect(across.stack).toBe('');
    expect(fromWireError(toWireError(new Error('plain')))).toMatchObject({ code: 'REMOTE_ERROR', message: 'plain' });
  });
});
