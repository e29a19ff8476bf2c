import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { acquireBackupLock } from '../backup/backup-lock.js';
import type { BackupLock } from '../backup/backup-lock.js';
import { isNuError, messages } from '../errors.js';
import { resolveDataPaths } from '../paths.js';
import { TerminalOutput } from '../repl/terminal-output.js';
import { parseBackupArgs, runBackup } from '../repl/commands/backup.js';
import type { BackupArgs } from '../repl/commands/backup.js';
import { askRepl } from './ask-repl.js';
import type { CliContext, CliSubcommand } from './context.js';

// `nu-agent backup [dest] [--force] [--json]`: the /backup of the REPL without the REPL, for scripts and cron.
// Exits 0 when a verified backup was made, 1 otherwise (Error:/Try: on stderr), 2 for bad arguments. With
// --json only the result goes to stdout.
//
// While a nu-agent REPL holds the database, the backup is asked of it over the control socket (ask-repl.ts).
// The backup lock is taken before the database is opened: while another nu-agent has its database closed for
// a backup, opening it here would make that one's reopen fail (backup-lock.ts).

const OPTIONS_HELP = `
Options of the backup itself:
  -f, --force  replace an existing file at the destination
  --json       print the result as JSON on stdout (errors still go to stderr)
  --encrypt    store a local backup as NAME.db.age, encrypted with age (NUAGENT_BACKUP_RECIPIENTS or
               NUAGENT_BACKUP_PASSPHRASE); verify, restore, list and prune take it like any backup
  --no-encrypt upload to s3://… without age encryption (refused otherwise when no key is configured)

An s3://BUCKET/PREFIX/[NAME.db] destination backs up locally, then uploads the verified file encrypted with age
(NUAGENT_BACKUP_RECIPIENTS or NUAGENT_BACKUP_PASSPHRASE); endpoint and credentials come from the AWS
environment (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_PROFILE, ...). See the README's Offsite backups.`;

/** What a mistyped first word of `nu-agent backup` may have meant. */
const CLI_BACKUP_WORDS: Readonly<Record<string, string>> = {
  list: 'nu-agent backup list',
  verify: 'nu-agent backup verify',
  restore: 'nu-agent backup restore',
  prune: 'nu-agent backup prune',
  auto: 'nu-agent auto-backup',
  'auto-backup': 'nu-agent auto-backup',
};

export const backupSubcommand: CliSubcommand = {
  name: 'backup',
  register(program: Command, cli: CliContext) {
    program
      .command('backup')
      .description('back up the memory database (list, verify, restore and prune manage the backups)')
      .usage('[destination] [--force] [--json]')
      // --force and --json are read from the words, not declared to commander: declared here, they would also
      // be taken from `backup list --json` (the program reads options after a subcommand's name).
      .argument('[destination]', 'a file, or a directory for memory-YYYY-MM-DD-HHMMSS.db (default: here)')
      .allowUnknownOption()
      .allowExcessArguments()
      .addHelpText('after', OPTIONS_HELP)
      .action(async (_destination: string | undefined, _options: unknown, command: Command) => {
        let args: BackupArgs;
        try {
          args = parseBackupArgs(command.args, 'nu-agent backup', CLI_BACKUP_WORDS);
        } catch (err) {
          cli.fail(err);
          process.exitCode = 2;
          return;
        }
        // A nu-agent REPL holding this database takes the backup itself (the database has one writer).
        const answered = await askRepl(cli, command, { op: 'backup', args: command.args, json: args.json });
        if (answered !== undefined) {
          process.exitCode = answered;
          return;
        }
        await backUp(args, command, cli);
      });
  },
};

async function backUp(args: BackupArgs, command: Command, cli: CliContext): Promise<void> {
  const global = cli.globalOptions(command);
  const lockPath = resolveDataPaths(process.env, global.database).backupLock;
  let lock: BackupLock | undefined;
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
      {
        makeOutput: (isDebug) => new TerminalOutput({ isDebug, isTTY: args.json ? false : undefined }),
        openError: heldByCommand('backup'),
      },
    );
  } finally {
    await lock?.release();
  }
}

/**
 * No REPL answered on the socket, yet something holds the database: a one-shot command, which cannot be asked.
 * Say that, with a Try line that fits, rather than the generic hint about another nu-agent.
 */
export function heldByCommand(op: string): (err: unknown) => unknown {
  return (err) =>
    isNuError(err) && err.code === 'DB_LOCKED' ? messages.databaseHeldByCommand(err.message, op, err) : err;
}
