import nodePath from 'node:path';

// One error type for the whole application, in the manner of Litestream's LTXError: what we were doing (op),
// the file it concerns (path), what the user can do about it (hint) and the underlying cause.
// Fixed messages live in the `messages` table below so that tests can match them by pattern;
// src/report.ts is the one place that turns any error into `Error: …` / `Try: …` lines.

/**
 * Every code the `messages` table gives, read from the table itself: comparing `err.code` with a code that no
 * message has (a typo, a code since renamed) fails to compile. REMOTE_ERROR is an error another nu-agent
 * process reported without a code (see fromWireError).
 */
export type NuErrorCode =
  { [K in keyof typeof messages]: ReturnType<(typeof messages)[K]>['code'] }[keyof typeof messages] | 'REMOTE_ERROR';

export interface NuErrorOptions<Code extends string = NuErrorCode> {
  code: Code;
  hint?: string | undefined;
  path?: string | undefined;
  op?: string | undefined;
  cause?: unknown;
}

export class NuError<Code extends string = NuErrorCode> extends Error {
  readonly code: Code;
  readonly hint: string | undefined;
  readonly path: string | undefined;
  readonly op: string | undefined;

  constructor(message: string, options: NuErrorOptions<Code>) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NuError';
    this.code = options.code;
    this.hint = options.hint;
    this.path = options.path;
    this.op = options.op;
  }
}

export function isNuError(err: unknown): err is NuError {
  return err instanceof NuError;
}

/** The message of any thrown value, without a stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Any thrown value as an Error, for the places that keep or pass one on. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Node's errno code (ENOENT, EACCES, ENOSPC…) of a thrown value, if it has one. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** A path as a shell word: quoted only when it needs to be, so a Try line can be pasted as it is. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./~-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * An error that another nu-agent process reported over the control socket. Its code came from this same
 * table in that process, so it is taken as one of ours; it keeps no stack, since ours would point here.
 */
export function fromWireError(wire: {
  message: string;
  code?: string | undefined;
  hint?: string | undefined;
}): NuError {
  const error = new NuError(wire.message, {
    code: (wire.code as NuErrorCode | undefined) ?? 'REMOTE_ERROR',
    hint: wire.hint,
  });
  error.stack = '';
  return error;
}

const e = <Code extends string>(
  code: Code,
  message: string,
  hint?: string,
  extra: Omit<NuErrorOptions<string>, 'code' | 'hint'> = {},
): NuError<Code> => new NuError<Code>(message, { code, hint, ...extra });

