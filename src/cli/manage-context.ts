import fs from 'node:fs';
import type { Command } from 'commander';
import type { Output } from '../app.js';
import { acquireBackupLock } from '../backup/backup-lock.js';
import { backupDirectories, configuredBackupDir, liveFiles } from '../backup/backup-dirs.js';
import type { ManageContext } from '../backup/backup-dirs.js';
import { messageOf } from '../errors.js';
import { resolveDataPaths } from '../paths.js';
import type { DataPaths } from '../paths.js';
import { askRunningAgent } from '../auto-backup/control-client.js';
import { controlSocketPath } from '../auto-backup/control-protocol.js';
import type { Sources } from '../auto-backup/control-requests.js';
import { recordedBackupPaths } from '../store/backup-runs.js';
import { TerminalOutput } from '../repl/terminal-output.js';
import { MemoryStore } from '../store/memory-store.js';
import type { CliContext } from './context.js';

// `nu-agent backup list|verify|prune` work on backup files, not on the memory: they never need the database,
// so they run while a nu-agent is open on it (DuckDB allows one writer, and that one holds it) and on a machine
// that only has the backup. Two things come from the database when they can: the auto-backup directory setting
// and, for list, the backups recorded in backup_runs (made anywhere). A nu-agent REPL holding the database is
// asked for both over the control socket; when none answers, the file is opened briefly under the backup lock
// (never during another process's backup window). When neither works (a one-shot command holds the file), the
// default backup directory and the working directory stand in, and a note says plainly what is left out.

export function cliManageContext(cli: CliContext, command: Command, out: Output): ManageContext {
  const global = cli.globalOptions(command);
  const paths = resolveDataPaths(process.env, global.database);
  let recorded: string[] = [];
  return {
    out,
    liveFiles: liveFiles(paths),
    database: paths.database,
    directories: async (dir) => {
      if (dir !== undefined) return backupDirectories(paths, dir, async () => undefined);
      const sources = await askForSources(paths).catch(() => undefined);
      if (sources) {
        recorded = sources.recorded;
        return sources.directories;
      }
      return backupDirectories(paths, dir, async () => {
        if (!fs.existsSync(paths.database)) return undefined;
        try {
          const lock = await acquireBackupLock(paths.backupLock);
          try {
            const store = await MemoryStore.open(paths.database);
            try {
              recorded = await recordedBackupPaths(store);
              return await configuredBackupDir(store, paths);
            } finally {
              await store.close();
            }
          } finally {
            await lock.release();
          }
        } catch (err) {
          process.stderr.write(
            `Note: another process is using the database (${messageOf(err)}), so this looks only in ` +
              `${paths.defaultBackupDir} and the working directory; backups written elsewhere are not listed. ` +
              '`nu-agent backup list DIR` lists any directory.\n',
          );
          return undefined;
        }
      });
    },
    recorded: async () => recorded,
  };
}

/** Where a running nu-agent REPL looks, and what it recorded; undefined when none answers for this database. */
async function askForSources(paths: DataPaths): Promise<Sources | undefined> {
  const asked = await askRunningAgent({
    socketPath: controlSocketPath(paths),
    database: paths.database,
    op: 'sources',
    args: [],
    cwd: process.cwd(),
  });
  if (asked.kind !== 'answered' || !asked.result.ok) return undefined;
  const data = asked.result.data as Partial<Sources> | undefined;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  return strings(data?.directories) && strings(data?.recorded) ? (data as Sources) : undefined;
}

/**
 * Runs a management command without an App: Ctrl-C and SIGTERM abort it, a thrown error is printed the usual
 * way, and the exit code is what `fn` returned or what `exitCode` makes of the error.
 */
export async function runWithoutApp(
  cli: CliContext,
  command: Command,
  fn: (out: Output, signal: AbortSignal) => Promise<number>,
  exitCode: (err: unknown, out: Output) => number,
  json = false,
): Promise<void> {
  const debug = Boolean(cli.globalOptions(command).debug);
  const out = new TerminalOutput({ isDebug: () => debug, isTTY: json ? false : undefined });
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.on('SIGINT', abort);
  process.on('SIGTERM', abort);
  try {
    process.exitCode = await fn(out, controller.signal);
  } catch (err) {
    process.exitCode = exitCode(err, out);
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
}
