import path from 'node:path';
import type { App, Output, Session } from '../app.js';
import { manageContext } from '../backup/backup-dirs.js';
import { exitCodeOf } from '../cli/backup-manage.js';
import { parseRestoreArgs } from '../ui/manage-args.js';
import { asError, messageOf, messages } from '../errors.js';
import { expandHome } from '../paths.js';
import { parseBackupArgs, runBackup } from '../repl/commands/backup.js';
import { runBackupRestore } from '../repl/commands/backup-restore.js';
import { recordedBackupPaths } from '../store/backup-runs.js';
import type { AutoCommandResult } from './commands.js';
import { toWireError } from '../../workers/shared/wire-error.js';
import type { Handler, HandlerContext } from './control-server.js';

// What the REPL does when another terminal asks it over the control socket (besides `auto-backup …`):
// `nu-agent backup …` and `nu-agent backup restore FILE` run here, in the process that holds the database, with
// their lines and progress streamed back to the asker; `backup list` learns where to look. The person at the
// REPL sees a notice when a backup or restore starts and ends; their chat waits meanwhile and says why.
// A restore arrives confirmed: the asking terminal confirmed it (or was given --yes) before it asked, so the
// REPL never puts a question to the person at its own prompt on someone else's behalf.

export interface Sources {
  /** Where list and prune look by default (backup directories and the asker's working directory). */
  directories: string[];
  /** Every backup this database recorded as made, wherever it was written. */
  recorded: string[];
}

export function serveControlRequests(app: App): Handler {
  return async (args, context) => {
    switch (context.op) {
      case 'backup':
        return remoteBackup(app, args, context);
      case 'restore':
        return remoteRestore(app, args, context);
      case 'sources':
        return { lines: [], data: await sourcesFor(app, context.cwd), exitCode: 0 };
      default:
        throw messages.controlNotServed(context.op);
    }
  };
}

export async function sourcesFor(app: App, cwd: string): Promise<Sources> {
  const directories = await manageContext(app, cwd).directories();
  return { directories, recorded: await recordedBackupPaths(app.store) };
}

/** Said to the asker, for whom "in this process" would mean their own. */
function refuseWhenBusy(app: App): void {
  if (app.backups.busy) throw messages.backupAlreadyRunning(`in the nu-agent REPL, pid ${process.pid}`);
}

async function remoteBackup(app: App, args: string[], context: HandlerContext): Promise<AutoCommandResult> {
  const parsed = parseBackupArgs(args);
  refuseWhenBusy(app);
  // Relative to where the asker typed it; no destination means the asker's working directory.
  parsed.destination = fromAsker(context.cwd, parsed.destination ?? '.');
  const from = asker(context);
  app.out.line(`Notice: a backup was asked ${from}; it runs now (chat waits while it holds the database).`);
  try {
    const outcome = await runBackup(parsed, onBehalf(app, context), context.askerGone, 'cli');
    app.out.line(`Notice: the backup asked ${from} is done: ${outcome.ok ? outcome.path : 'no backup was kept'}.`);
    return { lines: [], exitCode: 0 };
  } catch (err) {
    app.out.line(`Notice: the backup asked ${from} did not complete: ${messageOf(err)}.`);
    return { lines: [], error: asError(err), exitCode: 1 };
  }
}

async function remoteRestore(app: App, args: string[], context: HandlerContext): Promise<AutoCommandResult> {
  const { file, yes } = parseRestoreArgs(args);
  const resolved = fromAsker(context.cwd, file);
  if (!yes) throw messages.restoreNeedsConfirmation(resolved);
  refuseWhenBusy(app);
  const from = asker(context);
  app.out.line(`Notice: a restore of ${resolved} was asked ${from}; it runs now (chat waits until it is done).`);
  try {
    const result = await runBackupRestore([resolved, '--yes'], onBehalf(app, context), context.askerGone, 'cli');
    app.out.line(
      result.restored
        ? `Notice: the memory was restored from ${resolved} (asked ${from}); the next message starts a new conversation.`
        : `Notice: the restore asked ${from} changed nothing.`,
    );
    return { lines: [], data: { restored: result.restored }, exitCode: result.restored ? 0 : 1 };
  } catch (err) {
    app.out.line(`Notice: the restore asked ${from} did not complete: ${messageOf(err)}.`);
    return { lines: [], error: asError(err), exitCode: exitCodeOf(err) };
  }
}

/**
 * The App as a command run for the asker sees it: its lines go to the asker, and nobody here can be asked a
 * question. The conversation is the REPL's own (a restore starts a new one there).
 */
function onBehalf(app: App, context: HandlerContext): App {
  const out: Output = {
    isTTY: false,
    line: (text) => context.output({ line: text }),
    error: (err) => context.output({ error: toWireError(err) }),
    debug: (text) => app.out.debug(text),
  };
  const session: Session = {
    get conversationId() {
      return app.session.conversationId;
    },
    set conversationId(id) {
      app.session.conversationId = id;
    },
    ask: undefined,
  };
  return { ...app, out, session };
}

function fromAsker(cwd: string, file: string): string {
  const resolved = path.resolve(cwd, expandHome(file));
  // `dir/` names a directory that may not exist yet; keep the slash that says so.
  return file.endsWith('/') && !resolved.endsWith('/') ? `${resolved}/` : resolved;
}

function asker(context: HandlerContext): string {
  return `from another terminal${context.pid ? ` (pid ${context.pid})` : ''}`;
}
