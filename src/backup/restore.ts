import path from 'node:path';
import type { App } from '../app.js';
import { NuError, messages } from '../errors.js';
import { expandHome } from '../paths.js';
import { formatTime, nameStamp } from '../format/time.js';
import { manageContext } from './backup-dirs.js';
import { refuseKeptPrevious } from './restore-steps.js';
import type { RestoreOutcome } from './restore-types.js';
import type { BackupEvent, BackupManifest, BackupTrigger } from './types.js';
import { formatVerifyOutcome, verifyBackup } from './verify.js';
import type { VerifyOptions } from './verify.js';

// `/backup restore <file>` and `nu-agent backup restore <file>`, in the order that keeps the memory safe:
// 1. verify the backup against its manifest (nothing is paused or changed if it fails);
// 2. ask for confirmation (--yes skips it; with nobody to ask and no --yes, refuse and say how);
// 3. take a safety backup of the current database through the normal backup path;
// 4. run the supervisor in restore mode (the BackupService), which puts the previous database back if
//    anything fails after the replacement.

/** Asks the person at the terminal; resolves to their answer, or undefined when nobody can answer. */
export type Ask = (question: string, signal: AbortSignal) => Promise<string | undefined>;

export interface RestoreFlowOptions {
  yes: boolean;
  trigger: BackupTrigger;
  signal: AbortSignal;
  ask?: Ask | undefined;
  /** A fresh display for each run (the safety backup, the restore): step lines, progress, transitions. */
  display?: ((label: 'backup' | 'restore') => { onEvent(event: BackupEvent): void; stop(): void }) | undefined;
  verify?: VerifyOptions['runTask'];
  /**
   * What the user calls the backup when `file` is a temporary copy of it (the s3:// URL of a download, the .age
   * file that was decrypted): every line and error names this rather than the temporary file.
   */
  shownAs?: string | undefined;
}

export type RestoreFlowResult =
  { restored: true; file: string; safetyBackup: string; outcome: RestoreOutcome } | { restored: false; file: string };

export async function restoreFromBackup(
  app: App,
  file: string,
  options: RestoreFlowOptions,
): Promise<RestoreFlowResult> {
  const resolved = path.resolve(expandHome(file));
  const shown = options.shownAs ?? resolved;
  // Nobody to ask and no --yes: say so at once rather than after reading the whole backup.
  if (!options.yes && !options.ask) throw messages.restoreNeedsConfirmation(shown);
  // The database kept from an interrupted restore is never replaced: say so before reading anything.
  refuseKeptPrevious(app.paths.database);

  const verified = await verifyBackup(resolved, { signal: options.signal, runTask: options.verify });
  for (const line of formatVerifyOutcome({ ...verified, file: shown })) app.out.line(line);
  if (!verified.ok || !verified.manifest) throw messages.backupVerifyFailed(shown, '; nothing was changed');
  const manifest = verified.manifest;

  if (!options.yes) {
    const answer = await options.ask!(restoreQuestion(manifest), options.signal);
    if (answer === undefined || options.signal.aborted || !/^y(es)?$/i.test(answer.trim())) {
      app.out.line('Restore cancelled; nothing was changed.');
      return { restored: false, file: shown };
    }
  }

  app.out.line('Taking a safety backup of the current database...');
  const [backupDir] = await manageContext(app).directories();
  // The workers stay paused from the safety backup's snapshot to the swap: what they wrote in between would be
  // in neither the safety backup nor the restored memory. The restore's own resume lets them go; if it never
  // gets that far (a refusal, a failure), they are resumed here.
  let outcome: RestoreOutcome | undefined;
  try {
    const safetyDisplay = options.display?.('backup');
    const safety = await app.backups
      .run({
        trigger: options.trigger,
        destination: path.join(backupDir!, `memory-before-restore-${stamp(new Date())}.db`),
        signal: options.signal,
        onEvent: safetyDisplay?.onEvent,
        keepWorkersPaused: true,
      })
      .finally(() => safetyDisplay?.stop());
    if (!safety.ok) throw messages.restoreSafetyBackupFailed(safety.error);
    app.out.line(`Safety backup: ${safety.path}`);

    app.out.line(`Restoring ${shown}...`);
    const restoreDisplay = options.display?.('restore');
    outcome = await app.backups
      .restore({
        file: resolved,
        shownAs: options.shownAs,
        manifest,
        trigger: options.trigger,
        signal: options.signal,
        onEvent: restoreDisplay?.onEvent,
      })
      .finally(() => restoreDisplay?.stop());
    return finishRestore(app, shown, manifest, safety.path, outcome);
  } finally {
    // Another run of this process (an auto-backup) resumes them itself when it ends. A worker that does not
    // come back is restarted by resumeAll; the restore's outcome stands either way.
    if (!outcome?.ok && !app.backups.busy) await app.workers.resumeAll(RESUME_TIMEOUT_MS).catch(() => undefined);
  }
}

const RESUME_TIMEOUT_MS = 5000;

function finishRestore(
  app: App,
  shown: string,
  manifest: BackupManifest,
  safetyPath: string,
  outcome: RestoreOutcome,
): RestoreFlowResult {
  for (const warning of outcome.warnings) app.out.error(warning);
  if (!outcome.ok) {
    if (!outcome.rolledBack && !(outcome.error instanceof NuError)) {
      throw messages.restoreFailed(shown, safetyPath, outcome.error);
    }
    throw outcome.error;
  }
  // The conversation this session was writing to belongs to the replaced memory.
  app.session.conversationId = undefined;
  app.out.line(`Restored ${shown} (created ${formatTime(new Date(manifest.createdAt))}).`);
  app.out.line(`The memory before the restore is kept in ${safetyPath}.`);
  return { restored: true, file: shown, safetyBackup: safetyPath, outcome };
}

/** The confirmation a restore asks for (also asked by `nu-agent backup restore` before a REPL restores for it). */
export function restoreQuestion(manifest: BackupManifest): string {
  const conversations = manifest.tables.conversations?.rows;
  const what = conversations === undefined ? '' : `, ${conversations} conversations`;
  return (
    `Replace the current memory with this backup (created ${formatTime(new Date(manifest.createdAt))}${what})? ` +
    'A safety backup of the current database is taken first. [y/N] '
  );
}

/** 2025-06-30-120000-123: the default backup names' form (local time), with milliseconds so two never collide. */
function stamp(d: Date): string {
  return `${nameStamp(d)}-${String(d.getMilliseconds()).padStart(3, '0')}`;
}
