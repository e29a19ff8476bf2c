import fs from 'node:fs';
import type { BackupEntry } from './backup-entry.js';
import { foreignOwner } from './lock-owner.js';
import { isBackupOf } from './prune.js';
import { failedReverification } from './retention.js';
import { appendVerification, readOwnManifest } from './verification-history.js';
import { CopyEngine } from './copy-engine.js';
import { isEncrypted } from './types.js';
import { verifyBackup } from './verify.js';
import type { RunVerifyTask, VerifyOutcome } from './verify.js';

// Scheduled re-verification: proof that old backups still restore. Each pass takes the backups whose last
// verification is oldest (the check when the backup was made counts as the first), re-reads each one in a
// copy-engine thread exactly as `/backup verify` does (the whole-file hash, then a read-only open reading every
// row), and appends the result to the backup's manifest. It reads backup files only: the database stays open
// and the workers keep working. A pass is bounded by bytes and by time; what it does not reach is first in line
// next time.
//
// The backup directory may be shared: with this user's other databases, and with other users who can put files
// in it. A pass checks only backups this user made of this database (whyNotOurs): the manifest names this
// database, and the file and its manifest are regular files of this user that nobody else can write. Anything
// else is skipped, counted in one line, and never opened: DuckDB would parse a stranger's crafted file, and a
// stranger's file reported as "damaged" would raise an alarm about a backup that was never ours. Each backup is
// looked at again just before it is read, and a file replaced while it was read (its inode changed) is not
// reported either way. (DuckDB opens by path, so a swap in the instant between that look and the open is not
// excluded; in a directory where others cannot rename your files, such as a sticky one, it cannot happen.)

export interface ReverifyLimits {
  maxBytes: number;
  maxMs: number;
}

export interface ReverifyCheck {
  path: string;
  ok: boolean;
  problem?: string | undefined;
  durationMs: number;
  /** Why the result could not be written to the manifest, if it could not. */
  notRecorded?: string | undefined;
}

/** A backup the pass left alone, and why: not this user's backup of this database. */
export interface ReverifySkip {
  path: string;
  why: string;
}

export interface ReverifyResult {
  checked: ReverifyCheck[];
  /** Backups in the directory that are not this user's backups of this database: never opened. */
  skipped: ReverifySkip[];
  /** Backups left for a later pass. */
  remaining: number;
  /** Why the pass stopped before the end of the list. */
  stoppedBy?: 'bytes' | 'time' | 'cancelled' | undefined;
}

export interface ReverifyOptions {
  /** The database whose backups are checked; backups of other databases in the directory are skipped. */
  database: string;
  now?: () => Date;
  signal?: AbortSignal | undefined;
  /** The verification runner (a copy-engine thread by default). */
  runTask?: RunVerifyTask | undefined;
}

/** When a backup was last known good or bad: its last re-verification, else its creation (verified then). */
export function lastVerifiedAt(entry: BackupEntry): Date | undefined {
  const last = entry.manifest?.verifications?.at(-1)?.at;
  const at = last ? new Date(last) : entry.createdAt;
  return at && !Number.isNaN(at.getTime()) ? at : undefined;
}

/** The order of a pass: intact backups only (a damaged one stays damaged), oldest verification first. */
export function reverifyOrder(entries: readonly BackupEntry[]): BackupEntry[] {
  return (
    entries
      // An encrypted backup is left alone: the key to read it is not meant to be on this machine.
      .filter((e) => e.state === 'ok' && !isEncrypted(e.manifest) && lastVerifiedAt(e) && !failedReverification(e))
      .sort((a, b) => lastVerifiedAt(a)!.getTime() - lastVerifiedAt(b)!.getTime() || (a.path < b.path ? -1 : 1))
  );
}

export async function reverifyBackups(
  entries: readonly BackupEntry[],
  limits: ReverifyLimits,
  options: ReverifyOptions,
): Promise<ReverifyResult> {
  // One copy-engine pool for the whole pass, started only if there is something to check.
  let engine: CopyEngine | undefined;
  const runTask: RunVerifyTask =
    options.runTask ??
    ((task, signal) => {
      engine ??= CopyEngine.start();
      return engine.verify(task.file, task.expected, signal);
    });
  try {
    return await pass(entries, limits, runTask, options);
  } finally {
    await engine?.destroy();
  }
}

