import type { Command } from 'commander';
import type { Output } from '../app.js';
import type { AutoCommandResult } from '../auto-backup/commands.js';
import { AUTO_USAGE } from '../auto-backup/commands.js';
import { askRunningAgent } from '../auto-backup/control-client.js';
import { controlSocketPath } from '../auto-backup/control-protocol.js';
import { createRunDisplay } from '../repl/run-display.js';
import type { BackupEvent } from '../backup/types.js';
import { fromWireError, isNuError, messages } from '../errors.js';
import { resolveDataPaths } from '../paths.js';
import { TerminalOutput } from '../repl/terminal-output.js';
import type { CliContext, CliSubcommand } from './context.js';

// `nu-agent auto-backup status|enable|disable|run|cron|retention|dir|…`: what a user runs from a shell, and what
// cron or a systemd timer runs (`nu-agent auto-backup run`). DuckDB allows one writer, so when a nu-agent is
// already running on this database the command must not open it: it asks that nu-agent over the control
// socket and prints its progress and result. Only when no nu-agent answers for this database does it open the
// database itself, and then it runs through the same BackupService, records the same state and prunes the same
// way as the scheduler.

const HELP = `
Commands:
  status                 settings, next run, last run and result, backups and what prune would remove
  enable | disable       turn scheduled backups on or off (they run while nu-agent is open)
  run                    back up now into the backup directory, then apply retention
  cron "<expr>"          when to back up, e.g. "0 2 * * *" (quote it: the shell expands *)
  retention <days>       remove automatic backups older than this after each success
  keep <n>               but always keep the newest n
  dir <path>             where automatic backups go
  keep-rules <rules>     restic-style retention instead of days, e.g. keep-rules keep-daily=7 keep-weekly=4
                         keep-within=1y (also --keep-last/-hourly/-monthly/-yearly N); "none" to go back
  timezone <zone>        "local" or e.g. Europe/Berlin
  pause-timeout <s>      seconds to wait for the background workers to pause
  resume-timeout <s>     seconds to wait for them to resume
  notify ping <url|off>  healthchecks-style pings: <url>/start, <url> on success, <url>/fail on failure
  notify webhook <url|off>  POST each result as JSON to this URL
  notify test            send a test notification now and say whether it arrived
  reverify <every>       re-verify stored backups after a backup: off, daily, weekly, monthly or <days>
  reverify max-size <n>  at most this much re-read per pass (e.g. 2GiB); max-time <t> likewise (e.g. 10m)
  reverify now           re-verify now (oldest verification first)

With nu-agent open, the command goes to it (a control socket in the data directory); otherwise it opens the
database itself. For backups without nu-agent open, add to your crontab:
  0 2 * * * nu-agent auto-backup run

Exit codes: 0 success, 1 failure (see Error:/Try: on stderr), 75 skipped because another backup was running.`;

export const autoBackupSubcommand: CliSubcommand = {
  name: 'auto-backup',
  register(program: Command, cli: CliContext) {
    program
      .command('auto-backup')
      .description('scheduled backups: status, enable, disable, run, and their settings')
      .argument('[words...]', AUTO_USAGE.replace(/^auto /, ''))
      .option('--json', 'print the result as JSON')
      // `keep-rules --keep-daily 7` passes restic's flags through as words; the setting's parser checks them.
      .allowUnknownOption()
      .addHelpText('after', HELP)
      .action(async (words: string[], options: { json?: boolean }, command: Command) => {
        await runAutoBackupCli(words.length > 0 ? words : ['status'], Boolean(options.json), command, cli);
      });
  },
};

async function runAutoBackupCli(args: string[], json: boolean, command: Command, cli: CliContext): Promise<void> {
  const debug = Boolean(cli.globalOptions(command).debug);
  const paths = resolveDataPaths(process.env, cli.globalOptions(command).database);
  const out = new TerminalOutput({ isDebug: () => debug });
  const display = json ? undefined : createRunDisplay(out);

  let asked;
  try {
    asked = await askRunningAgent({
      socketPath: controlSocketPath(paths),
      database: paths.database,
      args,
      cwd: process.cwd(),
      onEvent: display?.onEvent,
    });
  } catch (err) {
    cli.fail(err, debug);
    return;
  } finally {
    display?.stop();
  }

  if (asked.kind === 'answered') {
    const { result, hello } = asked;
    out.debug(`answered by nu-agent pid ${hello.pid} over ${controlSocketPath(paths)}`);
    process.exitCode = show(out, json, {
      ...result,
      error: result.error ? fromWireError(result.error) : undefined,
    });
    return;
  }

  out.debug(`no nu-agent answers for this database (${asked.why}); opening it here`);
  await cli.withApp(
    command,
    async (app, signal) => {
      const progress = json ? undefined : createRunDisplay(app.out, { signal });
      try {
        const onEvent = progress ? (e: BackupEvent) => progress.onEvent(e) : undefined;
        const result = await app.autoBackup.command(args, {
          cwd: process.cwd(),
          trigger: 'external',
          onEvent,
          signal,
          oneShot: true,
        });
        return show(app.out, json, result);
      } finally {
        progress?.stop();
      }
    },
    {
      // No nu-agent answered on the socket, yet something holds the database: a one-shot command, which cannot
      // be asked. Say that, rather than the usual hint to use this very command.
      openError: (err) =>
        isNuError(err) && err.code === 'DB_LOCKED' ? messages.autoBackupDatabaseBusy(err.message, err) : err,
    },
  );
}

/** Prints the result (lines or JSON, then the error) and returns the exit code. */
function show(out: Output, json: boolean, result: AutoCommandResult): number {
  if (json) out.line(JSON.stringify(result.data ?? null, null, 2));
  else for (const line of result.lines) out.line(line);
  if (result.error) out.error(result.error);
  return result.exitCode;
}
