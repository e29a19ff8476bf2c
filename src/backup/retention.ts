import { messages } from '../errors.js';
import type { BackupEntry } from './backup-entry.js';
import { bucketKeys, formatKeepWithin, machineTimeZone, withinCutoff } from './retention-calendar.js';
import type { KeepWithin } from './retention-calendar.js';

// Which backups a prune removes. Pure: no disk, no clock (the caller passes `now`), so `/backup prune`,
// `nu-agent backup prune` and auto-backup's retention all decide the same way, and tests can walk every rule.
//
// The rules, from the tools users compare us with (restic's forget policy, Litestream's retention, pgBackRest's full/diff counts):
// - Only backups nu-agent made and can match to their manifest are candidates (state `ok`); anything else is
//   kept untouched, so a file we did not make is never deleted.
// - A backup counts for retention only once it is complete and verified (pgBackRest): damaged, missing and
//   partial ones neither fill a `keepLast` slot nor count as "the newest".
// - Keep rules are ORed (restic): a backup is removed only if no rule keeps it.
// - The calendar rules are restic's (internal/restic/snapshot_policy.go): walking newest first, a backup is kept
//   by `keepDaily` when its local day differs from the last day kept by that rule, until N days are kept; when a
//   rule still has room at the oldest backup, the oldest is kept too (restic keeps the longest history it can).
//   Days, ISO weeks, months and years are read on the wall clock of `timeZone`. `keepWithin` is measured back
//   from the newest backup (not from now), so a machine that stopped backing up does not lose its history.
// - A backup whose last re-verification found it damaged is not counted (it cannot be "the newest verified")
//   and is never removed: it is evidence, and the user decides.
// Nothing here knows where backups live: a remote destination plans with the same function.
// - The newest verified backup is never removed and at least `minKeep` (never less than 1) are kept, so prune
//   can never delete them all (offen/docker-volume-backup refuses to as well).
// - Ages come from the manifest's createdAt, never from the file's mtime (a copy or restore changes mtime).
// - A backup dated in the future (clock skew) is kept, as restic does.

export interface RetentionPolicy {
  /** Keep the N newest verified backups (restic --keep-last). */
  keepLast?: number | undefined;
  /** restic --keep-hourly/daily/weekly/monthly/yearly: the newest backup of each of the N newest such periods. */
  keepHourly?: number | undefined;
  keepDaily?: number | undefined;
  keepWeekly?: number | undefined;
  keepMonthly?: number | undefined;
  keepYearly?: number | undefined;
  /** restic --keep-within: every backup newer than this duration before the newest backup. */
  keepWithin?: KeepWithin | undefined;
  /** Keep verified backups created less than this many days before `now`. */
  olderThanDays?: number | undefined;
  /** Floor: the number of newest verified backups always kept; values below 1 count as 1. */
  minKeep: number;
  /** IANA zone whose wall clock the calendar rules use; the machine's zone when undefined. */
  timeZone?: string | undefined;
}

export interface PlannedBackup {
  entry: BackupEntry;
  reason: string;
  /** For kept backups: every rule that kept it (restic's "matches"), e.g. "daily 2025-06-30". */
  rules?: string[] | undefined;
}

