import type { KeepRules } from '../backup/keep-rules.js';

// What the auto-backup needs from backup management (src/backup/catalog.ts finds backups by their
// manifests, src/backup/retention.ts plans a prune): how much the backup directory holds, what a prune would
// remove, and removing it. One narrow seam, so the scheduler can be tested without the real files and the
// retention rules live in one place only.

export interface RetentionPolicy {
  /** Backups older than this many days may go… */
  retentionDays: number;
  /** …but the newest minKeep always stay. */
  minKeep: number;
  /** restic-style rules; when any is set they replace retentionDays. */
  rules?: KeepRules | undefined;
  /** The zone whose calendar the rules use (the schedule's); the machine's when undefined. */
  timeZone?: string | undefined;
}

export interface BackupDirSummary {
  count: number;
  totalBytes: number;
  newest?: { path: string; createdAt: Date } | undefined;
}

export interface PruneCandidate {
  path: string;
  createdAt: Date;
  sizeBytes: number;
  reason: string;
}

export interface PruneOutcome {
  removed: PruneCandidate[];
  /** Planned but left in place, and why. */
  failed: { path: string; error: string }[];
}

export interface RetentionPort {
  summary(directory: string): Promise<BackupDirSummary>;
  /** What applying the policy now would remove; deletes nothing. */
  plan(directory: string, policy: RetentionPolicy, now: Date): Promise<PruneCandidate[]>;
  /** Removes what plan() names (each backup with its manifest). */
  apply(directory: string, policy: RetentionPolicy, now: Date): Promise<PruneOutcome>;
}
