import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataPaths } from '../paths.js';
import { removeCrashedTemp, removeStaleTempFiles } from './durable-file.js';
import { isProcessAlive, ownIdentity } from './lock-owner.js';

// A crash (SIGKILL, power loss) during the copy leaves a temporary directory beside the destination, wherever the
// user pointed the backup. Before the copy starts, a small journal names it; start-up reads the journal and
// removes what a dead process left. Nothing at the final name is ever at risk: the final name only ever receives
// a complete, verified, fsynced file by rename.
//
// The journal lives in nu-agent's own data directory (NUAGENT_HOME, 0700), one per database (named by a hash of
// its path), not beside the database: the database may sit in a directory other users can write, and a journal
// planted there once made nu-agent delete whatever path it named. Even so it is read only when it is a regular
// file owned by this user that nobody else can write, written on this host, and what it names is removed only
// if it is a temporary directory this user made beside the recorded destination (durable-file.ts isOurTempDir).

export interface CopyJournal {
  pid: number;
  /** The process's start time and boot (lock-owner.ts), so a reused pid is not taken for it; absent in old journals. */
  startTicks?: string | undefined;
  bootId?: string | undefined;
  host: string;
  temp: string;
  destination: string;
  startedAt: string;
}

export function copyJournalPath(paths: Pick<DataPaths, 'home' | 'database'>): string {
  const key = crypto.createHash('sha256').update(paths.database).digest('hex').slice(0, 16);
  return path.join(paths.home, `backup-journal-${key}.json`);
}

/** Writes the journal by rename, so a link or file someone put at its name is replaced, never written through. */
export function writeCopyJournal(
  paths: Pick<DataPaths, 'home' | 'database'>,
  note: { temp: string; destination: string },
) {
  const file = copyJournalPath(paths);
  fs.mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  const full: CopyJournal = { ...ownIdentity(), host: os.hostname(), startedAt: new Date().toISOString(), ...note };
  const temp = `${file}.${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  try {
    fs.writeFileSync(temp, JSON.stringify(full) + '\n', { mode: 0o600, flag: 'wx' });
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

export function clearCopyJournal(paths: Pick<DataPaths, 'home' | 'database'>): void {
  const file = copyJournalPath(paths);
  if (trusted(file)) fs.rmSync(file, { force: true });
}

/** Removes the temporary files a crashed backup or restore left (the journal's, and others of ours beside it). */
export function cleanupAfterCrash(paths: Pick<DataPaths, 'home' | 'database'>): string[] {
  const file = copyJournalPath(paths);
  if (!trusted(file)) return [];
  let note: Partial<CopyJournal>;
  try {
    note = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<CopyJournal>;
  } catch {
    return [];
  }
  const { pid, host, temp, destination, startTicks, bootId } = note;
  if (typeof temp !== 'string' || typeof destination !== 'string' || host !== os.hostname()) return [];
  if (typeof pid !== 'number') return [];
  const identity = { pid, startTicks: asText(startTicks), bootId: asText(bootId) };
  if (pid !== process.pid && isProcessAlive(identity)) return []; // another nu-agent copies now
  const removed: string[] = [];
  const dir = removeCrashedTemp(temp, destination);
  if (dir) removed.push(dir);
  for (const stale of removeStaleTempFiles(path.dirname(destination)))
    if (!removed.includes(stale)) removed.push(stale);
  fs.rmSync(file, { force: true });
  return removed;
}

const asText = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** A regular file (not a link) owned by this user, writable by nobody else, in a directory only we can write. */
function trusted(file: string): boolean {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  try {
    const stat = fs.lstatSync(file);
    const dir = fs.statSync(path.dirname(file));
    return (
      stat.isFile() && stat.uid === uid && (stat.mode & 0o022) === 0 && dir.uid === uid && (dir.mode & 0o022) === 0
    );
  } catch {
    return false;
  }
}
