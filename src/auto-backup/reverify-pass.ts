import { acquireBackupLock } from '../backup/backup-lock.js';
import { catalogBackups } from '../backup/catalog.js';
import type { BackupEntry } from '../backup/backup-entry.js';
import { failedReverification } from '../backup/retention.js';
import { describeSkipped, ownBackups, reverifyBackups } from '../backup/reverify.js';
import type { ReverifyResult } from '../backup/reverify.js';
import type { RunVerifyTask } from '../backup/verify.js';
import { isNuError, messageOf } from '../errors.js';
import type { DataPaths } from '../paths.js';
import type { AutoBackupSettings } from './settings.js';

// One pass of scheduled re-verification over the auto-backup's directory, and what status says about it. The
// pass holds the backup lock (no backup or restore of this database runs meanwhile in another process; inside
// this process AutoBackup keeps them apart) but not the database: it reads backup files only.

const DAY_MS = 24 * 60 * 60 * 1000;

export type ReverifyRun =
  { status: 'done'; directory: string; result: ReverifyResult } | { status: 'skipped'; reason: string };

/** What status shows: "12 backups, last re-verified 3 days ago, 0 damaged". */
export interface ReverifySummary {
  backups: number;
  /** The newest re-verification in the directory (the last pass). */
  lastAt?: Date | undefined;
  /** The backup whose last verification is oldest, and when that was. */
  oldestAt?: Date | undefined;
  damaged: { path: string; at: string; problem: string }[];
  /** When the next pass is due; undefined when off, or never re-verified (then due at the next automatic run). */
  dueAt?: Date | undefined;
}

/** Every backup in the directory, whoever made it (a pass sorts out which are ours, and says how many are not). */
function catalogAll(paths: DataPaths, directory: string): BackupEntry[] {
  return catalogBackups([directory], { exclude: [paths.database, `${paths.database}.wal`] });
}

/** This user's backups of this database: what status counts and what decides when a pass is due. */
export function catalogFor(paths: DataPaths, directory: string): BackupEntry[] {
  return ownBackups(catalogAll(paths, directory), paths.database);
}

export function summarizeReverify(entries: readonly BackupEntry[], settings: AutoBackupSettings): ReverifySummary {
  // Backups nu-agent made and can still read: intact ones, and those a re-verification found damaged.
  const ok = entries.filter((e) => e.state === 'ok' || (e.state === 'damaged' && failedReverification(e)));
  const times = ok.flatMap((e) => (e.manifest?.verifications ?? []).map((v) => Date.parse(v.at)));
  const valid = times.filter((t) => !Number.isNaN(t));
  const lastAt = valid.length > 0 ? new Date(Math.max(...valid)) : undefined;
  const firsts = ok
    .map((e) => Date.parse(e.manifest?.verifications?.at(-1)?.at ?? e.manifest?.createdAt ?? ''))
    .filter((t) => !Number.isNaN(t));
  const damaged = ok.flatMap((e) => {
    const failed = failedReverification(e);
    return failed ? [{ path: e.path, ...failed }] : [];
  });
  const every = settings.reverifyEveryDays;
  return {
    backups: ok.length,
    lastAt,
    oldestAt: firsts.length > 0 ? new Date(Math.min(...firsts)) : undefined,
    damaged,
    dueAt: every === 0 || !lastAt ? undefined : new Date(lastAt.getTime() + every * DAY_MS),
  };
}

export interface PassOptions {
  paths: DataPaths;
  settings: AutoBackupSettings;
  now: () => Date;
  signal: AbortSignal;
  runTask?: RunVerifyTask | undefined;
}

export async function runReverifyPass(options: PassOptions): Promise<ReverifyRun> {
  const { paths, settings } = options;
  let lock;
  try {
    lock = await acquireBackupLock(paths.backupLock);
  } catch (err) {
    if (isNuError(err) && err.code === 'BACKUP_RUNNING') return { status: 'skipped', reason: err.message };
    return { status: 'skipped', reason: `the backup lock could not be taken: ${messageOf(err)}` };
  }
  try {
    const result = await reverifyBackups(
      catalogAll(paths, settings.directory),
      { maxBytes: settings.reverifyMaxBytes, maxMs: settings.reverifyMaxSeconds * 1000 },
      { database: paths.database, now: options.now, signal: options.signal, runTask: options.runTask },
    );
    return { status: 'done', directory: settings.directory, result };
  } finally {
    await lock.release();
  }
}

/** The lines `/backup auto reverify now` prints. */
export function describeReverify(run: ReverifyRun): string[] {
  if (run.status === 'skipped') return [`Re-verification skipped: ${run.reason}.`];
  const { checked, remaining, stoppedBy } = run.result;
  const lines: string[] = [];
  if (checked.length === 0) lines.push(`Re-verification: no backups to check in ${run.directory}.`);
  for (const c of checked) {
    lines.push(`  ${c.ok ? 'ok     ' : 'DAMAGED'}  ${c.path}${c.ok ? '' : `: ${c.problem}`} (${c.durationMs} ms)`);
    if (c.notRecorded) lines.push(`           ${c.notRecorded}`);
  }
  const skipped = describeSkipped(run.result.skipped);
  if (skipped) lines.push(skipped);
  const damaged = checked.filter((c) => !c.ok).length;
  if (checked.length > 0) {
    const stop =
      stoppedBy === 'bytes'
        ? ' (the size bound was reached)'
        : stoppedBy === 'time'
          ? ' (the time bound was reached)'
          : stoppedBy === 'cancelled'
            ? ' (stopped: a backup started)'
            : '';
    lines.unshift(
      `Re-verified ${checked.length} backup${checked.length === 1 ? '' : 's'}, ${damaged} damaged; ` +
        `${remaining} left for a later pass${stop}.`,
    );
  }
  if (damaged > 0) lines.push('Damaged backups are kept and never counted as the newest verified one.');
  return lines;
}
