import path from 'node:path';
import type { App } from '../app.js';
import { expandHome } from '../paths.js';
import { walPaths } from '../store/memory-store.js';

// Where list and prune look when the user names no directory: the backup directory (where automatic backups
// go) and the working directory (where `/backup` puts a backup by default, as the seed did). Prune works on
// exactly what list shows, so `/backup list` is always the preview of what prune can touch.

export function backupDirectories(app: App, dir?: string | undefined, cwd = process.cwd()): string[] {
  if (dir !== undefined) return [path.resolve(cwd, expandHome(dir))];
  return [app.paths.defaultBackupDir, cwd];
}

/** Never listed, never pruned: the live database and its WAL files. */
export function liveFiles(app: App): string[] {
  return [app.paths.database, ...walPaths(app.paths.database)];
}
