import { messageOf, messages } from '../errors.js';

/** Turns DuckDB's open errors into our fixed messages; anything unrecognised keeps DuckDB's own words. */
export function openError(path: string, cause: unknown): Error {
  const text = messageOf(cause);
  if (/not a valid DuckDB database file/i.test(text)) return messages.databaseNotDuckDB(path, cause);
  const lock = /Conflicting lock is held in (.*?) \(PID (\d+)\)/i.exec(text);
  if (lock) return messages.databaseLocked(path, `${lock[1]}, PID ${lock[2]}`, cause);
  if (/Could not set lock on file/i.test(text)) return messages.databaseLocked(path, '', cause);
  if (/Permission denied|Read-only file system/i.test(text)) return messages.databaseDirUnwritable(path, cause);
  return messages.databaseOpenFailed(path, cause);
}
