import type { App } from '../../app.js';
import { manageContext } from '../../backup/backup-dirs.js';
import type { ManageContext } from '../../backup/backup-dirs.js';
import { catalogBackups } from '../../backup/catalog.js';
import { backupJson, formatBackupList } from '../../ui/list-format.js';
import { parseListArgs } from '../../ui/manage-args.js';
import { isRemote } from '../../offsite/location.js';

/** `/backup list [DIR] [--json]`: the backups nu-agent made, and what is wrong around them. */
export async function runBackupList(args: string[], app: App): Promise<void> {
  await listBackups(args, manageContext(app));
}

export async function listBackups(args: string[], ctx: ManageContext): Promise<void> {
  const { dir, json } = parseListArgs(args);
  if (isRemote(dir)) return (await import('../../offsite/remote-commands.js')).listRemoteBackups(dir, json, ctx.out);
  const directories = await ctx.directories(dir);
  // A directory named on the command line is listed alone; otherwise the recorded backups elsewhere join in.
  const recorded = dir === undefined ? await ctx.recorded?.() : undefined;
  const entries = catalogBackups(directories, { exclude: ctx.liveFiles, recorded });
  if (json) ctx.out.line(JSON.stringify({ directories, backups: entries.map(backupJson) }, null, 2));
  else for (const line of formatBackupList(entries, directories)) ctx.out.line(line);
}