export interface PrunePlan {
  remove: PlannedBackup[];
  keep: PlannedBackup[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const CALENDAR_RULES = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type CalendarRule = (typeof CALENDAR_RULES)[number];

const CALENDAR_FIELD = {
  hourly: 'keepHourly',
  daily: 'keepDaily',
  weekly: 'keepWeekly',
  monthly: 'keepMonthly',
  yearly: 'keepYearly',
} as const satisfies Record<CalendarRule, keyof RetentionPolicy>;

/** True when the policy names at least one rule. */
export function hasRule(policy: Omit<RetentionPolicy, 'minKeep'>): boolean {
  return (
    policy.keepLast !== undefined ||
    policy.olderThanDays !== undefined ||
    policy.keepWithin !== undefined ||
    CALENDAR_RULES.some((r) => policy[CALENDAR_FIELD[r]] !== undefined)
  );
}

/** Throws a usage NuError for a policy that names no rule or a value that would make no sense. */
export function checkRetentionPolicy(policy: RetentionPolicy): void {
  const { keepLast, olderThanDays } = policy;
  if (!hasRule(policy)) throw messages.pruneNoPolicy();
  if (keepLast !== undefined && (!Number.isInteger(keepLast) || keepLast < 1))
    throw messages.pruneKeepInvalid(String(keepLast));
  for (const rule of CALENDAR_RULES) {
    const n = policy[CALENDAR_FIELD[rule]];
    if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw messages.pruneKeepCountInvalid(rule, String(n));
  }
  if (olderThanDays !== undefined && (!Number.isFinite(olderThanDays) || olderThanDays < 0))
    throw messages.pruneDaysInvalid(String(olderThanDays));
}

/** `--keep-daily 7 --keep-within 30d`: the policy's rules as the flags that set them. */
export function describePolicy(policy: Omit<RetentionPolicy, 'minKeep'>): string {
  const parts: string[] = [];
  if (policy.keepLast !== undefined) parts.push(`--keep-last ${policy.keepLast}`);
  for (const rule of CALENDAR_RULES) {
    const n = policy[CALENDAR_FIELD[rule]];
    if (n !== undefined) parts.push(`--keep-${rule} ${n}`);
  }
  if (policy.keepWithin) parts.push(`--keep-within ${formatKeepWithin(policy.keepWithin)}`);
  if (policy.olderThanDays !== undefined) parts.push(`--older-than ${policy.olderThanDays}`);
  return parts.join(' ');
}

/** The last re-verification found the backup damaged (an ok file on disk that no longer reads back right). */
export function failedReverification(entry: BackupEntry): { at: string; problem: string } | undefined {
  const last = entry.manifest?.verifications?.at(-1);
  return last && !last.ok ? { at: last.at, problem: last.problem ?? 'damaged' } : undefined;
}

export function planPrune(entries: readonly BackupEntry[], policy: RetentionPolicy, now: Date): PrunePlan {
  checkRetentionPolicy(policy);
  const minKeep = Math.max(1, Math.floor(policy.minKeep));
  const zone = policy.timeZone ?? machineTimeZone();
  const keep: PlannedBackup[] = [];
  const remove: PlannedBackup[] = [];

  const counted = entries.filter(
    (e) => e.state === 'ok' && e.createdAt && !Number.isNaN(e.createdAt.getTime()) && !failedReverification(e),
  );
  for (const entry of entries) {
    if (!counted.includes(entry)) keep.push({ entry, reason: notCountedReason(entry) });
  }

  // Newest first; equal times fall back to the path so the plan does not depend on directory order.
  counted.sort((a, b) => b.createdAt!.getTime() - a.createdAt!.getTime() || (a.path < b.path ? -1 : 1));
  const cutoff = policy.olderThanDays === undefined ? undefined : now.getTime() - policy.olderThanDays * DAY_MS;
  // restic measures keep-within from the newest backup that is not in the future.
  const newestPast = counted.find((e) => e.createdAt!.getTime() <= now.getTime());
  const withinFrom =
    policy.keepWithin && newestPast ? withinCutoff(newestPast.createdAt!, policy.keepWithin, zone) : undefined;
  const buckets = CALENDAR_RULES.map((rule) => ({ rule, left: policy[CALENDAR_FIELD[rule]] ?? 0, last: NaN }));

  counted.forEach((entry, index) => {
    const created = entry.createdAt!;
    // Every rule sees every backup in order, as in restic, so a backup kept for another reason still fills the
    // day (or week…) it falls in.
    const rules: string[] = [];
    if (policy.keepLast !== undefined && index < policy.keepLast) rules.push(`one of the newest ${policy.keepLast}`);
    const keys = bucketKeys(created, zone);
    for (const bucket of buckets) {
      if (bucket.left <= 0) continue;
      const key = keys[bucket.rule];
      if (key !== bucket.last || index === counted.length - 1) {
        rules.push(
          `${bucket.rule} ${bucketLabel(bucket.rule, key)}${key === bucket.last ? ' (oldest, rule had room)' : ''}`,
        );
        bucket.last = key;
        bucket.left--;
      }
    }
    if (withinFrom && created.getTime() > withinFrom.getTime())
      rules.push(`within ${formatKeepWithin(policy.keepWithin!)} of the newest`);
    if (cutoff !== undefined && created.getTime() >= cutoff) rules.push(`younger than ${policy.olderThanDays} days`);

    const guard =
      index === 0
        ? 'the newest verified backup is never removed'
        : index < minKeep
          ? `at least ${minKeep} verified backups are kept`
          : created.getTime() > now.getTime()
            ? 'created in the future (clock skew?)'
            : undefined;
    if (guard || rules.length > 0) {
      keep.push({ entry, reason: [guard, ...rules].filter(Boolean).join('; '), rules });
    } else {
      remove.push({ entry, reason: removalReason(entry, index, policy, now) });
    }
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

function bucketLabel(rule: CalendarRule, key: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  switch (rule) {
    case 'hourly':
      return `${Math.floor(key / 1_000_000)}-${pad(Math.floor(key / 10_000) % 100)}-${pad(Math.floor(key / 100) % 100)} ${pad(key % 100)}h`;
    case 'daily':
      return `${Math.floor(key / 10_000)}-${pad(Math.floor(key / 100) % 100)}-${pad(key % 100)}`;
    case 'weekly':
      return `${Math.floor(key / 100)}-W${pad(key % 100)}`;
    case 'monthly':
      return `${Math.floor(key / 100)}-${pad(key % 100)}`;
    case 'yearly':
      return String(key);
  }
}

function notCountedReason(entry: BackupEntry): string {
  const failed = failedReverification(entry);
  if (failed) return `re-verification on ${failed.at} found it damaged (${failed.problem}); not counted, not removed`;
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
  const calendar = describePolicy({ ...policy, keepLast: undefined, olderThanDays: undefined });
  if (calendar) parts.push(`kept by none of ${calendar}`);
  return parts.join(' and ');
}
