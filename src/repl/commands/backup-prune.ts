import type { App } from '../../app.js';
import { manageContext } from '../../backup/backup-dirs.js';
import type { ManageContext } from '../../backup/backup-dirs.js';
import { formatPruneResult, pruneJson } from '../../ui/list-format.js';
import { parsePruneArgs } from '../../ui/manage-args.js';
import { pruneBackups } from '../../backup/prune.js';
import type { PruneResult } from '../../backup/prune.js';
import { prunePolicyOf } from '../../backup/keep-rules.js';
import { checkRetentionPolicy } from '../../backup/retention.js';
import { isRemote } from '../../offsite/location.js';

/** `/backup prune [--keep-daily N …] [--keep-within DURATION] [--keep N] [--older-than DAYS] [--dry-run] …`. */
export async function runBackupPrune(args: string[], app: App): Promise<PruneResult> {
  return pruneWithArgs(args, manageContext(app));
}

export async function pruneWithArgs(args: string[], ctx: ManageContext): Promise<PruneResult> {
  const parsed = parsePruneArgs(args);
  const { dryRun, dir, json } = parsed;
  const policy = prunePolicyOf(parsed);
  checkRetentionPolicy(policy);
  if (isRemote(dir)) return (await import('../../offsite/remote-commands.js')).pruneRemoteBackups(dir, parsed, ctx.out);
  const directories = await ctx.directories(dir);
  const result = pruneBackups({ directories, policy, dryRun, exclude: ctx.liveFiles, database: ctx.database });
  if (json) ctx.out.line(JSON.stringify(pruneJson(result), null, 2));
  else for (const line of formatPruneResult(result)) ctx.out.line(line);
  return result;
}
