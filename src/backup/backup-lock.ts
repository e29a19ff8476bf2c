import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { messages } from '../errors.js';
import type { NuError } from '../errors.js';
import {
  describeUser,
  foreignOwner,
  lockHolderState,
  ownRecord,
  readOwnerRecord,
  writeOwnerRecord,
} from './lock-owner.js';
import { formatTime } from '../format/time.js';
import type { HolderState, OwnerRecord } from './lock-owner.js';
import { namesIn } from '../fs-facts.js';

// One backup (or restore) of a database at a time, across processes. The lock is the directory
// `<db>.backup-lock`, which appears in one rename already holding its owner record (lock-owner.ts), so it is
// never seen half-made. Whether a lock is stale is decided by its holder, never by a clock: a live process keeps
// it however long it is stopped (Ctrl-Z, a debugger, a frozen VM), and a dead one's is taken over at once.
// The first release used a 5 s mtime heartbeat: a process stopped for 5 s lost its lock while inside its
// closed window, and a second process swapped the database under it.
//
// A lock lost while held (removed or replaced from outside) is noticed: assertHeld() checks it on disk before
// anything irreversible (a rename onto a final name, the swap of a restore), and a check every second calls
// the onLost listeners, which cancel the run.
//
// Take it before opening the database when a process opens the database only to back it up (`nu-agent backup`):
// a process that opened the file during another's closed window would make that one's reopen fail.
// Within one process the lock is counted, so the CLI can hold it around the App it creates for the backup.
//
// A lock entry this user did not make (another user's, where others may create files beside the database) is
// never trusted and never removed, and the refusal says whose it is at once, without waiting. It cannot be a
// live nu-agent of this user (their locks are directories of ours, 0700, holding an owner record), so opening
// the database beside it is safe (create-app.ts): only backups and restores are refused while it is there.
// Moving the lock elsewhere would end that refusal, but every process of this user on this database (another
// NUAGENT_HOME, an older version) must see the same lock, and only the name beside the database is sure to be.

const WATCH_MS = 1000;
/** The first release's lock is an empty directory whose mtime its holder refreshes every second. */
const OLDER_VERSION_FRESH_MS = 5000;

interface Held {
  count: number;
  record: OwnerRecord;
  ino: number;
  dev: number;
  lost: NuError | undefined;
  listeners: Set<(err: NuError) => void>;
  timer: NodeJS.Timeout;
}
const held = new Map<string, Held>();

export interface BackupLock {
  /** Gives the lock up (once the count drops to zero). Never throws; never removes a lock that is not ours. */
  release(): Promise<void>;
  /** Set once the lock was found lost while held. */
  readonly lost: NuError | undefined;
  /** Checks on disk, now, that the lock is still ours; throws the lost-lock error if not. */
  assertHeld(): void;
  /** Called once when the lock is found lost; returns a function that unsubscribes. */
  onLost(listener: (err: NuError) => void): () => void;
}

/** Who holds a lock we could not take. */
export interface LockHolder {
  state: Exclude<HolderState, 'dead'> | 'older-version' | 'unknown';
  pid?: number | undefined;
  host?: string | undefined;
  since?: string | undefined;
  /** Why the holder is unknown (an unreadable owner record). */
  why?: string | undefined;
}

export async function acquireBackupLock(lockPath: string): Promise<BackupLock> {
  let entry = held.get(lockPath);
  if (entry?.lost) throw entry.lost;
  if (!entry) {
    entry = take(lockPath);
    held.set(lockPath, entry);
  }
  entry.count++;
  return handle(lockPath, entry);
}

/**
 * Waits (at most timeoutMs) until no other process is backing up or restoring this database, and returns the
 * lock so the caller can open the database before letting go: a process that opened the file during another's
 * closed window would make that one's reopen fail. onWait is told who is waited for, again whenever that
 * changes (the holder was stopped or resumed).
 */
