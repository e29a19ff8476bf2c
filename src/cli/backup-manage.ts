import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Command } from 'commander';
import type { Output } from '../app.js';
import { acquireBackupLock } from '../backup/backup-lock.js';
import type { BackupLock } from '../backup/backup-lock.js';
import type { Ask } from '../backup/restore.js';
import { isNuError } from '../errors.js';
import { resolveDataPaths } from '../paths.js';
import { runBackupRestore } from '../repl/commands/backup-restore.js';
import { listBackups } from '../repl/commands/backup-list.js';
import { pruneWithArgs } from '../repl/commands/backup-prune.js';
import { runBackupVerify } from '../repl/commands/backup-verify.js';
import { parseListArgs, parsePruneArgs, parseRestoreArgs, parseVerifyArgs } from '../backup/manage-args.js';
import { checkRetentionPolicy } from '../backup/retention.js';
import { heldByCommand } from './backup.js';
import { prunePolicyOf } from '../backup/keep-rules.js';
import type { CliContext, CliSubcommand } from './context.js';
import { restoreViaRepl } from './restore-via-repl.js';
import { cliManageContext, runWithoutApp } from './manage-context.js';

// `nu-agent backup list|verify|prune|restore …`: backup management without the REPL, for scripts and cron.
// list, verify and prune never open the database (manage-context.ts), so they also run while a nu-agent is open;
// restore opens it like `nu-agent backup` does, under the backup lock.
// They hang under the `backup` command of src/cli/backup.ts (or create it, when that is not registered), so
// `nu-agent backup <dest>` keeps meaning "make a backup" and these words are never taken for a destination.
//
// Exit codes (documented in `nu-agent backup --help`; scripts can rely on them):
//   0  success (verify: the backup is intact; prune: everything planned was removed)
//   1  failure (the reason is on stderr as `Error:` and `Try:`; a restore put the previous database back)
//   2  usage: bad arguments, or a restore that needs confirmation with no terminal to ask and no --yes
//   3  verification failed (verify's verdict, or a restore refused because the backup did not verify)

export const EXIT = { ok: 0, failure: 1, usage: 2, verifyFailed: 3 } as const;

export const EXIT_CODES_HELP = `
Exit codes of backup list|verify|prune|restore:
  0  success
  1  failure (see the Error: and Try: lines on stderr)
  2  usage error, or a restore that needs --yes without a terminal to confirm on
  3  the backup failed verification`;

/** Maps what a management command threw to its exit code (and prints it). */
export function exitCodeFor(err: unknown, out: Output): number {
  out.error(err);
  return exitCodeOf(err);
}

/** The exit code for what a management command threw (also for a restore run by a REPL on our behalf). */
export function exitCodeOf(err: unknown): number {
  if (!isNuError(err)) return EXIT.failure;
  // A remote object that is not what was uploaded is a failed verification too (src/offsite/download.ts).
  if (['BACKUP_VERIFY_FAILED', 'OFFSITE_TAMPERED', 'ENCRYPTED_BACKUP_TAMPERED'].includes(err.code))
    return EXIT.verifyFailed;
  if (
    err.code === 'USAGE' ||
    err.code === 'OFFSITE_BAD_URL' ||
    err.code.startsWith('PRUNE_') ||
    err.code === 'RESTORE_NEEDS_CONFIRMATION'
  )
    return EXIT.usage;
  return EXIT.failure;
}

/** Argument errors are found before the database is opened, and exit 2. */
function checkedArgs<T>(cli: CliContext, command: Command, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (err) {
    cli.fail(err, Boolean(cli.globalOptions(command).debug));
    process.exitCode = EXIT.usage;
    return undefined;
  }
}

function asArgs(positional: (string | undefined)[], flags: Record<string, string | boolean | undefined>): string[] {
  const args = positional.filter((p): p is string => p !== undefined);
  for (const [name, value] of Object.entries(flags)) {
    if (value === true) args.push(`--${name}`);
    else if (typeof value === 'string') args.push(`--${name}`, value);
  }
  return args;
}

