import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { acquireBackupLock } from '../backup/backup-lock.js';
import { resolveDataPaths } from '../paths.js';
import { TerminalOutput } from '../repl/terminal-output.js';
import { parseBackupArgs, runBackup } from '../repl/commands/backup.js';
import type { CliContext, CliSubcommand } from './context.js';

// `nu-agent backup [dest] [--force] [--json]`: the /backup of the REPL without the REPL, for scripts and cron.
// Exits 0 when a verified backup was made, 1 otherwise (Error:/Try: on stderr). With --json only the result
// goes to stdout.
//
// The backup lock is taken before the database is opened: while another nu-agent has its database closed for
// a backup, opening it here would make that one's reopen fail (backup-lock.ts).

export const backupSubcommand: CliSubcommand = {
  name: 'backup',
  register(program: Command, cli: CliContext) {
    program
      .command('backup')
      .description('back up the memory database (list, verify, restore and prune manage the backups)')
      .argument(
        '[destination]',
        'a file, or a directory for memory-YYYY-MM-DD-HHMMSS.db (default: the working directory)',
      )
      .option('-f, --force', 'replace an existing file at the destination')
      .option('--json', 'print the result as JSON on stdout')
      .action(
        async (destination: string | undefined, options: { force?: boolean; json?: boolean }, command: Command) => {
          const args = parseBackupArgs([
            ...(destination === undefined ? [] : [destination]),
            ...(options.force ? ['--force'] : []),
            ...(options.json ? ['--json'] : []),
          ]);
          const global = cli.globalOptions(command);
          const lockPath = resolveDataPaths(process.env, global.database).backupLock;
          let lock;
          try {
            // No directory yet means no database yet, so nobody else can be backing it up.
            if (fs.existsSync(path.dirname(lockPath))) lock = await acquireBackupLock(lockPath);
          } catch (err) {
            cli.fail(err, Boolean(global.debug));
            return;
          }
          try {
            await cli.withApp(
              command,
              async (app, signal) => {
                await runBackup(args, app, signal, 'cli');
                return 0;
              },
              // --json keeps stdout for the result alone; errors and debug lines go to stderr either way.
              { makeOutput: (isDebug) => new TerminalOutput({ isDebug, isTTY: options.json ? false : undefined }) },
            );
          } finally {
            await lock?.release();
          }
        },
      );
  },
};