export async function awaitNoBackupRunning(
  lockPath: string,
  timeoutMs: number,
  onWait: (holder: LockHolder, error: NuError) => void,
): Promise<BackupLock> {
  const deadline = Date.now() + timeoutMs;
  let told = '';
  for (;;) {
    try {
      return await acquireBackupLock(lockPath);
    } catch (err) {
      const holder = (err as LockRefusal).holder;
      if (!holder || Date.now() >= deadline) throw err;
      const key = `${holder.state} ${holder.pid} ${holder.host}`;
      if (key !== told) onWait(holder, err as NuError);
      told = key;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The caller's signal, and the run's own that is aborted when its lock is lost: either cancels the run. */
export function withLockLoss(signal: AbortSignal | undefined, lockLost: AbortSignal): AbortSignal {
  return signal ? AbortSignal.any([signal, lockLost]) : lockLost;
}

/** The lost-lock error a run's signal was aborted with, if that is why it was aborted. */
export function lostLock(lockLost: AbortSignal): NuError | undefined {
  return lockLost.aborted ? (lockLost.reason as NuError) : undefined;
}

/** "process 123, since …", "process 123 on host h, since …": for refusals and the start-up wait. */
export function describeHolder(holder: LockHolder): string {
  if (holder.state === 'older-version') return 'an older version of nu-agent';
  if (holder.state === 'unknown' || holder.pid === undefined) return '';
  const where = holder.state === 'elsewhere' ? ` on host ${holder.host}` : '';
  const since =
    holder.since && !Number.isNaN(Date.parse(holder.since)) ? formatTime(new Date(holder.since)) : holder.since;
  return `process ${holder.pid}${where}, since ${since}`;
}

type LockRefusal = NuError & { holder?: LockHolder };

function take(lockPath: string): Held {
  removeLeftovers(lockPath);
  const record = ownRecord();
  const fresh = `${lockPath}.tmp-${record.token}`;
  fs.mkdirSync(fresh, { mode: 0o700 });
  try {
    writeOwnerRecord(fresh, record);
    // A bounded number of rounds: each one either takes the lock, refuses, or removed a dead holder's lock.
    for (let round = 0; ; round++) {
      if (round >= 20) throw refusal(lockPath, { state: 'unknown', why: 'it keeps changing hands' });
      refuseOlderVersion(lockPath);
      try {
        fs.renameSync(fresh, lockPath); // fails on a non-empty directory: somebody holds it
        const stat = fs.lstatSync(lockPath);
        return {
          count: 0,
          record,
          ino: stat.ino,
          dev: stat.dev,
          lost: undefined,
          listeners: new Set(),
          timer: watch(lockPath),
        };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw err;
      }
      const current = examine(lockPath);
      if (current.kind === 'gone') continue;
      if (current.kind === 'foreign') throw messages.backupLockForeign(lockPath, current.why, current.otherUser);
      if (current.kind === 'unknown') throw refusal(lockPath, { state: 'unknown', why: current.why });
      const state = lockHolderState(current.record);
      if (state !== 'dead') {
        const { pid, host, since } = current.record;
        throw refusal(lockPath, { state, pid, host, since });
      }
      removeDeadLock(lockPath, current.record);
    }
  } finally {
    fs.rmSync(fresh, { recursive: true, force: true });
  }
}

type Examined =
  | { kind: 'gone' }
  | { kind: 'foreign'; why: string; otherUser?: string | undefined }
  | { kind: 'unknown'; why: string }
  | { kind: 'held'; record: OwnerRecord };

function examine(lockPath: string): Examined {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(lockPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
    throw err;
  }
  const otherUser = otherUserOf(stat);
  if (otherUser) return { kind: 'foreign', why: `it belongs to ${otherUser}`, otherUser };
  if (!stat.isDirectory()) return { kind: 'foreign', why: 'it is not a directory' };
  const foreign = foreignOwner(stat);
  if (foreign) return { kind: 'foreign', why: `it ${foreign}` };
  const read = readOwnerRecord(lockPath);
  if (read.ok) return { kind: 'held', record: read.record };
  if (read.missing && !fs.existsSync(lockPath)) return { kind: 'gone' };
  return { kind: 'unknown', why: read.why };
}

/**
 * Moves the dead holder's lock aside in one rename, then checks that what moved is the lock that was judged
 * dead (a racing process may have replaced it with its own meanwhile); if not, puts it back.
 */
function removeDeadLock(lockPath: string, dead: OwnerRecord): void {
  const aside = `${lockPath}.tmp-${crypto.randomBytes(16).toString('hex')}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = readOwnerRecord(aside);
  if (moved.ok && moved.record.token === dead.token) {
    fs.rmSync(aside, { recursive: true, force: true });
    return;
  }
  try {
    fs.renameSync(aside, lockPath);
  } catch {
    // Yet another process took the name meanwhile: the one whose lock this is notices the loss and stops,
    // and removeLeftovers clears this directory once its holder is gone.
  }
}

/** A lock directory of the first release: empty, its mtime refreshed every second while its holder lives. */
function refuseOlderVersion(lockPath: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(lockPath);
    if (!stat.isDirectory() || fs.readdirSync(lockPath).length > 0) return;
  } catch {
    return;
  }
  const otherUser = otherUserOf(stat);
  if (otherUser) throw messages.backupLockForeign(lockPath, `it belongs to ${otherUser}`, otherUser);
  if (Date.now() - stat.mtimeMs < OLDER_VERSION_FRESH_MS) throw refusal(lockPath, { state: 'older-version' });
}

/** "user 1001 (alice)" when another user owns the entry, else undefined (also where there are no owners). */
function otherUserOf(stat: fs.Stats): string | undefined {
  const uid = process.getuid?.();
  return uid !== undefined && stat.uid !== uid ? describeUser(stat.uid) : undefined;
}

/** Directories a crash left between mkdir and rename (ours, of dead holders, or never completed). */
function removeLeftovers(lockPath: string): void {
  const dir = path.dirname(lockPath);
  const prefix = `${path.basename(lockPath)}.tmp-`;
  const names = namesIn(dir)?.filter((n) => n.startsWith(prefix));
  if (!names) return;
  for (const name of names) {
    const full = path.join(dir, name);
    try {
      const stat = fs.lstatSync(full);
      if (!stat.isDirectory() || foreignOwner(stat)) continue;
      const read = readOwnerRecord(full);
      const dead = read.ok ? lockHolderState(read.record) === 'dead' : Date.now() - stat.mtimeMs > 60_000;
      if (dead) fs.rmSync(full, { recursive: true, force: true });
    } catch {
      // someone else's business, or already gone
    }
  }
}

function refusal(lockPath: string, holder: LockHolder): LockRefusal {
  const text = describeHolder(holder);
  const error: LockRefusal =
    holder.state === 'stopped'
      ? messages.backupHolderStopped(text, holder.pid!)
      : holder.state === 'elsewhere'
        ? messages.backupLockElsewhere(text, lockPath)
        : holder.state === 'unknown'
          ? messages.backupLockUnknown(lockPath, holder.why ?? '')
          : messages.backupAlreadyRunning(text);
  error.holder = holder;
  return error;
}

function watch(lockPath: string): NodeJS.Timeout {
  const timer = setInterval(() => {
    const entry = held.get(lockPath);
    if (entry) check(lockPath, entry);
  }, WATCH_MS);
  timer.unref();
  return timer;
}

/** Whether the lock directory is still the one we made, with our record in it; marks it lost if not. */
function check(lockPath: string, entry: Held): NuError | undefined {
  if (entry.lost) return entry.lost;
  let why: string | undefined;
  try {
    const stat = fs.lstatSync(lockPath);
    const read = readOwnerRecord(lockPath);
    if (stat.ino !== entry.ino || stat.dev !== entry.dev || !read.ok || read.record.token !== entry.record.token)
      why = 'it was replaced';
  } catch (err) {
    why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it was removed' : String(err);
  }
  if (!why) return undefined;
  entry.lost = messages.backupLockLost(lockPath, why);
  clearInterval(entry.timer);
  for (const listener of entry.listeners) {
    try {
      listener(entry.lost);
    } catch {
      // a listener must not stop the others
    }
  }
  return entry.lost;
}

function handle(lockPath: string, entry: Held): BackupLock {
  let released = false;
  const mine = new Set<(err: NuError) => void>();
  return {
    get lost() {
      return entry.lost;
    },
    assertHeld() {
      const lost = check(lockPath, entry);
      if (lost) throw lost;
    },
    onLost(listener) {
      mine.add(listener);
      entry.listeners.add(listener);
      return () => {
        mine.delete(listener);
        entry.listeners.delete(listener);
      };
    },
    release: async () => {
      if (released) return;
      released = true;
      for (const listener of mine) entry.listeners.delete(listener);
      if (--entry.count > 0) return;
      held.delete(lockPath);
      clearInterval(entry.timer);
      if (check(lockPath, entry)) return; // not ours any more: whatever is there belongs to someone else
      // One rename makes the lock disappear whole; the directory is removed afterwards.
      const aside = `${lockPath}.tmp-${entry.record.token}`;
      try {
        fs.renameSync(lockPath, aside);
        fs.rmSync(aside, { recursive: true, force: true });
      } catch {
        // Left behind, it names this process: the next run sees it is dead and takes it over.
      }
    },
  };
}
