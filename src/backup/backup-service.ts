import type { BackupService } from '../app.js';
import { messages } from '../errors.js';
import { formatBytes } from '../repl/format.js';
import type { SupervisorOutput } from '../../state-machines/backup-machine.js';
import { lostLock, withLockLoss } from './backup-lock.js';
import { BackupRun, HASH_ALGORITHM } from './backup-steps.js';
import type { BackupDeps, BackupFaults, StepTimeouts } from './backup-steps.js';
import { cleanupAfterCrash } from './inflight.js';
import { runRestoreOnce } from './restore-service.js';
import type { RestoreFaults } from './restore-steps.js';
import { asError, safeEmitter, sharedStepLine, superviseRun } from './supervised-run.js';
import type { BackupFailure, BackupOutcome, BackupRequest } from './types.js';

// The BackupService of src/app.ts: the only way anything takes a backup (the /backup command, `nu-agent
// backup`, the scheduler, the control socket). One run at a time in this process (`busy`), one at a time per
// database across processes (backup-lock.ts). Each run goes through the supervisor machine; this file turns
// its transitions into the step lines the seed printed, records the run, and builds the outcome.

export interface BackupServiceOptions {
  timeouts?: Partial<StepTimeouts>;
  /** Stops a run that takes longer than this (cancel reason `timeout`); no limit when undefined. */
  timeoutMs?: number | undefined;
  faults?: BackupFaults;
  /** Fault injection for restores (issue 5: restore-steps.ts). */
  restoreFaults?: RestoreFaults;
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

  return {
    get busy() {
      return running !== undefined;
    },
    run(request) {
      if (running) return Promise.resolve(failure(messages.backupAlreadyRunning('in this process'), {}));
      const promise = runOnce(deps, request, timeouts, options);
      running = promise;
      const clear = () => {
        running = undefined;
      };
      promise.then(clear, clear);
      return promise;
    },
    restore(request) {
      if (running) {
        const error = messages.backupAlreadyRunning('in this process');
        return Promise.resolve({ ok: false, error, rolledBack: false, stateDurations: {}, warnings: [] });
      }
      const promise = runRestoreOnce(deps, request, timeouts, {
        timeoutMs: options.timeoutMs,
        faults: options.restoreFaults,
      });
      running = promise;
      const clear = () => {
        running = undefined;
      };
      promise.then(clear, clear);
      return promise;
    },
    async stop() {
      await running?.catch(() => undefined);
    },
  };
}

async function runOnce(
  deps: BackupDeps,
  request: BackupRequest,
  timeouts: StepTimeouts,
  options: BackupServiceOptions,
): Promise<BackupOutcome> {
  const emit = safeEmitter(request.onEvent);
  const run = new BackupRun(deps, request, timeouts, options.faults, emit);
  const result = await superviseRun({
    kind: 'backup',
    trigger: request.trigger,
    run,
    signal: withLockLoss(request.signal, run.lockLost.signal),
    timeoutMs: options.timeoutMs,
    emit,
    stepLine: (state, paused) => stepLine(state, run, paused),
    describe: (ok) => ({
      path: request.recordAs ?? run.committed?.path ?? run.target?.destination,
      sizeBytes: ok ? run.copied?.bytes : undefined,
      hashAlgorithm: ok ? HASH_ALGORITHM : undefined,
      hash: ok ? run.copied?.hash : undefined,
    }),
    store: deps.store,
  });
  if (result.crashed) return failure(result.error, result.stateDurations, run.warnings);
  return outcome(result.output, run, result.stateDurations, result.durationMs, options.timeoutMs);
}

function stepLine(state: string, run: BackupRun, paused: boolean): string | undefined {
  switch (state) {
    case 'copying':
      return `Backing up database... (${formatBytes(run.liveFileBytes())})`;
    case 'verifying':
      return 'Checking the copy is complete...';
    case 'auditing':
      return `Verifying backup... (every row of the ${run.copied?.method === 'cloned' ? 'clone' : 'copy'}, workers running)`;
    case 'rejecting':
      return 'Removing the copy that was not kept...';
    default:
      return sharedStepLine(state, paused);
  }
}

function outcome(
  output: SupervisorOutput,
  run: BackupRun,
  stateDurations: Record<string, number>,
  durationMs: number,
  timeoutMs: number | undefined,
): BackupOutcome {
  const warnings = [...run.warnings, ...output.laterErrors.map(asError)];
  if (output.ok && run.committed && run.copied?.hash && run.snapshotAt) {
    return {
      ok: true,
      path: run.committed.path,
      manifestPath: run.committed.manifestPath,
      sizeBytes: run.copied.bytes,
      hashAlgorithm: HASH_ALGORITHM,
      hash: run.copied.hash,
      copy: run.copied.method,
      snapshotAt: run.snapshotAt,
      durationMs,
      stateDurations,
      warnings,
    };
  }
  // The database could not be reopened: the copy was audited and put in place after that (or not), so only now
  // does the error know whether to name the new backup.
  const reopen = run.reopenFailure;
  const error = reopen
    ? messages.backupReopenFailed(run.liveFilePath, run.committed?.path, reopen.attempts, reopen.cause)
    : output.error !== undefined
      ? asError(output.error)
      : (lostLock(run.lockLost.signal) ??
        messages.backupCancelled(output.cancel === 'timeout' ? timeoutMs : undefined));
  return failure(error, stateDurations, warnings);
}

function failure(error: Error, stateDurations: Record<string, number>, warnings: Error[] = []): BackupFailure {
  return { ok: false, error, stateDurations, warnings };
}
