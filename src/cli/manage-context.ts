import fs from 'node:fs';
import type { Command } from 'commander';
import type { Output } from '../app.js';
import { acquireBackupLock } from '../backup/backup-lock.js';
import { backupDirectories, configuredBackupDir, liveFiles } from '../backup/backup-dirs.js';
import type { ManageContext } from '../backup/backup-dirs.js';
import { messageOf } from '../errors.js';
import { resolveDataPaths } from '../paths.js';
import { TerminalOutput } from '../repl/terminal-output.js';
import { MemoryStore } from '../store/memory-store.js';
import type { CliContext } from './context.js';

// `nu-agent backup list|verify|prune` work on backup files, not on the memory: they never need the database,
// so they run while a nu-agent is open on it (DuckDB allows one writer, and that one holds it) and on a machine
// that only has the backup. The one thing they read from the database, when they can, is the auto-backup
// directory setting; when another nu-agent holds the file, the default backup directory stands in, and a note
// says so.

export function cliManageContext(cli: CliContext, command: Command, out: Output): ManageContext {
  const global = cli.globalOptions(command);
  const paths = resolveDataPaths(process.env, global.database);
  return {
    out,
    liveFiles: liveFiles(paths),
    database: paths.database,
    directories: (dir) =>
      backupDirectories(paths, dir, async () => {
        if (!fs.existsSync(paths.database)) return undefined;
        try {
          // Under the backup lock: never open the file during another process's closed window.
          const lock = await acquireBackupLock(paths.backupLock);
          try {
            const store = await MemoryStore.open(paths.database);
            try {
              return await configuredBackupDir(store, paths);
            } finally {
              await store.close();
            }
          } finally {
            await lock.release();
          }
        } catch (err) {
          process.stderr.write(
            `Note: the auto-backup directory setting could not be read (${messageOf(err)}); ` +
              `looking in ${paths.defaultBackupDir} and the working directory (--dir DIR looks elsewhere).\n`,
          );
          return undefined;
        }
      }),
  };
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
