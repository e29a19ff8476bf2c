import type { BackupService } from '../app.js';
import { isNuError, messages } from '../errors.js';
import type { NuError } from '../errors.js';
import { formatBytes } from '../format/size.js';
import { lostLock } from './backup-lock.js';
import { BackupRun, HASH_ALGORITHM, reopenAttempts } from './backup-steps.js';
import type { BackupDeps, BackupFacts, BackupFaults, StepTimeouts } from './backup-steps.js';
import { cleanupAfterCrash } from './inflight.js';
import { runRestore } from './restore-service.js';
import type { RestoreFaults } from './restore-steps.js';
import { asError, runSupervised, safeEmitter } from './supervisor.js';
import type { SupervisorFaults } from './supervisor.js';
import type { BackupFailure, BackupOutcome, BackupRequest } from './types.js';

// The BackupService of src/app.ts: the only way anything takes a backup (the /backup command, `nu-agent
// backup`, the scheduler, the control socket), and of a restore. One run at a time in this process (`busy`), one
// at a time per database across processes (backup-lock.ts). Each run goes through the runner (supervisor.ts)
// with the backup's step table and step lines; this file builds the outcome from what the steps produced.

export interface BackupServiceOptions {
  timeouts?: Partial<StepTimeouts>;
  /** Stops a run that takes longer than this (cancel reason `timeout`); no limit when undefined. */
  timeoutMs?: number | undefined;
  faults?: BackupFaults;
  /** Fault injection for restores (restore-steps.ts). */
  restoreFaults?: RestoreFaults;
  /** Fault injection for the supervisor itself, backups and restores alike (supervisor.ts). */
  supervisorFaults?: SupervisorFaults;
}

export interface BackupServiceHandle extends BackupService {
  /** Waits for a run in progress to finish (shutdown cancels it through the request's signal first). */
  stop(): Promise<void>;
}

export const DEFAULT_TIMEOUTS: StepTimeouts = {
  pauseMs: 5000,
  holdMs: 5000,
  checkpointMs: 60_000,
  resumeMs: 5000,
  reopenDelaysMs: [250, 500, 1000, 2000],
};

export function createBackupService(deps: BackupDeps, options: BackupServiceOptions = {}): BackupServiceHandle {
  // Start-up: remove what a backup killed mid-copy left behind (never anything at a final name).
  cleanupAfterCrash(deps.paths);
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  // A backup or a restore: never two at once in this process.
  let running: Promise<unknown> | undefined;
  const oneAtATime = <T>(start: () => Promise<T>, refuse: (error: Error) => T): Promise<T> => {
    if (running) return Promise.resolve(refuse(messages.backupAlreadyRunning('in this process')));
    const promise = start();
    running = promise;
    const clear = () => {
      running = undefined;
    };
    promise.then(clear, clear);
    return promise;
  };

  return {
    get busy() {
      return running !== undefined;
    },
    run: (request) =>
      oneAtATime(
        () => runBackup(deps, request, timeouts, options),
        (error) => failure(error, {}),
      ),
    restore: (request) =>
      oneAtATime(
        () =>
          runRestore(deps, request, timeouts, {
            timeoutMs: options.timeoutMs,
            faults: options.restoreFaults,
            supervisorFaults: options.supervisorFaults,
          }),
        (error) => ({ ok: false, error, rolledBack: false, stateDurations: {}, warnings: [] }),
      ),
    async stop() {
      await running?.catch(() => undefined);
    },
  };
}

async function runBackup(
  deps: BackupDeps,
  request: BackupRequest,
  timeouts: StepTimeouts,
  options: BackupServiceOptions,
): Promise<BackupOutcome> {
  const emit = safeEmitter(request.onEvent);
  const run = new BackupRun(deps, request, timeouts, options.faults, emit);
  const result = await runSupervised<BackupFacts>({
    kind: 'backup',
    trigger: request.trigger,
    run,
    lines: {
      copying: () => `Backing up database... (${formatBytes(run.liveFileBytes())})`,
      verifying: 'Checking the copy is complete...',
      auditing: ({ copy }) =>
        `Verifying backup... (every row of the ${copy?.method === 'cloned' ? 'clone' : 'copy'}, workers running)`,
      rejecting: 'Removing the copy that was not kept...',
    },
    describe: (ok, { target, copy, audit, placed }) => ({
      path: request.recordAs ?? placed?.path ?? target?.destination,
      sizeBytes: ok ? copy?.bytes : undefined,
      hashAlgorithm: ok ? HASH_ALGORITHM : undefined,
      hash: ok ? audit?.hash : undefined,
    }),
    store: deps.store,
    signal: request.signal,
    timeoutMs: options.timeoutMs,
    emit,
    faults: options.supervisorFaults,
  });
  if (result.crashed) {
    const error = result.atRisk ?? messages.backupMachineBroke(result.error, run.kept);
    return failure(error, result.stateDurations, run.warnings);
  }
  const { output, stateDurations, durationMs } = result;
  const warnings = [...run.warnings, ...output.laterErrors.map(asError)];
  const { copy, audit, placed, snapshot } = output.facts;
  if (output.ok && copy && audit && placed && snapshot) {
    return {
      ok: true,
      path: placed.path,
      manifestPath: placed.manifestPath,
      sizeBytes: copy.bytes,
      hashAlgorithm: HASH_ALGORITHM,
      hash: audit.hash,
      copy: copy.method,
      snapshotAt: snapshot.at,
      durationMs,
      stateDurations,
      warnings,
    };
  }
  // The database could not be reopened: the copy was audited and put in place after that (or not), so only now
  // does the error know whether to name the new backup. It is the error to read whatever else failed first.
  const reopen = [output.error, ...output.laterErrors].find(
    (err) => isNuError(err) && err.code === 'BACKUP_REOPEN_FAILED',
  ) as NuError | undefined;
  const error = reopen
    ? placed
      ? messages.backupReopenFailed(run.liveFilePath, placed.path, reopenAttempts(timeouts), reopen.cause)
      : reopen
    : output.error !== undefined
      ? asError(output.error)
      : (lostLock(run.lockLost.signal) ??
        messages.backupCancelled(output.cancel === 'timeout' ? options.timeoutMs : undefined));
  // What failed before the reopen is still worth reading below the reopen's error, which replaces it.
  const others = reopen
    ? [output.error, ...output.laterErrors].filter((err) => err !== undefined && err !== reopen)
    : [];
  return failure(error, stateDurations, reopen ? [...run.warnings, ...others.map(asError)] : warnings);
}

function failure(error: Error, stateDurations: Record<string, number>, warnings: Error[] = []): BackupFailure {
  return { ok: false, error, stateDurations, warnings };
}
