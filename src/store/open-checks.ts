import fs from 'node:fs';
import path from 'node:path';
import { messages } from '../errors.js';
import { readFully } from '../../workers/shared/duckdb-file/block-check.js';
import { checkFileLength } from '../../workers/shared/duckdb-file/block-check.js';
import { HEADERS_BYTES, readDatabaseHeader } from '../../workers/shared/duckdb-file/database-header.js';
import { walkWal } from './wal-check.js';
import type { WalWalk } from './wal-check.js';

// What the store checks before DuckDB opens the memory file read-write (measured on DuckDB 1.5.5):
//
// - A file shorter than its own header says (blocks in use missing from the end) opened, showed full counts and
//   took new writes on top of the loss. It is refused, pointing at the backups: nothing was opened or changed.
// - A write-ahead log damaged by one flipped byte, or cut, is replayed up to the damage and then deleted: the
//   committed transactions after it are gone, without a word. So before opening, each log is copied beside the
//   database (0600, a name of nu-agent's own, never overwriting an earlier copy) and every entry's checksum is
//   checked. A clean log's copy is removed once DuckDB has opened the database (the replay took all of it).
//
// A damaged log opens with a loud warning rather than a refusal. The database DuckDB makes of it is consistent
// (whole transactions up to the damage); what follows the damage is beyond DuckDB's replay whatever we do, and is
// kept verbatim in the copy, with a copy of the database as it was before the replay (the log fits only that
// file): the pair is what a DuckDB expert needs to recover it. A refusal would leave the user
// with no way forward but deleting the log by hand, which loses even the part that can be replayed. If the copy
// cannot be made (disk full), nothing is opened: the log is then the only record of those commits.

export interface KeptWal {
  wal: string;
  copy: string;
  walk: WalWalk;
  /** The database as it was before DuckDB replayed a damaged log (the log's copy fits only this file). */
  database?: string | undefined;
}

/** The WAL files DuckDB 1.5 replays: the log and, after an interrupted checkpoint, the checkpoint's log. */
const walFiles = (dbPath: string) => [`${dbPath}.wal`, `${dbPath}.wal.checkpoint`];

/** Throws DB_INCOMPLETE for a file cut short; keeps and walks every non-empty WAL beside it. */
export function checkBeforeOpen(dbPath: string): KeptWal[] {
  if (!fs.existsSync(dbPath)) return [];
  // A file this cannot read (a directory, no permission) is left to DuckDB's open, which says what is wrong.
  const length = readable(() => checkFileLength(dbPath));
  if (length && !length.ok) throw messages.databaseIncomplete(dbPath, length.detail);
  const identifier = readable(() => databaseIdentifier(dbPath));
  const kept: KeptWal[] = [];
  for (const wal of walFiles(dbPath)) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(wal);
    } catch {
      continue;
    }
    refuseForeignLog(wal, stat);
    if (stat.size === 0) continue;
    const copy = keepCopy(wal);
    kept.push({ wal, copy, walk: walkWal(fs.readFileSync(copy), identifier) });
  }
  // A damaged log applies only to the database as it is now: once DuckDB has replayed part of it and
  // checkpointed, the rest no longer fits the file. So the pair is kept, for whoever recovers the rest.
  if (kept.some(({ walk }) => !walk.ok)) {
    let database: string;
    try {
      database = keepCopy(dbPath);
    } catch (err) {
      discardCopies(kept); // nothing opens, the log stays untouched: the next start makes them again
      throw err;
    }
    for (const k of kept) k.database = database;
  }
  return kept;
}

