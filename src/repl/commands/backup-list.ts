import type { App } from '../../app.js';
import { backupDirectories, liveFiles } from '../../backup/backup-dirs.js';
import { catalogBackups } from '../../backup/catalog.js';
import { backupJson, formatBackupList } from '../../backup/list-format.js';
import { parseListArgs } from '../../backup/manage-args.js';

/** `/backup list [DIR] [--json]`: the backups nu-agent made, and what is wrong around them. */
export async function runBackupList(args: string[], app: App): Promise<void> {
  const { dir, json } = parseListArgs(args);
  const directories = await backupDirectories(app, dir);
  const entries = catalogBackups(directories, { exclude: liveFiles(app) });
  if (json) app.out.line(JSON.stringify({ directories, backups: entries.map(backupJson) }, null, 2));
  else for (const line of formatBackupList(entries, directories)) app.out.line(line);
}