export function registerManagement(backup: Command, cli: CliContext): void {
  const sub = (name: string, description: string) =>
    backup
      .command(name)
      .description(description)
      // Commander's own usage errors (unknown option, missing argument) exit 2 like ours; it has printed the
      // error already, and nothing has been opened yet, so leaving at once loses nothing.
      .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.usage));

  sub('list', 'list the backups nu-agent made, flagging damaged, missing and foreign files')
    .argument('[dir]', 'a directory to list instead of the backup directory and the working directory')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string | undefined, options: { json?: boolean }, command: Command) => {
      const args = asArgs([dir], { json: options.json });
      if (!checkedArgs(cli, command, () => parseListArgs(args))) return;
      await runWithoutApp(
        cli,
        command,
        async (out) => {
          await listBackups(args, cliManageContext(cli, command, out));
          return EXIT.ok;
        },
        exitCodeFor,
        options.json,
      );
    });

  sub('verify', 'check a backup against its manifest: size, hash, and every row read in DuckDB')
    .argument('<file>', 'the backup file (its .manifest.json must be beside it)')
    .option('--json', 'print JSON for scripts')
    .action(async (file: string, options: { json?: boolean }, command: Command) => {
      const args = asArgs([file], { json: options.json });
      if (!checkedArgs(cli, command, () => parseVerifyArgs(args))) return;
      await runWithoutApp(
        cli,
        command,
        async (out, signal) => {
          const outcome = await runBackupVerify(args, { out }, signal);
          return outcome.ok ? EXIT.ok : EXIT.verifyFailed;
        },
        exitCodeFor,
        options.json,
      );
    });

  sub('prune', 'delete old backups nu-agent made (never the newest, never all, never a foreign file)')
    .option('--keep-last <n>', 'keep the n newest verified backups (restic)')
    .option('--keep-hourly <n>', 'keep the newest backup of each of the n newest hours that have one')
    .option('--keep-daily <n>', 'keep the newest backup of each of the n newest days that have one')
    .option('--keep-weekly <n>', 'the same per ISO week (Monday to Sunday)')
    .option('--keep-monthly <n>', 'the same per calendar month')
    .option('--keep-yearly <n>', 'the same per calendar year')
    .option('--keep-within <duration>', 'keep every backup newer than this before the newest one, e.g. 30d, 1y2m')
    .option('--keep <n>', 'the same as --keep-last')
    .option('--older-than <days>', 'remove backups created more than this many days ago')
    .option('--dry-run', 'print what would be removed; delete nothing')
    .option('--dir <dir>', 'prune this directory instead of the backup directory and the working directory')
    .option('--json', 'print JSON for scripts')
    .action(async (options: Record<string, string | boolean | undefined>, command: Command) => {
      const args = asArgs([], {
        keep: options.keep,
        'keep-last': options.keepLast,
        'keep-hourly': options.keepHourly,
        'keep-daily': options.keepDaily,
        'keep-weekly': options.keepWeekly,
        'keep-monthly': options.keepMonthly,
        'keep-yearly': options.keepYearly,
        'keep-within': options.keepWithin,
        'older-than': options.olderThan,
        'dry-run': options.dryRun,
        dir: options.dir,
        json: options.json,
      });
      const parsed = checkedArgs(cli, command, () => {
        const p = parsePruneArgs(args);
        checkRetentionPolicy(prunePolicyOf(p));
        return p;
      });
      if (!parsed) return;
      await runWithoutApp(
        cli,
        command,
        async (out) => {
          const result = await pruneWithArgs(args, cliManageContext(cli, command, out));
          return result.failed.length > 0 ? EXIT.failure : EXIT.ok;
        },
        exitCodeFor,
        Boolean(options.json),
      );
    });

  sub('restore', 'replace the memory with a backup: verify, confirm, safety backup, then swap it in')
    .argument('<file>', 'the backup file (its .manifest.json must be beside it)')
    .option('--yes', 'do not ask for confirmation (needed when there is no terminal)')
    .action(async (file: string, options: { yes?: boolean }, command: Command) => {
      const args = asArgs([file], { yes: options.yes });
      if (!checkedArgs(cli, command, () => parseRestoreArgs(args))) return;
      // A nu-agent REPL holding this database restores on our behalf, once confirmed here (restore-via-repl.ts).
      const viaRepl = await restoreViaRepl(cli, command, file, Boolean(options.yes), terminalAsk());
      if (viaRepl !== undefined) {
        process.exitCode = viaRepl;
        return;
      }
      // Like `nu-agent backup`: the lock first, so this process never opens the file during another one's
      // closed window (that one's reopen would fail). A fresh data directory has nothing to lock yet.
      const { database, backupLock } = resolveDataPaths(process.env, cli.globalOptions(command).database);
      let lock: BackupLock | undefined;
      try {
        if (fs.existsSync(path.dirname(database))) lock = await acquireBackupLock(backupLock);
      } catch (err) {
        cli.fail(err, Boolean(cli.globalOptions(command).debug));
        return;
      }
      try {
        await cli.withApp(
          command,
          async (app, signal) => {
            app.session.ask = terminalAsk();
            try {
              const result = await runBackupRestore(args, app, signal, 'cli');
              return result.restored ? EXIT.ok : EXIT.failure;
            } catch (err) {
              return exitCodeFor(err, app.out);
            }
          },
          { openError: heldByCommand('restore') },
        );
      } finally {
        await lock?.release();
      }
    });

  backup.addHelpText('after', EXIT_CODES_HELP);
}

/** A yes/no question on the terminal, when there is one at both ends; otherwise nobody can answer. */
function terminalAsk(): Ask | undefined {
  if (!process.stdin.isTTY || !process.stdout.isTTY) return undefined;
  return (question, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve(undefined);
      const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
      // The first of answer, Ctrl-C, Ctrl-D or abort settles it. Closing the interface emits 'close' at once,
      // so the answer must be taken before closing, or the close would answer "nobody" in its place.
      let settled = false;
      const finish = (answer: string | undefined) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', aborted);
        resolve(answer);
        rl.close();
      };
      const aborted = () => finish(undefined);
      signal.addEventListener('abort', aborted, { once: true });
      rl.once('close', () => finish(undefined));
      // Ctrl-C at the question: readline eats it in raw mode, so it is a "no" here rather than nothing at all.
      rl.once('SIGINT', () => {
        process.stdout.write('\n');
        finish(undefined);
      });
      rl.question(question, finish);
    });
}

/** Registered after src/cli/backup.ts: attaches to its `backup` command, or makes a bare one. */
export const backupManageSubcommand: CliSubcommand = {
  name: 'backup-manage',
  register(program, cli) {
    let backup = program.commands.find((c) => c.name() === 'backup');
    if (!backup) {
      backup = new Command('backup').description('manage backups of the memory database');
      program.addCommand(backup);
    }
    registerManagement(backup, cli);
  },
};