/** After DuckDB opened the database: removes the copies of clean logs; returns what to tell the user. */
export function afterOpen(dbPath: string, kept: KeptWal[]): string[] {
  const lines: string[] = [];
  for (const { wal, copy, walk, database } of kept) {
    if (walk.ok && walk.uncommittedEntries === 0) {
      fs.rmSync(copy, { force: true });
    } else if (walk.unknown) {
      lines.push(`Note: ${walk.unknown} (${wal}); DuckDB replayed it, and a copy is kept at ${copy}.`);
    } else if (walk.ok) {
      lines.push(
        `Note: the write-ahead log of ${dbPath} ended with a transaction that was never committed ` +
          `(${walk.uncommittedEntries} entries, as when nu-agent stops while saving); DuckDB left it out, as it ` +
          `should. ${walk.commits} committed transactions were recovered. The log as it was is kept at ${copy}.`,
      );
    } else {
      lines.push(
        `Warning: the write-ahead log of ${dbPath} was damaged: ${walk.problem}.`,
        `  DuckDB recovered what came before the damage: ${walk.commits} committed transactions ` +
          `(${walk.replayableBytes} of ${walk.bytes} bytes). Anything committed after that point is NOT in the database.`,
        `  The log as it was is kept at ${copy}, and the database as it was before the replay at ${database}` +
          ' (only you can read them). Keep both: together they are what a DuckDB expert needs to recover the rest.',
        'Try: check your latest conversations; if something is missing, `nu-agent backup list` and ' +
          '`nu-agent backup restore <file>` bring back a backup, and the kept log stays where it is.',
      );
    }
  }
  return lines;
}

/**
 * DuckDB replays whatever log sits at `<db>.wal` into the database it opens. In a directory others can write,
 * another user could plant one (or a link to one) and have it replayed into this user's memory, so a log that is
 * not a regular file of this user's is refused before anything opens. Where the system has no owners (Windows),
 * only the file type is checked.
 */
function refuseForeignLog(wal: string, stat: fs.Stats): void {
  const uid = process.getuid?.();
  if (!stat.isFile()) throw messages.databaseForeignLog(wal, stat.isSymbolicLink() ? 'a symbolic link' : 'not a file');
  if (uid !== undefined && stat.uid !== uid) throw messages.databaseForeignLog(wal, `owned by user ${stat.uid}`);
}

function readable<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** Removes the copies made for an open that did not happen (the database is in use by another process). */
export function discardCopies(kept: KeptWal[]): void {
  for (const { copy, database } of kept) {
    fs.rmSync(copy, { force: true });
    if (database) fs.rmSync(database, { force: true });
  }
}

/** The 16-byte identifier a WAL must name (storage version 67 on); undefined when the header is not readable. */
function databaseIdentifier(dbPath: string): Uint8Array | undefined {
  const fd = fs.openSync(dbPath, 'r');
  try {
    const start = Buffer.alloc(HEADERS_BYTES);
    const reading = readDatabaseHeader(start.subarray(0, readFully(fd, start, 0)));
    return reading.kind === 'ok' ? reading.header.identifier : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Copies a file to `<file>.kept-<time>`, created 0600 and exclusively (O_EXCL: never through a name someone
 * planted, never over an earlier copy), then fsynced. Throws DB_WAL_COPY_FAILED: without the copy, nothing may
 * open. (Not fs.copyFile: it gives the copy the source's mode, readable by others while it is written.)
 */
function keepCopy(wal: string): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  for (let n = 1; ; n++) {
    const copy = `${wal}.kept-${stamp}${n === 1 ? '' : `-${n}`}`;
    let out: number;
    try {
      out = fs.openSync(copy, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && n < 100) continue;
      throw messages.databaseCopyFailed(wal, err);
    }
    try {
      copyInto(wal, out);
      fs.fsyncSync(out);
      fs.closeSync(out);
      fsyncDir(path.dirname(copy));
      return copy;
    } catch (err) {
      fs.closeSync(out);
      fs.rmSync(copy, { force: true });
      throw messages.databaseCopyFailed(wal, err);
    }
  }
}

function copyInto(file: string, out: number): void {
  const input = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(input, buffer, 0, buffer.length, null);
      if (n === 0) return;
      for (let written = 0; written < n;) written += fs.writeSync(out, buffer, written, n - written);
    }
  } finally {
    fs.closeSync(input);
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
