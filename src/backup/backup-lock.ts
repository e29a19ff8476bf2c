import fs from 'node:fs';
import os from 'node:os';
import lockfile from 'proper-lockfile';
import { messages } from '../errors.js';

// One backup (or restore) of a database at a time, across processes. The lock is a directory made with mkdir
// (proper-lockfile) whose mtime the holder refreshes every second; a lock not refreshed for STALE_MS is stale
// and the next run takes it over, so a crashed or SIGKILLed process cannot leave it stuck (restic and borg
// lost whole nights to stuck locks: reference notes F6). Beside it, a small owner file says who holds it, so
// the refusal can name the process.
//
// Take it before opening the database when a process opens the database only to back it up (`nu-agent backup`):
// a process that opened the file during another's closed window would make that one's reopen fail.
// Within one process the lock is counted, so the CLI can hold it around the App it creates for the backup.

const STALE_MS = 5000;
const UPDATE_MS = 1000;

interface Held {
  count: number;
  release: () => Promise<void>;
  compromised: Error | undefined;
}
const held = new Map<string, Held>();

export interface BackupLock {
  /** Gives the lock up (once the count drops to zero). Never throws. */
  release(): Promise<void>;
  /** Set when the lock was lost while held (the process stalled longer than the stale time). */
  readonly compromised: Error | undefined;
}

interface Owner {
  pid: number;
  host: string;
  since: string;
}

export async function acquireBackupLock(lockPath: string): Promise<BackupLock> {
  let entry = held.get(lockPath);
  if (!entry) {
    const state: Held = { count: 0, release: async () => {}, compromised: undefined };
    try {
      state.release = await lockfile.lock(lockPath, {
        lockfilePath: lockPath,
        realpath: false,
        stale: STALE_MS,
        update: UPDATE_MS,
        retries: 0,
        // The default throws from a timer and would crash the process; a lost lock is reported instead.
        onCompromised: (err) => {
          state.compromised = err;
        },
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED')
        throw messages.backupAlreadyRunning(describeOwner(lockPath));
      throw err;
    }
    writeOwner(lockPath);
    entry = state;
    held.set(lockPath, entry);
  }
  entry.count++;
  const current = entry;
  let released = false;
  return {
    get compromised() {
      return current.compromised;
    },
    release: async () => {
      if (released) return;
      released = true;
      if (--current.count > 0) return;
      held.delete(lockPath);
      fs.rmSync(ownerPath(lockPath), { force: true });
      await current.release().catch(() => undefined);
    },
  };
}

/**
 * Waits (at most timeoutMs) until no other process is backing up or restoring this database, and returns the
 * lock so the caller can open the database before letting go: a process that opened the file during another's
 * closed window would make that one's reopen fail. onWait is told once who is being waited for.
 */
export async function awaitNoBackupRunning(
  lockPath: string,
  timeoutMs: number,
  onWait: (holder: string) => void,
): Promise<BackupLock> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      return await acquireBackupLock(lockPath);
    } catch (err) {
      if ((err as { code?: string }).code !== 'BACKUP_RUNNING' || Date.now() >= deadline) throw err;
      if (!told) onWait(describeOwner(lockPath));
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** True while this process holds the lock (a backup or restore runs here). */
export function holdsBackupLock(lockPath: string): boolean {
  return held.has(lockPath);
}

const ownerPath = (lockPath: string) => `${lockPath}.owner`;

function writeOwner(lockPath: string): void {
  const owner: Owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  try {
    fs.writeFileSync(ownerPath(lockPath), JSON.stringify(owner) + '\n', { mode: 0o600 });
  } catch {
    // Only used to name the holder in a refusal.
  }
}

function describeOwner(lockPath: string): string {
  try {
    const owner = JSON.parse(fs.readFileSync(ownerPath(lockPath), 'utf8')) as Owner;
    const where = owner.host === os.hostname() ? '' : ` on ${owner.host}`;
    return owner.pid === process.pid ? 'in this process' : `process ${owner.pid}${where}, since ${owner.since}`;
  } catch {
    return '';
  }
}