async function pass(
  entries: readonly BackupEntry[],
  limits: ReverifyLimits,
  runTask: RunVerifyTask,
  options: ReverifyOptions,
): Promise<ReverifyResult> {
  const now = options.now ?? (() => new Date());
  const skipped: ReverifySkip[] = [];
  const order = reverifyOrder(entries).filter((entry) => {
    const why = whyNotOurs(entry, options.database);
    if (why) skipped.push({ path: entry.path, why });
    return !why;
  });
  const skippedBefore = skipped.length;
  const started = Date.now();
  const checked: ReverifyCheck[] = [];
  let bytes = 0;
  let stoppedBy: ReverifyResult['stoppedBy'];
  for (const entry of order) {
    const size = entry.sizeBytes ?? 0;
    const left = limits.maxMs - (Date.now() - started);
    // At least one backup per pass, however large: otherwise one big backup would never be checked.
    if (checked.length > 0 && bytes + size > limits.maxBytes) {
      stoppedBy = 'bytes';
      break;
    }
    if (left <= 0) {
      stoppedBy = 'time';
      break;
    }
    if (options.signal?.aborted) {
      stoppedBy = 'cancelled';
      break;
    }
    // Looked at again just before the read: a pass can be long, and the directory shared.
    const file = identityOf(entry.path);
    const before = readOwnManifest(entry.path);
    const why = whyNotOurs(entry, options.database) ?? ('refused' in before ? before.refused : undefined);
    if (why || !file || 'refused' in before) {
      skipped.push({ path: entry.path, why: why ?? 'its file is gone' });
      continue;
    }
    const timeout = AbortSignal.timeout(left);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const t0 = Date.now();
    let outcome: VerifyOutcome;
    try {
      outcome = await verifyBackup(entry.path, { signal, runTask });
    } catch (err) {
      outcome = { ok: false, file: entry.path, manifestProblem: (err as Error).message, notes: [] };
    }
    if (!outcome.ok && signal.aborted) {
      // A check cut short proves nothing either way: nothing is recorded.
      stoppedBy = options.signal?.aborted ? 'cancelled' : 'time';
      break;
    }
    if (identityOf(entry.path) !== file) {
      // What was read may not be the backup that was listed: neither intact nor damaged is known of it.
      skipped.push({ path: entry.path, why: 'it was replaced while it was being checked' });
      continue;
    }
    const durationMs = Date.now() - t0;
    bytes += size;
    const problem = outcome.ok ? undefined : problemOf(outcome);
    const notRecorded = appendVerification(entry.path, before.text, {
      at: now().toISOString(),
      ok: outcome.ok,
      ...(problem ? { problem } : {}),
      durationMs,
    });
    checked.push({ path: entry.path, ok: outcome.ok, problem, durationMs, notRecorded });
  }
  return { checked, skipped, remaining: order.length - checked.length - (skipped.length - skippedBefore), stoppedBy };
}

const OTHER_DATABASE = 'it is a backup of another database';

/**
 * Why a backup is not one this user made of database, or undefined when it is: its manifest names database,
 * and the file and the manifest are regular files of this user that nobody else can write (lstat: a link is
 * never followed). The manifest's fileName agreeing with the file is already part of the entry's `ok` state.
 */
export function whyNotOurs(entry: BackupEntry, database: string): string | undefined {
  if (!entry.manifest || !entry.manifestPath) return 'it has no manifest';
  if (!isBackupOf(entry.manifest, database)) return OTHER_DATABASE;
  for (const [file, what] of [
    [entry.path, 'its file'],
    [entry.manifestPath, 'its manifest'],
  ] as const) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      return `${what} is gone`;
    }
    if (!stat.isFile()) return `${what} is not a regular file`;
    const foreign = foreignOwner(stat);
    if (foreign) return `${what} ${foreign.startsWith('belongs') ? 'belongs to another user' : foreign}`;
  }
  return undefined;
}

/** The entries that are this user's backups of database (what status counts and reports as damaged). */
export function ownBackups(entries: readonly BackupEntry[], database: string): BackupEntry[] {
  return entries.filter((e) => !whyNotOurs(e, database));
}

/** One line: how many backups a pass left alone, and why ("Skipped 3 backups: 2 of …, 1 because …"). */
export function describeSkipped(skipped: readonly ReverifySkip[]): string | undefined {
  if (skipped.length === 0) return undefined;
  const counts = new Map<string, number>();
  for (const s of skipped) counts.set(s.why, (counts.get(s.why) ?? 0) + 1);
  const reasons = [...counts]
    .sort(([a, m], [b, n]) => n - m || (a < b ? -1 : 1))
    .map(([why, n]) =>
      why === OTHER_DATABASE ? `${n} of ${n === 1 ? 'another database' : 'other databases'}` : `${n} because ${why}`,
    );
  const n = skipped.length;
  return `Skipped ${n} backup${n === 1 ? '' : 's'}: ${reasons.join(', ')}.`;
}

/** The file's device and inode, to tell whether the file read is still the one listed; undefined if gone. */
function identityOf(file: string): string | undefined {
  try {
    const stat = fs.lstatSync(file);
    return stat.isFile() ? `${stat.dev}:${stat.ino}` : undefined;
  } catch {
    return undefined;
  }
}

function problemOf(outcome: VerifyOutcome): string {
  if (outcome.manifestProblem) return outcome.manifestProblem;
  const failed = outcome.verification?.checks.filter((c) => !c.ok) ?? [];
  return failed.map((c) => `${c.name}: ${c.detail}`).join('; ') || 'verification failed';
}
