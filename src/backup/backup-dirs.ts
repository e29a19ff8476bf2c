import path from 'node:path';
import type { App } from '../app.js';
import { appConfigStore } from '../auto-backup/config-store.js';
import { settingsFromStored } from '../auto-backup/settings.js';
import { expandHome } from '../paths.js';
import { walPaths } from '../store/memory-store.js';

// Where list and prune look when the user names no directory: the backup directory (where automatic backups
// go: the one `/backup auto set dir` chose, else the default under the data directory) and the working
// directory (where `/backup` puts a backup by default, as the seed did). Prune works on exactly what list
// shows, so `/backup list` is always the preview of what prune can touch.

export async function backupDirectories(app: App, dir?: string | undefined, cwd = process.cwd()): Promise<string[]> {
  if (dir !== undefined) return [path.resolve(cwd, expandHome(dir))];
  let configured = app.paths.defaultBackupDir;
  try {
    configured = settingsFromStored(await appConfigStore(app.store).readAll(), app.paths).settings.directory;
  } catch (err) {
    app.out.debug(`auto-backup directory not read: ${err instanceof Error ? err.message : String(err)}`);
  }
  return [...new Set([configured, app.paths.defaultBackupDir, cwd])];
}

/** Never listed, never pruned: the live database and its WAL files. */
export function liveFiles(app: App): string[] {
  return [app.paths.database, ...walPaths(app.paths.database)];
}
