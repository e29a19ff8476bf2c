import fs from 'node:fs';
import path from 'node:path';
import { fsyncDirectory } from './durable-file.js';
import { catalogBackups, describeManaged } from './catalog.js';
import { planPrune } from './retention.js';
import type { PlannedBackup, PrunePlan, RetentionPolicy } from './retention.js';
import type { BackupEntry } from './backup-entry.js';
import type { BackupManifest, BackupTrigger } from './types.js';
import { realPathOf } from '../fs-facts.js';
import { messageOf } from '../errors.js';

// Applies a prune plan to the disk. `/backup prune`, `nu-agent backup prune` and auto-backup's retention
// (through src/backup/retention-adapter.ts) all come here, so there is one place that deletes backups.

export interface PruneOptions {
  directories: string[];
  policy: RetentionPolicy;
  dryRun: boolean;
  now?: Date | undefined;
  /** Never listed or removed: the live database and its WAL, if a scanned directory holds them. */
  exclude?: string[] | undefined;
  /** Only backups made by these triggers take part (auto-backup prunes only its own); others are kept. */
  triggers?: BackupTrigger[] | undefined;
  /** Only backups whose manifest names this database take part; another database's backups are kept. */
  database?: string | undefined;
}

export interface PruneResult {
  dryRun: boolean;
  plan: PrunePlan;
  /** Removed (or, in a dry run, would be removed). */
  removed: PlannedBackup[];
  /** Planned but not removed: it changed on disk since it was listed, or the delete failed. */
  failed: { entry: BackupEntry; error: string }[];
}

/**
 * True when the manifest was written by a backup of database. Two databases may share one backup directory
 * (one NUAGENT_HOME, two --database files): one's retention must never count or delete the other's backups.
 */
export function isBackupOf(manifest: Pick<BackupManifest, 'sourcePath'>, database: string): boolean {
  if (typeof manifest.sourcePath !== 'string') return false;
  return (
    path.resolve(manifest.sourcePath) === path.resolve(database) ||
    realPathOf(manifest.sourcePath) === realPathOf(database)
  );
}

export function pruneBackups(options: PruneOptions): PruneResult {
  const entries = catalogBackups(options.directories, { exclude: options.exclude });
  const triggers = options.triggers;
  const database = options.database;
  const ofOther = (e: BackupEntry) => database !== undefined && !(e.manifest && isBackupOf(e.manifest, database));
  const byTrigger = (e: BackupEntry) => !triggers || (e.manifest && triggers.includes(e.manifest.trigger));
  const taking = entries.filter((e) => byTrigger(e) && !ofOther(e));
  const plan = planPrune(taking, options.policy, options.now ?? new Date());
  for (const entry of entries) {
    if (taking.includes(entry)) continue;
    const reason = ofOther(entry)
      ? `a backup of another database${entry.manifest ? ` (${entry.manifest.sourcePath})` : ''}`
      : `not made by ${triggers?.join('/')} backups`;
    plan.keep.push({ entry, reason });
  }
  if (options.dryRun) return { dryRun: true, plan, removed: plan.remove, failed: [] };

  const removed: PlannedBackup[] = [];
  const failed: PruneResult['failed'] = [];
  for (const planned of plan.remove) {
    const problem = removeBackup(planned.entry);
    if (problem) failed.push({ entry: planned.entry, error: problem });
    else removed.push(planned);
  }
  return { dryRun: false, plan, removed, failed };
}

/**
 * Deletes one backup and then its manifest (a crash in between leaves a manifest whose file is missing, which
 * list flags, never an unmarked file). Looks again first: a backup that no longer matches its manifest, or
 * whose manifest changed since it was planned, is left alone. Returns why it was not removed, if it was not.
 */
export function removeBackup(entry: BackupEntry): string | undefined {
  const now = describeManaged(entry.path);
  if (now.state !== 'ok' || !now.manifestPath) return `not removed: it changed since it was listed (${now.problem})`;
  if (now.manifest?.hash.value !== entry.manifest?.hash.value || now.manifest?.createdAt !== entry.manifest?.createdAt)
    return 'not removed: its manifest changed since it was listed';
  try {
    fs.rmSync(now.path);
    fs.rmSync(now.manifestPath, { force: true });
    fsyncDirectory(path.dirname(now.path));
    return undefined;
  } catch (err) {
    return `could not delete it: ${messageOf(err)}`;
  }
}