/** Fixed messages. Each returns a NuError; callers add `cause` where one exists. */
export const messages = {
  // ---- The memory database: opening, holding, closing ----
  databaseNotDuckDB: (path: string, cause?: unknown) =>
    e(
      'DB_NOT_DUCKDB',
      `${path} is not a DuckDB database file`,
      'Point --database (or NUAGENT_DATABASE) at a nu-agent memory file, or move this file away.',
      { path, cause, op: 'open' },
    ),
  databaseForeign: (path: string) =>
    e(
      'DB_FOREIGN',
      `${path} is a DuckDB database, but not a nu-agent memory file`,
      'Point --database (or NUAGENT_DATABASE) at a nu-agent memory file; this one was left unchanged.',
      { path, op: 'open' },
    ),
  databaseLocked: (path: string, holder: string, cause?: unknown) =>
    e(
      'DB_LOCKED',
      `${path} is in use by another process${holder ? ` (${holder})` : ''}`,
      'Close the other nu-agent first, or work in that one.',
      { path, cause, op: 'open' },
    ),
  databaseDirUnwritable: (dir: string, cause?: unknown) =>
    e(
      'DB_DIR_UNWRITABLE',
      `cannot write to the database directory ${dir}`,
      'Fix its permissions, or choose another place with NUAGENT_HOME or --database.',
      { path: dir, cause, op: 'open' },
    ),
  databaseDirMissing: (dir: string) =>
    e(
      'DB_DIR_MISSING',
      `the database directory ${dir} does not exist`,
      `Create it first (mkdir -p ${shellWord(dir)}), or check --database (or NUAGENT_DATABASE) for a typo.`,
      { path: dir, op: 'open' },
    ),
  databaseFileReadOnly: (file: string, cause?: unknown) =>
    e(
      'DB_FILE_READ_ONLY',
      `cannot write to the database file ${file}`,
      `Make it writable (chmod u+rw ${file}), or choose another file with --database.`,
      { path: file, cause, op: 'open' },
    ),
  databaseOpenFailed: (path: string, cause: unknown) =>
    e(
      'DB_OPEN_FAILED',
      `cannot open ${path}: ${messageOf(cause)}`,
      'Check that the file is readable and the disk is not full.',
      {
        path,
        cause,
        op: 'open',
      },
    ),
  databaseClosed: (op: string) =>
    e(
      'DB_CLOSED',
      `the database is closed (${op})`,
      'This is a bug in nu-agent: please report it with /debug on output.',
      {
        op,
      },
    ),
  databaseLost: (path: string, cause: unknown) =>
    e(
      'DB_LOST',
      `the database could not be reopened after a backup or restore: ${messageOf(cause)}`,
      `Your memory is intact in ${path}. Quit nu-agent (/exit) and start it again once nothing else holds that file.`,
      { path, cause, op: 'reopen' },
    ),
  databaseHeldByCommand: (lockedMessage: string, op: string, cause: unknown) =>
    e(
      'DB_HELD_BY_COMMAND',
      `${lockedMessage}, and that process does not take requests (only an open nu-agent REPL answers on the control socket)`,
      'Run it again when that process has finished (a one-shot command such as `nu-agent backup` holds the database only while it runs).',
      { cause, op },
    ),
  walRemains: (path: string) =>
    e(
      'WAL_REMAINS',
      `a write-ahead log is still present after closing (${path}); the .db file alone would miss commits`,
      'Run the backup again; if it persists, restart nu-agent so DuckDB can replay and checkpoint the log.',
      { path, op: 'close' },
    ),
  databaseIncomplete: (path: string, detail: string) =>
    e(
      'DB_INCOMPLETE',
      `${path} is damaged and was not opened: ${detail}`,
      `\`nu-agent backup list\` shows your backups; move the damaged file aside (mv ${path} ${path}.damaged), ` +
        'then `nu-agent backup restore <file>`. Opening it would store new conversations in a file that has lost data.',
      { path, op: 'open' },
    ),
  databaseForeignLog: (path: string, what: string) =>
    e(
      'DB_FOREIGN_LOG',
      `${path} is ${what}, not a write-ahead log nu-agent wrote; the database was not opened, so nothing was replayed from it`,
      `If you did not put it there, someone else may have: move it aside (mv ${path} ${path}.foreign) and start nu-agent again; keep your memory in a directory only you can write.`,
      { path, op: 'open' },
    ),
  databaseCopyFailed: (path: string, cause: unknown) =>
    e(
      'DB_WAL_COPY_FAILED',
      `could not keep a copy of ${path} before opening the database (its write-ahead log needs checking): ${messageOf(cause)}`,
      'Free some space beside the database (or fix the directory permissions) and start nu-agent again; nothing was opened or changed.',
      { path, cause, op: 'open' },
    ),
  schemaTooNew: (path: string, found: number, known: number) =>
    e(
      'SCHEMA_TOO_NEW',
      `${path} has schema version ${found}, newer than this nu-agent understands (${known})`,
      'Upgrade nu-agent; nothing was changed in the file.',
      { path, op: 'migrate' },
    ),
  migrationFailed: (path: string, version: number, description: string, cause: unknown) =>
    e(
      'MIGRATION_FAILED',
      `migration ${version} (${description}) failed: ${String(cause)}`,
      'The file was left at its previous schema version; report this with the message above.',
      { path, op: 'migrate', cause },
    ),
  // ---- Commands and their arguments, in the REPL and at a shell ----
  // One line, exactly as users know it from other REPLs; the hint is part of the sentence.
  unknownCommand: (name: string) => e('UNKNOWN_COMMAND', `Unknown command: ${name}. Try /help.`),
  // A word that looks like a mistyped subcommand rather than a file name: `/backup lst` must not write a file named lst.
  backupWordTypo: (command: string, word: string, suggestion: string) =>
    e(
      'USAGE',
      `"${word}" is not a ${command} command; did you mean ${suggestion}?`,
      `To write a backup file named ${word}, give it as a path: ${command} ./${word}`,
    ),
  unknownCliCommand: (word: string, suggestion: string | undefined) =>
    e(
      'UNKNOWN_COMMAND',
      `unknown command "${word}"${suggestion ? `; did you mean nu-agent ${suggestion}?` : ''}`,
      'nu-agent --help lists the commands; nu-agent with no command opens the REPL.',
    ),
  usage: (usage: string) => e('USAGE', `usage: ${usage}`, '/help lists every command (nu-agent --help, at a shell).'),
  cancelled: (what: string) => e('CANCELLED', `${what} was cancelled`),
  // ---- The chat model ----
  llmModelMissing: () =>
    e(
      'LLM_MODEL_MISSING',
      'NUAGENT_LLM_URL is set but NUAGENT_LLM_MODEL is not',
      'Set NUAGENT_LLM_MODEL to a model the server has (for example llama3.2), or unset NUAGENT_LLM_URL to run offline.',
    ),
  llmBadSetting: (name: string, value: string, example: string) =>
    e('LLM_BAD_SETTING', `${name} is not valid: ${value}`, `Use for example ${name}=${example}.`),
  llmUnreachable: (url: string, reason: string, cause?: unknown) =>
    e(
      'LLM_UNREACHABLE',
      `cannot reach the model server at ${url} (${reason})`,
      'Start the model server, or check NUAGENT_LLM_URL.',
      {
        cause,
        op: 'chat',
      },
    ),
  llmHttpStatus: (url: string, status: number, detail: string) =>
    e(
      'LLM_HTTP_STATUS',
      `the model server at ${url} answered HTTP ${status}${detail ? `: ${detail}` : ''}`,
      status === 401 || status === 403
        ? 'Check NUAGENT_LLM_API_KEY.'
        : status === 404
          ? 'Check NUAGENT_LLM_URL (it should end in /v1) and that NUAGENT_LLM_MODEL exists on the server.'
          : "Look at the model server's log, then try again.",
      { op: 'chat' },
    ),
  llmStreamError: (url: string, detail: string) =>
    e(
      'LLM_STREAM_ERROR',
      `the model server at ${url} stopped its reply with an error${detail ? `: ${detail}` : ''}`,
      "Look at the model server's log, then try again.",
      { op: 'chat' },
    ),
  llmBadResponse: (url: string, detail: string, cause?: unknown) =>
    e(
      'LLM_BAD_RESPONSE',
      `the model server at ${url} sent a reply that is not an OpenAI chat completion (${detail})`,
      'Check that NUAGENT_LLM_URL points at an OpenAI-compatible endpoint (/v1/chat/completions).',
      { cause, op: 'chat' },
    ),
  llmTimeout: (url: string, timeoutMs: number) =>
    e(
      'LLM_TIMEOUT',
      `the model server at ${url} did not answer within ${Math.round(timeoutMs / 100) / 10} s`,
      'Send it again, or allow more time with NUAGENT_LLM_TIMEOUT (seconds).',
      { op: 'chat' },
    ),
  // ---- The background workers and embeddings ----
  workersNotPaused: (names: string[], timeoutMs: number) =>
    e(
      'WORKERS_NOT_PAUSED',
      `background workers did not pause within ${timeoutMs} ms: ${names.join(', ')}`,
      `Nothing was copied. Try again, or stop the worker first (/worker ${names[0] ?? '<name>'} stop).`,
      { op: 'pause workers' },
    ),
  workersUnhealthy: (names: string[], timeoutMs: number) =>
    e(
      'WORKERS_UNHEALTHY',
      `background workers did not answer within ${timeoutMs} ms after resuming: ${names.join(', ')}; restarting them`,
      'Check /worker status in a moment; the workers are started again automatically.',
      { op: 'resume workers' },
    ),
  unknownWorker: (name: string, known: string[]) =>
    e('UNKNOWN_WORKER', `no background worker named ${name}`, `The workers are: ${known.join(', ')}.`),
  embeddingsModelMissing: () =>
    e(
      'EMBEDDINGS_MODEL_MISSING',
      'NUAGENT_EMBEDDINGS_URL is set but NUAGENT_EMBEDDINGS_MODEL is not',
      'Set NUAGENT_EMBEDDINGS_MODEL (for example text-embedding-3-small), or unset NUAGENT_EMBEDDINGS_URL to use the local embedding.',
    ),
  embeddingsFailed: (url: string, detail: string, cause?: unknown) =>
    e(
      'EMBEDDINGS_FAILED',
      `the embeddings endpoint at ${url} failed: ${detail}`,
      'Check NUAGENT_EMBEDDINGS_URL, NUAGENT_EMBEDDINGS_MODEL and NUAGENT_EMBEDDINGS_API_KEY; failed items are retried later.',
      { cause, op: 'embed' },
    ),
  // ---- Making a backup: refusals before anything is paused, the backup lock, then the failure of each step ----
  backupAlreadyRunning: (holder: string) =>
    e(
      'BACKUP_RUNNING',
      `a backup is already running${holder ? ` (${holder})` : ''}`,
      'Wait for it to finish, then try again.',
      { op: 'backup' },
    ),
  backupHolderStopped: (holder: string, pid: number) =>
    e(
      'BACKUP_RUNNING',
      `a backup is already running (${holder}), and that process is stopped (suspended, e.g. by Ctrl-Z)`,
      `Resume it (\`fg\` in its terminal, or \`kill -CONT ${pid}\`) so it can finish, or end it (\`kill ${pid}\`); then try again.`,
      { op: 'backup' },
    ),
  backupLockElsewhere: (holder: string, lockPath: string) =>
    e(
      'BACKUP_RUNNING',
      `a backup is already running (${holder}); nu-agent cannot see whether a process on another host is alive, so it never takes its lock over`,
      `Wait for it to finish. If no nu-agent runs there any more, remove ${lockPath} and try again.`,
      { path: lockPath, op: 'backup' },
    ),
  backupLockUnknown: (lockPath: string, why: string) =>
    e(
      'BACKUP_RUNNING',
      `the backup lock ${lockPath} is held, but ${why}`,
      `If no nu-agent is backing up or restoring this database, remove ${lockPath} and try again.`,
      { path: lockPath, op: 'backup' },
    ),
  backupLockForeign: (lockPath: string, why: string, otherUser: string | undefined) =>
    otherUser
      ? e(
          'BACKUP_LOCK_FOREIGN',
          `the backup lock ${lockPath} belongs to ${otherUser}, not to you: nu-agent did not make it, and it never trusts or removes a lock another user made, so no backup or restore of this database can run while it is there`,
          `Ask ${otherUser} or an administrator to remove ${lockPath}. Other users can create files in ${nodePath.dirname(lockPath)}: keep the database in a directory only you can write.`,
          { path: lockPath, op: 'backup' },
        )
      : e(
          'BACKUP_LOCK_FOREIGN',
          `the backup lock ${lockPath} was not made by nu-agent: ${why}`,
          `If no nu-agent is backing up or restoring this database, remove ${lockPath} and try again.`,
          { path: lockPath, op: 'backup' },
        ),
  backupLockLost: (lockPath: string, why: string) =>
    e(
      'BACKUP_LOCK_LOST',
      `the backup lock ${lockPath} was lost while this run held it (${why}); stopped before changing anything`,
      'Check that no other program removes files beside the database, then try again.',
      { path: lockPath, op: 'backup' },
    ),
  backupSourceMissing: (path: string) =>
    e('BACKUP_SOURCE_MISSING', `Database file not found: ${path}`, 'Check --database or NUAGENT_DATABASE.', {
      path,
      op: 'backup',
    }),
  backupSourceUnreadable: (path: string, cause?: unknown) =>
    e('BACKUP_SOURCE_UNREADABLE', `Cannot read database file: ${path}`, 'Check the file and its permissions.', {
      path,
      cause,
      op: 'backup',
    }),
  backupOntoLive: (destination: string, live: string) =>
    e(
      'BACKUP_ONTO_LIVE',
      `${destination} is the live database${destination === live ? '' : ` (${live})`}; copying onto it would destroy it`,
      'Choose a destination outside the database file, for example /backup ~/nuagent-backups/',
      { path: destination, op: 'backup' },
    ),
  backupOntoWal: (destination: string, wal: string) =>
    e(
      'BACKUP_ONTO_WAL',
      `${destination} is the live database's write-ahead log (${wal})`,
      'Choose another destination; the .wal file beside the database belongs to DuckDB.',
      { path: destination, op: 'backup' },
    ),
  backupOntoOwnFile: (destination: string, what: string) =>
    e(
      'BACKUP_ONTO_OWN_FILE',
      `${destination} is ${what}; nu-agent keeps its own files there`,
      'Choose another destination, for example /backup ~/nuagent-backups/',
      { path: destination, op: 'backup' },
    ),
  backupPathUnusable: (destination: string, reason: string) =>
    e(
      'BACKUP_PATH_UNUSABLE',
      `cannot use ${destination} as a destination: ${reason}`,
      'Choose a shorter, plain path.',
      {
        path: destination,
        op: 'backup',
      },
    ),
  backupExists: (destination: string) =>
    e('BACKUP_EXISTS', `${destination} already exists`, 'Add --force to replace it, or choose another name.', {
      path: destination,
      op: 'backup',
    }),
  backupNotAFile: (destination: string) =>
    e('BACKUP_NOT_A_FILE', `${destination} exists and is not a regular file`, 'Choose another destination.', {
      path: destination,
      op: 'backup',
    }),
  backupDirUncreatable: (dir: string, reason: string) =>
    e('BACKUP_DIR_UNCREATABLE', `Cannot create destination directory ${dir}: ${reason}`, 'Choose another place.', {
      path: dir,
      op: 'backup',
    }),
  backupDirMissing: (dir: string) =>
    e(
      'BACKUP_DIR_MISSING',
      `the destination directory ${dir} does not exist`,
      `Create it first (mkdir -p ${shellWord(dir)}), or check the path for a typo.`,
      { path: dir, op: 'backup' },
    ),
  backupDirNotStorage: (dir: string) =>
    e(
      'BACKUP_DIR_NOT_STORAGE',
      `${dir} is on a file system that holds no files of its own (such as /proc or /sys)`,
      'Choose a directory on a disk.',
      { path: dir, op: 'backup' },
    ),
  backupDirUnwritable: (dir: string) =>
    e(
      'BACKUP_DIR_UNWRITABLE',
      `Destination directory is not writable: ${dir}`,
      'Choose a directory you can write to, or fix its permissions.',
      { path: dir, op: 'backup' },
    ),
  backupNoSpace: (dir: string, need: string, have: string) =>
    e(
      'BACKUP_NO_SPACE',
      `Insufficient disk space in ${dir} (need ${need}, have ${have})`,
      'Free some space there, or back up to another disk.',
      { path: dir, op: 'backup' },
    ),
  backupPauseFailed: (cause: unknown) =>
    e(
      'BACKUP_PAUSE_FAILED',
      `the background workers did not pause: ${messageOf(cause)}`,
      'Nothing was copied and the workers run again. Try again in a moment; /worker status shows what they do.',
      { cause, op: 'pause workers' },
    ),
  backupHoldFailed: (cause: unknown) =>
    e(
      'BACKUP_HOLD_FAILED',
      `the database stayed busy: ${messageOf(cause)}`,
      'Nothing was copied. Try again when the current chat turn has finished.',
      { cause, op: 'hold database' },
    ),
  backupCheckpointFailed: (path: string, cause: unknown) =>
    e(
      'BACKUP_CHECKPOINT_FAILED',
      `the checkpoint before the copy failed: ${messageOf(cause)}`,
      'Nothing was copied and the database is open again. Try again.',
      { path, cause, op: 'checkpoint' },
    ),
  backupCopyFailed: (destination: string, cause: unknown, noSpace: boolean) =>
    e(
      'BACKUP_COPY_FAILED',
      `copying the database to ${destination} failed: ${messageOf(cause)}`,
      noSpace
        ? 'Free some space at the destination, or back up to another disk; nothing was left there.'
        : 'Nothing was left at the destination; try again.',
      { path: destination, cause, op: 'copy' },
    ),
  backupCopyUnverified: (destination: string, details: string) =>
    e(
      'BACKUP_COPY_UNVERIFIED',
      `the copy for ${destination} did not match the database (${details}); it was deleted`,
      'The database itself is unchanged. Try again; if it happens again, check that disk (for example with dmesg).',
      { path: destination, op: 'verify' },
    ),
  backupCommitFailed: (destination: string, cause: unknown) =>
    e(
      'BACKUP_COMMIT_FAILED',
      `could not put the verified copy in place at ${destination}: ${messageOf(cause)}`,
      'Nothing was left at the destination; try again or choose another place.',
      { path: destination, cause, op: 'rename' },
    ),
  backupReopenFailed: (database: string, backup: string | undefined, attempts: number, cause: unknown) =>
    e(
      'BACKUP_REOPEN_FAILED',
      `could not reopen the database after ${attempts} attempts: ${messageOf(cause)}`,
      `The database is intact at ${database}${backup ? ` and the new backup is at ${backup}` : ''}. ` +
        'Quit nu-agent (/exit) and start it again; if another program holds the file, close that program first.',
      { path: database, cause, op: 'reopen' },
    ),
  backupCancelled: (timeoutMs?: number) =>
    e(
      'BACKUP_CANCELLED',
      timeoutMs === undefined
        ? 'the backup was cancelled; nothing was kept'
        : `the backup took longer than ${Math.round(timeoutMs / 1000)} s and was stopped; nothing was kept`,
      'The database and the workers are as they were. Run /backup again when you want one.',
      { op: 'backup' },
    ),
  backupResumeFailed: (cause: unknown) =>
    e(
      'BACKUP_RESUME_FAILED',
      `the background workers did not all come back: ${messageOf(cause)}`,
      'See /worker status; restarting nu-agent starts them afresh.',
      { cause, op: 'resume workers' },
    ),
  // ---- Managing backups: list, verify, prune ----
  backupNotFound: (path: string) =>
    e('BACKUP_NOT_FOUND', `no backup at ${path}`, 'Run /backup list (or `nu-agent backup list`) to see the backups.', {
      path,
      op: 'find backup',
    }),
  manifestInvalid: (backupPath: string, reason: string, manifestName: string) =>
    e(
      'MANIFEST_INVALID',
      `${backupPath}: ${reason}`,
      `Keep the backup's ${manifestName} beside it; nu-agent checks backups against it.`,
      { path: backupPath, op: 'read manifest' },
    ),
  backupVerifyFailed: (path: string, consequence = '') =>
    e(
      'BACKUP_VERIFY_FAILED',
      `${path} failed verification${consequence}`,
      `Run \`/backup verify ${path}\` for the details, and choose another backup (/backup list).`,
      { path, op: 'verify' },
    ),
  pruneNoPolicy: () =>
    e(
      'PRUNE_NO_POLICY',
      'prune needs a rule: --keep N, --older-than DAYS, or restic-style --keep-last/-hourly/-daily/-weekly/' +
        '-monthly/-yearly N and --keep-within DURATION (any combination)',
      'For example `/backup prune --keep-daily 7 --keep-weekly 4 --dry-run` shows what that policy would remove.',
    ),
  pruneKeepCountInvalid: (rule: string, value: string) =>
    e(
      'PRUNE_KEEP_INVALID',
      `--keep-${rule} must be a whole number of at least 1 (got ${value})`,
      `For example --keep-${rule} 7.`,
    ),
  pruneWithinInvalid: (value: string) =>
    e(
      'PRUNE_WITHIN_INVALID',
      `--keep-within must be a duration such as 30d, 1y2m or 48h (got ${value})`,
      'Use y (years), m (months), d (days) and h (hours), as restic does: for example --keep-within 1y6m.',
    ),
  pruneKeepInvalid: (value: string) =>
    e(
      'PRUNE_KEEP_INVALID',
      `--keep must be a whole number of at least 1 (got ${value}); prune never removes every backup`,
      'Use --keep 1 or more.',
    ),
  pruneDaysInvalid: (value: string) =>
    e(
      'PRUNE_DAYS_INVALID',
      `--older-than must be a number of days, 0 or more (got ${value})`,
      'For example --older-than 30.',
    ),
  // ---- Restoring a backup ----
  restoreNeedsConfirmation: (file: string) =>
    e(
      'RESTORE_NEEDS_CONFIRMATION',
      `restoring ${file} replaces the current memory, and there is no terminal to confirm on`,
      'Add --yes to confirm (a safety backup of the current database is taken first).',
      { path: file, op: 'restore' },
    ),
  restoreOntoLive: (file: string) =>
    e(
      'RESTORE_ONTO_LIVE',
      `${file} is the live database (or its write-ahead log), not a backup`,
      'Choose a backup file: /backup list shows them.',
      { path: file, op: 'restore' },
    ),
  restoreSafetyBackupFailed: (cause: unknown) =>
    e(
      'RESTORE_SAFETY_BACKUP_FAILED',
      `the safety backup of the current database failed, so nothing was restored: ${messageOf(cause)}`,
      'Fix what the safety backup needs (space, the backup directory) and run the restore again.',
      { cause, op: 'restore' },
    ),
  restoreNoSpace: (dir: string, need: string, have: string) =>
    e(
      'RESTORE_NO_SPACE',
      `not enough space beside the database in ${dir} for the restored copy (need ${need}, have ${have})`,
      'Free some space there; nothing was changed.',
      { path: dir, op: 'restore' },
    ),
  restoreMismatch: (file: string, details: string) =>
    e(
      'RESTORE_MISMATCH',
      `the restored database does not hold what ${file}'s manifest says (${details})`,
      `Run \`/backup verify ${file}\`; choose another backup if it fails.`,
      { path: file, op: 'restore check' },
    ),
  restoreFailed: (file: string, safetyPath: string, cause: Error) =>
    e(
      'RESTORE_FAILED',
      `restoring ${file} failed: ${cause.message}; the current database was not changed`,
      `The safety backup is at ${safetyPath}.`,
      { cause },
    ),
  restoreRolledBack: (file: string, cause: unknown) =>
    e(
      'RESTORE_ROLLED_BACK',
      `restoring ${file} failed (${messageOf(cause)}); the previous database was put back`,
      'Your memory is as it was before the restore. Run /backup verify on the backup, or choose another one.',
      { path: file, cause, op: 'restore' },
    ),
  restoreKeptPrevious: (previous: string) =>
    e(
      'RESTORE_PREVIOUS_KEPT',
      `${previous} holds the memory from before an earlier restore that was interrupted; a new restore would replace it`,
      `It is a complete database: move it somewhere else (mv ${previous} <elsewhere>), or remove it once you are sure you do not need it; then restore again.`,
      { path: previous, op: 'restore' },
    ),
  restoreRollbackFailed: (database: string, previous: string, safety: string | undefined, cause: unknown) =>
    e(
      'RESTORE_ROLLBACK_FAILED',
      `the restore failed and the previous database could not be reopened: ${messageOf(cause)}`,
      `Quit nu-agent (/exit). The previous database is at ${previous}` +
        (safety ? ` and its safety backup at ${safety}` : '') +
        `; copy it to ${database} and start nu-agent again.`,
      { path: database, cause, op: 'restore' },
    ),
  // ---- Auto-backup: schedule, settings, notifications, re-verification ----
  autoBackupCronInvalid: (raw: string, detail: string) =>
    e(
      'AUTO_CRON_INVALID',
      `not a valid cron expression: ${JSON.stringify(raw)} (${detail})`,
      'Use five fields, minute hour day-of-month month day-of-week, e.g. "0 2 * * *" for 02:00 every day, or @daily.',
    ),
  autoBackupCronNeverFires: (expr: string) =>
    e(
      'AUTO_CRON_NEVER_FIRES',
      `the cron expression "${expr}" never fires (no such date)`,
      'Choose a date that exists, e.g. "0 2 28 2 *" rather than "0 2 30 2 *".',
    ),
  autoBackupTimeZoneInvalid: (zone: string) =>
    e(
      'AUTO_TIMEZONE_INVALID',
      `unknown time zone: ${zone}`,
      'Use "local" or an IANA name such as Europe/Berlin, America/New_York or UTC.',
    ),
  autoBackupSettingInvalid: (name: string, raw: string, expected: string) =>
    e('AUTO_SETTING_INVALID', `${name} must be ${expected}, not ${JSON.stringify(raw)}`, `For example: ${name} 7.`),
  keepRulesInvalid: (raw: string, flags: string) =>
    e(
      'AUTO_SETTING_INVALID',
      `keep-rules must be pairs of a rule and a value, not ${JSON.stringify(raw)}`,
      `The rules are ${flags}; for example: keep-rules --keep-daily 7 --keep-weekly 4 (or "none").`,
    ),
  autoBackupUnknownSetting: (name: string, known: string[]) =>
    e('AUTO_SETTING_UNKNOWN', `no auto-backup setting named ${name}`, `The settings are: ${known.join(', ')}.`),
  autoBackupDirInvalid: (dir: string, reason: string) =>
    e(
      'AUTO_DIR_INVALID',
      `cannot use ${dir} as the backup directory: ${reason}`,
      'Choose a directory you can write to.',
      {
        path: dir,
      },
    ),
  autoBackupSkipped: (reason: string) =>
    e(
      'AUTO_SKIPPED',
      `the automatic backup was skipped: ${reason}; nothing was written`,
      'Run it again when the other backup has finished.',
    ),
  autoBackupDatabaseBusy: (lockedMessage: string, cause: unknown) =>
    e(
      'AUTO_DATABASE_BUSY',
      `${lockedMessage}, and that process does not take requests (only an open nu-agent REPL answers on the control socket)`,
      'Run it again when that process has finished (a one-shot command such as `nu-agent backup` holds the database only while it runs).',
      { cause, op: 'auto-backup' },
    ),
  reverifyFoundDamage: (count: number) =>
    e(
      'REVERIFY_DAMAGED',
      `re-verification found ${count} damaged backup${count === 1 ? '' : 's'}`,
      'Run /backup verify <file> for the details, and make a fresh backup; damaged backups are kept for you to ' +
        'inspect and never count as the newest verified one.',
    ),
  notifyUrlInvalid: (name: string, shown: string) =>
    e(
      'NOTIFY_URL_INVALID',
      `${name} must be an http:// or https:// URL, not ${shown}`,
      `For example: notify ${name.replace(/^notify-/, '')} https://hc-ping.com/<your-check-uuid> (or "off").`,
    ),
  notifyNothingConfigured: () =>
    e(
      'NOTIFY_NOT_CONFIGURED',
      'no notification URL is set, so there is nothing to test',
      'Set one first: /backup auto notify ping <url> (healthchecks-style) or /backup auto notify webhook <url> (JSON).',
    ),
  notifyTestFailed: (failures: string) =>
    e(
      'NOTIFY_TEST_FAILED',
      `the test notification was not delivered: ${failures}`,
      'Check the URL (see /backup auto status) and that this machine can reach it; backups do not wait for it.',
    ),
  // ---- The control socket a running REPL answers on ----
  controlSocketUnsafe: (dir: string, reason: string) =>
    e(
      'CONTROL_SOCKET_UNSAFE',
      `refusing to use ${dir} for the control socket: ${reason}`,
      'Set NUAGENT_HOME to a short path you own.',
      {
        path: dir,
        op: 'control socket',
      },
    ),
  controlBadRequest: (why: string) => e('CONTROL_BAD_REQUEST', `bad control request: ${why}`),
  controlNotServed: (op: string) =>
    e(
      'CONTROL_NOT_SERVED',
      `the running nu-agent does not take \`${op}\` requests`,
      'Run the command again once that nu-agent has been closed.',
    ),
  controlNoAnswer: (socket: string, reason: string) =>
    e(
      'CONTROL_NO_ANSWER',
      `the running nu-agent did not answer on ${socket} (${reason})`,
      'Check that nu-agent is still running; if it hangs, quit it and run the command again.',
      { path: socket, op: 'control socket' },
    ),
  // ---- Offsite backups: S3-compatible storage and age encryption ----
  offsiteBadUrl: (url: string, reason: string) =>
    e(
      'OFFSITE_BAD_URL',
      `not a usable S3 location: ${url} (${reason})`,
      'Write it as s3://BUCKET/PREFIX/NAME.db, or s3://BUCKET/PREFIX/ for the default name.',
    ),
  offsiteDnsFailed: (endpoint: string, url: string, cause: unknown) =>
    e(
      'OFFSITE_DNS_FAILED',
      `cannot resolve the host name of ${endpoint} for ${url}: ${messageOf(cause)}`,
      'Check the spelling of AWS_ENDPOINT_URL_S3 (or NUAGENT_S3_ENDPOINT) and that this machine can resolve names.',
      { cause, op: 'offsite' },
    ),
  offsiteUnreachable: (endpoint: string, url: string, cause: unknown) =>
    e(
      'OFFSITE_UNREACHABLE',
      `cannot connect to ${endpoint} for ${url}: ${messageOf(cause)}`,
      'Check that the S3 server is running and that AWS_ENDPOINT_URL_S3 (or NUAGENT_S3_ENDPOINT) has the right address and port.',
      { cause, op: 'offsite' },
    ),
  offsiteConnectionLost: (url: string, doing: string, cause: unknown) =>
    e(
      'OFFSITE_CONNECTION_LOST',
      `the S3 server stopped answering while ${doing} ${url}: ${messageOf(cause)}; nothing was kept there`,
      'Check the server (or your connection) and run the same command again; the local backup is unchanged.',
      { cause, op: 'offsite' },
    ),
  offsiteNoBucket: (url: string, cause?: unknown) =>
    e(
      'OFFSITE_NO_BUCKET',
      `the bucket of ${url} does not exist`,
      'Create the bucket first (aws s3 mb, the R2 dashboard, mc mb), or fix its name.',
      { cause, op: 'offsite' },
    ),
  offsiteBadCredentials: (url: string, code: string, cause?: unknown) =>
    e(
      'OFFSITE_BAD_CREDENTIALS',
      `the S3 service refused the credentials for ${url} (${code})`,
      'Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE and ~/.aws/credentials).',
      { cause, op: 'offsite' },
    ),
  offsiteNoCredentials: (url: string, cause?: unknown) =>
    e(
      'OFFSITE_NO_CREDENTIALS',
      `no S3 credentials were found for ${url}`,
      'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws/credentials.',
      { cause, op: 'offsite' },
    ),
  offsiteClockSkew: (url: string, cause?: unknown) =>
    e(
      'OFFSITE_CLOCK_SKEW',
      `the S3 service refused the request for ${url}: this machine's clock is too far from the server's`,
      'Set the system clock right (for example enable NTP with `timedatectl set-ntp true`), then try again.',
      { cause, op: 'offsite' },
    ),
  offsiteAccessDenied: (url: string, doing: string, cause?: unknown) =>
    e(
      'OFFSITE_ACCESS_DENIED',
      `access denied while ${doing} ${url}`,
      'Give these credentials s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload on the bucket and prefix.',
      { cause, op: 'offsite' },
    ),
  offsiteNoRegion: (cause?: unknown) =>
    e(
      'OFFSITE_NO_REGION',
      'no AWS region is configured for the S3 client',
      'Set AWS_REGION (for example us-east-1), or AWS_ENDPOINT_URL_S3 for a service other than AWS.',
      { cause, op: 'offsite' },
    ),
  offsiteFailed: (url: string, doing: string, cause: unknown) =>
    e(
      'OFFSITE_FAILED',
      `${doing} ${url} failed: ${messageOf(cause)}`,
      'Run again with --debug for the details; nothing half-done was kept there.',
      { cause, op: 'offsite' },
    ),
  offsiteNeedsKey: (url: string) =>
    e(
      'OFFSITE_NEEDS_KEY',
      `refusing to upload an unencrypted backup to ${url}`,
      'Make a key with `age-keygen -o ~/.nuagent/backup-key.txt`, put its public key (age1…) in a file named by NUAGENT_BACKUP_RECIPIENTS (or set NUAGENT_BACKUP_PASSPHRASE); or add --no-encrypt to upload plaintext on purpose.',
      { op: 'offsite' },
    ),
  offsiteKeysUnusable: (what: string, reason: string) =>
    e(
      'OFFSITE_KEYS_UNUSABLE',
      `cannot use ${what}: ${reason}`,
      'Recipients files hold age public keys (age1…) one a line; identity files hold AGE-SECRET-KEY-1… lines, as age-keygen writes them.',
      { op: 'encryption' },
    ),
  offsiteNoIdentity: (url: string, how: string) =>
    e(
      'OFFSITE_NO_IDENTITY',
      `${url} is encrypted (${how}) and no key to decrypt it is configured`,
      how === 'passphrase'
        ? 'Set NUAGENT_BACKUP_PASSPHRASE to the passphrase it was encrypted with.'
        : 'Set NUAGENT_BACKUP_IDENTITY to the file age-keygen wrote (the one holding AGE-SECRET-KEY-1…).',
      { path: url, op: 'decrypt' },
    ),
  offsiteWrongKey: (url: string, cause?: unknown) =>
    e(
      'OFFSITE_WRONG_KEY',
      `none of the configured keys decrypts ${url}; nothing was changed`,
      'Check NUAGENT_BACKUP_IDENTITY (or NUAGENT_BACKUP_PASSPHRASE): it must match a recipient the backup was encrypted for.',
      { path: url, cause, op: 'decrypt' },
    ),
  offsiteTampered: (url: string, details: string, cause?: unknown) =>
    e(
      'OFFSITE_TAMPERED',
      `${url} is not what was uploaded (${details}); nothing was changed`,
      'Do not restore from it: choose another backup (`nu-agent backup list` with its place), and check who can write to the bucket.',
      { path: url, cause, op: 'download' },
    ),
  offsiteNotFound: (url: string) =>
    e(
      'OFFSITE_NOT_FOUND',
      `no backup at ${url} (no manifest beside it)`,
      'Run `nu-agent backup list s3://BUCKET/PREFIX/` to see the backups there.',
      { path: url, op: 'find backup' },
    ),
  offsiteExists: (url: string) =>
    e('OFFSITE_EXISTS', `${url} already exists`, 'Add --force to replace it, or choose another name.', {
      path: url,
      op: 'upload',
    }),
  offsiteCancelled: (url: string) =>
    e(
      'OFFSITE_CANCELLED',
      `the upload to ${url} was cancelled; nothing was kept there`,
      'Run the same command again when you want it.',
      { path: url, op: 'upload' },
    ),
  offsiteFlagsConflict: () =>
    e(
      'USAGE',
      'usage: --encrypt and --no-encrypt cannot both be given',
      'Give one of them, or neither (remote backups are encrypted whenever keys are configured).',
    ),
  encryptNeedsKey: (destination: string) =>
    e(
      'ENCRYPT_NO_KEY',
      `--encrypt needs a key to encrypt ${destination} with, and none is configured`,
      'Make a key with `age-keygen -o ~/.nuagent/backup-key.txt` and name a file holding its public key (age1…) in NUAGENT_BACKUP_RECIPIENTS, or set NUAGENT_BACKUP_PASSPHRASE.',
      { path: destination, op: 'encryption' },
    ),
  encryptedBackupTampered: (file: string, details: string, cause?: unknown) =>
    e(
      'ENCRYPTED_BACKUP_TAMPERED',
      `${file} is not what was written (${details}); nothing was changed`,
      'Do not restore from it: choose another backup (`nu-agent backup list`), and check who can write to its directory.',
      { path: file, cause, op: 'decrypt' },
    ),
} as const;
