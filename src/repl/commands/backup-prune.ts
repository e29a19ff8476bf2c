import type { App } from '../../app.js';
import { manageContext } from '../../backup/backup-dirs.js';
import type { ManageContext } from '../../backup/backup-dirs.js';
import { formatPruneResult, pruneJson } from '../../backup/list-format.js';
import { parsePruneArgs } from '../../backup/manage-args.js';
import { pruneBackups } from '../../backup/prune.js';
import type { PruneResult } from '../../backup/prune.js';
import { checkRetentionPolicy } from '../../backup/retention.js';

/** `/backup prune [--keep N] [--older-than DAYS] [--dry-run] [--dir DIR] [--json]`. */
export async function runBackupPrune(args: string[], app: App): Promise<PruneResult> {
  return pruneWithArgs(args, manageContext(app));
}

export async function pruneWithArgs(args: string[], ctx: ManageContext): Promise<PruneResult> {
  const { keepLast, olderThanDays, dryRun, dir, json } = parsePruneArgs(args);
  const policy = { keepLast, olderThanDays, minKeep: 1 };
  checkRetentionPolicy(policy);
  const directories = await ctx.directories(dir);
  const result = pruneBackups({ directories, policy, dryRun, exclude: ctx.liveFiles, database: ctx.database });
  if (json) ctx.out.line(JSON.stringify(pruneJson(result), null, 2));
  else for (const line of formatPruneResult(result)) ctx.out.line(line);
  return result;
}
