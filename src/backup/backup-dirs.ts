import path from 'node:path';
import type { App, Output } from '../app.js';
import { appConfigStore } from '../auto-backup/config-store.js';
import { settingsFromStored } from '../auto-backup/settings.js';
import { expandHome } from '../paths.js';
import type { DataPaths } from '../paths.js';
import type { MemoryStore } from '../store/memory-store.js';
import { walPaths } from '../store/memory-store.js';
import { recordedBackupPaths } from '../store/backup-runs.js';

// Where list and prune look when the user names no directory: the backup directory (where automatic backups
// go: the one `/backup auto dir` chose, else the default under the data directory) and the working directory
// (where `/backup` puts a backup by default). Prune works on exactly what list shows, so
// `/backup list` is always the preview of what prune can touch.

/** What list, verify and prune need: no database handle, so the CLI can run them while a nu-agent is open. */
export interface ManageContext {
  out: Output;
  /** The directories to scan: [dir] when one is named, else the backup directories and the working directory. */
  directories(dir?: string | undefined): Promise<string[]>;
  /** Never listed, never pruned: the live database and its WAL files. */
  liveFiles: string[];
  /** The backups the database recorded as made, wherever they are (list shows them; prune stays in directories). */
  recorded?: (() => Promise<string[]>) | undefined;
  /** Prune takes part only backups whose manifest names this database (others may share the directory). */
  database?: string | undefined;
}

export function manageContext(app: App, cwd = process.cwd()): ManageContext {
  return {
    out: app.out,
    liveFiles: liveFiles(app.paths),
    database: app.paths.database,
    directories: (dir) => backupDirectories(app.paths, dir, () => configuredBackupDir(app.store, app.paths), cwd),
    recorded: () => recordedBackupPaths(app.store),
  };
}

export async function backupDirectories(
  paths: DataPaths,
  dir: string | undefined,
  configured: () => Promise<string | undefined>,
  cwd = process.cwd(),
): Promise<string[]> {
  if (dir !== undefined) return [path.resolve(cwd, expandHome(dir))];
  const auto = await configured().catch(() => undefined);
  return [...new Set([auto ?? paths.defaultBackupDir, paths.defaultBackupDir, cwd])];
}

/** The auto-backup directory as configured in appconfig (its default when unset). */
export async function configuredBackupDir(store: Pick<MemoryStore, 'all' | 'transaction'>, paths: DataPaths) {
  const stored = await appConfigStore(store).readAll();
  return settingsFromStored(stored, paths).settings.directory;
}

export function liveFiles(paths: DataPaths): string[] {
  return [paths.database, ...walPaths(paths.database)];
}
