import type { App } from '../../app.js';
import { backupOutcomeJson, formatBackupSuccess } from '../../backup/outcome-format.js';
import { createRunDisplay } from '../run-display.js';
import type { BackupOutcome, BackupTrigger } from '../../backup/types.js';
import { closest } from '../../did-you-mean.js';
import { messages } from '../../errors.js';
import { isRemote } from '../../offsite/location.js';
import type { Command } from '../command.js';
import { BACKUP_AUTO_HELP, runBackupAuto } from './backup-auto.js';
import { runBackupList } from './backup-list.js';
import { runBackupPrune } from './backup-prune.js';
import { runBackupRestore } from './backup-restore.js';
import { runBackupVerify } from './backup-verify.js';

// `/backup [<destination>] [--force] [--json]` takes a backup through the supervisor (app.backups); the words
// list, verify, restore, prune and auto hand over to their own files. A destination that is one of those words
// is written `./list`.

const USAGE = '/backup [<destination>] [--force] [--json] [--encrypt|--no-encrypt]';

export interface BackupArgs {
  destination?: string | undefined;
  force: boolean;
  json: boolean;
  /**
   * --encrypt (true) / --no-encrypt (false): age encryption (src/offsite/). Offsite backups are encrypted whenever
   * keys are configured; a local one only with --encrypt (--no-encrypt is then the default anyway).
   */
  encrypt?: boolean | undefined;
}

/** The words a destination may be a typo of, and what to suggest instead: the REPL's `/backup` words. */
export const REPL_BACKUP_WORDS: Readonly<Record<string, string>> = {
  list: '/backup list',
  verify: '/backup verify',
  restore: '/backup restore',
  prune: '/backup prune',
  auto: '/backup auto',
};

/**
 * Reads `[destination] [--force] [--json]`. A destination that is not path-like (no `/`, `.` or `~`) and is
 * close to one of `words` is refused as a likely typo: `/backup lst` once wrote a 479 MiB file named `lst`.
 */
export function parseBackupArgs(
  args: readonly string[],
  command = '/backup',
  words: Readonly<Record<string, string>> = REPL_BACKUP_WORDS,
): BackupArgs {
  const parsed: BackupArgs = { force: false, json: false };
  for (const arg of args) {
    if (arg === '--force' || arg === '-f') parsed.force = true;
    else if (arg === '--json') parsed.json = true;
    else if (arg === '--encrypt' || arg === '--no-encrypt') {
      if (parsed.encrypt !== undefined && parsed.encrypt !== (arg === '--encrypt'))
        throw messages.offsiteFlagsConflict();
      parsed.encrypt = arg === '--encrypt';
    } else if (arg.startsWith('-') && arg !== '-') throw messages.usage(USAGE);
    else if (parsed.destination === undefined) parsed.destination = arg;
    else throw messages.usage(USAGE);
  }
  const typed = parsed.destination;
  if (typed !== undefined && !/[/.~]/.test(typed)) {
    const word = closest(typed, Object.keys(words));
    if (word) throw messages.backupWordTypo(command, typed, words[word]!);
  }
  return parsed;
}

/** Runs one backup, showing steps and progress (or JSON), and throws its error when it failed. */
export async function runBackup(
  args: BackupArgs,
  app: App,
  signal: AbortSignal,
  trigger: BackupTrigger = 'manual',
): Promise<BackupOutcome> {
  if (isRemote(args.destination)) {
    const { runOffsiteBackup } = await import('../../offsite/offsite-backup.js');
    const { local, upload } = await runOffsiteBackup({ ...args, destination: args.destination }, app, signal, trigger);
    // Where the backup is now: its URL, not the staging copy that is gone (a REPL's notice names it).
    return { ...local, path: upload.url, manifestPath: `${upload.url}.manifest.json` };
  }
  if (args.encrypt) {
    const { runEncryptedBackup } = await import('../../offsite/local-encrypted.js');
    const { local, agePath, manifestPath } = await runEncryptedBackup(args, app, signal, trigger);
    return { ...local, path: agePath, manifestPath };
  }
  const display = args.json ? undefined : createRunDisplay(app.out, { signal });
  let outcome: BackupOutcome;
  try {
    outcome = await app.backups.run({
      destination: args.destination,
      force: args.force,
      trigger,
      signal,
      onEvent: display?.onEvent,
    });
  } finally {
    display?.stop();
  }
  if (args.json) {
    app.out.line(JSON.stringify(backupOutcomeJson(outcome), null, 2));
    if (!outcome.ok) throw outcome.error;
    return outcome;
  }
  for (const warning of outcome.warnings ?? []) app.out.error(warning);
  if (!outcome.ok) throw outcome.error;
  for (const line of formatBackupSuccess(outcome)) app.out.line(line);
  return outcome;
}

export const backupCommand: Command = {
  name: 'backup',
  help: [
    USAGE,
    'Back up the memory; /backup list, verify, restore, prune and auto manage the backups.',
    '  no argument writes memory-YYYY-MM-DD-HHMMSS.db in the working directory; a directory receives that name',
    '  inside it; ~ expands; --force replaces an existing file',
    '  --encrypt stores it as NAME.db.age, encrypted with age (NUAGENT_BACKUP_RECIPIENTS or NUAGENT_BACKUP_PASSPHRASE)',
    '  s3://BUCKET/PREFIX/[NAME.db] sends it offsite, encrypted with age (--no-encrypt: plaintext on purpose);',
    '  list, verify, restore and prune accept s3:// places and backups too',
    '/backup list [DIR] [--json] | verify <file> | restore <file> [--yes] | prune [--keep N] [--older-than DAYS] [--dry-run]',
    '  prune also takes restic rules: --keep-last|--keep-hourly|--keep-daily|--keep-weekly|--keep-monthly|' +
      '--keep-yearly N, --keep-within 30d',
    ...BACKUP_AUTO_HELP,
  ],
  async run(args, app, signal) {
    const [first, ...rest] = args;
    switch (first) {
      case 'list':
        return runBackupList(rest, app);
      case 'verify':
        await runBackupVerify(rest, app, signal);
        return;
      case 'restore':
        await runBackupRestore(rest, app, signal);
        return;
      case 'prune':
        await runBackupPrune(rest, app);
        return;
      case 'auto':
        return runBackupAuto(rest, app, signal);
    }
    await runBackup(parseBackupArgs(args), app, signal);
  },
};
