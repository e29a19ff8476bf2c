import { messages } from '../errors.js';
import type { BackupEntry } from './backup-entry.js';

// Which backups a prune removes. Pure: no disk, no clock (the caller passes `now`), so `/backup prune`,
// `nu-agent backup prune` and auto-backup's retention all decide the same way, and tests can walk every rule.
//
// The rules, from the tools users compare us with (see shared/reference/backup-tools.md):
// - Only backups nu-agent made and can match to their manifest are candidates (state `ok`); anything else is
//   kept untouched, so a file we did not make is never deleted.
// - A backup counts for retention only once it is complete and verified (pgBackRest): damaged, missing and
//   partial ones neither fill a `keepLast` slot nor count as "the newest".
// - Keep rules are ORed (restic): a backup is removed only if no rule keeps it.
// - The newest verified backup is never removed and at least `minKeep` (never less than 1) are kept, so prune
//   can never delete them all (offen/docker-volume-backup refuses to as well).
// - Ages come from the manifest's createdAt, never from the file's mtime (a copy or restore changes mtime).
// - A backup dated in the future (clock skew) is kept, as restic does.

export interface RetentionPolicy {
  /** Keep the N newest verified backups. */
  keepLast?: number | undefined;
  /** Keep verified backups created less than this many days before `now`. */
  olderThanDays?: number | undefined;
  /** Floor: the number of newest verified backups always kept; values below 1 count as 1. */
  minKeep: number;
}

export interface PlannedBackup {
  entry: BackupEntry;
  reason: string;
}

export interface PrunePlan {
  remove: PlannedBackup[];
  keep: PlannedBackup[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Throws a usage NuError for a policy that names no rule or a value that would make no sense. */
export function checkRetentionPolicy(policy: RetentionPolicy): void {
  const { keepLast, olderThanDays } = policy;
  if (keepLast === undefined && olderThanDays === undefined) throw messages.pruneNoPolicy();
  if (keepLast !== undefined && (!Number.isInteger(keepLast) || keepLast < 1))
    throw messages.pruneKeepInvalid(String(keepLast));
  if (olderThanDays !== undefined && (!Number.isFinite(olderThanDays) || olderThanDays < 0))
    throw messages.pruneDaysInvalid(String(olderThanDays));
}

export function planPrune(entries: readonly BackupEntry[], policy: RetentionPolicy, now: Date): PrunePlan {
  checkRetentionPolicy(policy);
  const minKeep = Math.max(1, Math.floor(policy.minKeep));
  const keep: PlannedBackup[] = [];
  const remove: PlannedBackup[] = [];

  const counted = entries.filter((e) => e.state === 'ok' && e.createdAt && !Number.isNaN(e.createdAt.getTime()));
  for (const entry of entries) {
    if (!counted.includes(entry)) keep.push({ entry, reason: notCountedReason(entry) });
  }

  // Newest first; equal times fall back to the path so the plan does not depend on directory order.
  counted.sort((a, b) => b.createdAt!.getTime() - a.createdAt!.getTime() || (a.path < b.path ? -1 : 1));
  const cutoff = policy.olderThanDays === undefined ? undefined : now.getTime() - policy.olderThanDays * DAY_MS;

  counted.forEach((entry, index) => {
    const created = entry.createdAt!.getTime();
    if (index === 0) return keep.push({ entry, reason: 'the newest verified backup is never removed' });
    if (index < minKeep) return keep.push({ entry, reason: `at least ${minKeep} verified backups are kept` });
    if (created > now.getTime()) return keep.push({ entry, reason: 'created in the future (clock skew?)' });
    if (policy.keepLast !== undefined && index < policy.keepLast)
      return keep.push({ entry, reason: `one of the newest ${policy.keepLast}` });
    if (cutoff !== undefined && created >= cutoff)
      return keep.push({ entry, reason: `younger than ${policy.olderThanDays} days` });
    remove.push({ entry, reason: removalReason(entry, index, policy, now) });
  });

  // Belt and braces: the rules above always keep the newest, but a plan that would leave no verified backup
  // must never reach the disk, whatever a future edit to the rules does.
  if (counted.length > 0 && remove.length >= counted.length) {
    return {
      remove: [],
      keep: [...keep, ...remove.map(({ entry }) => ({ entry, reason: 'refused: the plan would remove every backup' }))],
    };
  }
  return { remove, keep };
}

function notCountedReason(entry: BackupEntry): string {
  const why = entry.problem ? `: ${entry.problem}` : '';
  switch (entry.state) {
    case 'foreign':
      return `not made by nu-agent${why}; never touched`;
    case 'partial':
      return `an unfinished copy${why}; not counted`;
    case 'missing':
      return `the backup file is missing${why}; not counted`;
    case 'damaged':
      return `does not match its manifest${why}; not counted, not removed`;
    case 'ok':
      return 'the manifest has no valid creation time; not counted';
  }
}

function removalReason(entry: BackupEntry, index: number, policy: RetentionPolicy, now: Date): string {
  const parts: string[] = [];
  if (policy.keepLast !== undefined) parts.push(`not among the newest ${policy.keepLast} (it is number ${index + 1})`);
  if (policy.olderThanDays !== undefined) {
    const days = (now.getTime() - entry.createdAt!.getTime()) / DAY_MS;
    parts.push(`older than ${policy.olderThanDays} days (${days.toFixed(1)} days old)`);
  }
  return parts.join(' and ');
}
