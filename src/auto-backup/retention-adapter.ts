import { catalogBackups } from '../backup/catalog.js';
import { isBackupOf, pruneBackups } from '../backup/prune.js';
import type { PlannedBackup } from '../backup/retention.js';
import type { BackupTrigger } from '../backup/types.js';
import type { DataPaths } from '../paths.js';
import { hasRule } from '../backup/retention.js';
import type { RetentionPolicy as PlannerPolicy } from '../backup/retention.js';
import type { PruneCandidate, RetentionPolicy, RetentionPort } from './retention-port.js';

// Auto-backup's retention is backup management's prune (src/backup/prune.ts and the pure rules in
// src/backup/retention.ts), limited to the backups the auto-backup made: a backup taken by hand into the same
// directory is counted in status but never removed by the schedule. Only backups whose manifest names this
// database count at all: two databases sharing one NUAGENT_HOME share its backup directory, and one's retention
// once deleted the other's only automatic backup.

export const AUTO_TRIGGERS: BackupTrigger[] = ['auto', 'external'];

export function retentionFor(paths: DataPaths): RetentionPort {
  const exclude = [paths.database, `${paths.database}.wal`];
  const candidate = (p: PlannedBackup): PruneCandidate => ({
    path: p.entry.path,
    createdAt: p.entry.createdAt ?? new Date(NaN),
    sizeBytes: p.entry.sizeBytes ?? 0,
    reason: p.reason,
  });
  const prune = (directory: string, policy: RetentionPolicy, now: Date, dryRun: boolean) =>
    pruneBackups({
      directories: [directory],
      policy: plannerPolicy(policy),
      dryRun,
      now,
      exclude,
      triggers: AUTO_TRIGGERS,
      database: paths.database,
    });
  return {
    async summary(directory) {
      const ok = catalogBackups([directory], { exclude }).filter(
        (e) => e.state === 'ok' && e.manifest && isBackupOf(e.manifest, paths.database),
      );
      const newest = ok.find((e) => e.createdAt);
      return {
        count: ok.length,
        totalBytes: ok.reduce((sum, e) => sum + (e.sizeBytes ?? 0), 0),
        newest: newest?.createdAt ? { path: newest.path, createdAt: newest.createdAt } : undefined,
      };
    },
    async plan(directory, policy, now) {
      return prune(directory, policy, now, true).removed.map(candidate);
    },
    async apply(directory, policy, now) {
      const result = prune(directory, policy, now, false);
      return {
        removed: result.removed.map(candidate),
        failed: result.failed.map((f) => ({ path: f.entry.path, error: f.error })),
      };
    },
  };
}

/** The auto-backup's setting as the planner's policy: the restic rules when any is set, else the days. */
export function plannerPolicy(policy: RetentionPolicy): PlannerPolicy {
  const base = { minKeep: policy.minKeep, timeZone: policy.timeZone };
  return policy.rules && hasRule(policy.rules)
    ? { ...policy.rules, ...base }
    : { olderThanDays: policy.retentionDays, ...base };
}
