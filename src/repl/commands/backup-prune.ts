import type { App } from '../../app.js';
import { backupDirectories, liveFiles } from '../../backup/backup-dirs.js';
import { formatPruneResult, pruneJson } from '../../backup/list-format.js';
import { parsePruneArgs } from '../../backup/manage-args.js';
import { pruneBackups } from '../../backup/prune.js';
import type { PruneResult } from '../../backup/prune.js';
import { checkRetentionPolicy } from '../../backup/retention.js';

/** `/backup prune [--keep N] [--older-than DAYS] [--dry-run] [--dir DIR] [--json]`. */
export async function runBackupPrune(args: string[], app: App): Promise<PruneResult> {
  const { keepLast, olderThanDays, dryRun, dir, json } = parsePruneArgs(args);
  const policy = { keepLast, olderThanDays, minKeep: 1 };
  checkRetentionPolicy(policy);
  const result = pruneBackups({
    directories: await backupDirectories(app, dir),
    policy,
    dryRun,
    exclude: liveFiles(app),
  });
  if (json) app.out.line(JSON.stringify(pruneJson(result), null, 2));
  else for (const line of formatPruneResult(result)) app.out.line(line);
  return result;
}
