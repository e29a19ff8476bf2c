import type { BackupService } from '../app.js';
import { messages, messageOf } from '../errors.js';
import { formatBytes } from '../repl/format.js';
import { recordBackupRun } from '../store/backup-runs.js';
import type { BackupRunResult } from '../store/backup-runs.js';
import type { RecordInput, StepName, SupervisorOutput } from '../../state-machines/backup-machine.js';
import { BackupRun, HASH_ALGORITHM } from './backup-steps.js';
import type { BackupDeps, BackupFaults, StepTimeouts } from './backup-steps.js';
import { cleanupAfterCrash } from './inflight.js';
import { runRestoreOnce } from './restore-service.js';
import type { RestoreFaults } from './restore-steps.js';
import { runSupervisor } from './supervisor.js';
import type { StepImplementation } from './supervisor.js';
import type { BackupEvent, BackupFailure, BackupOutcome, BackupRequest } from './types.js';

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
  cleanupAfterCrash(deps.paths.backupLock);
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
  const emit = (event: BackupEvent) => {
    try {
      request.onEvent?.(event);
    } catch {
      // a broken display must not break the backup
    }
  };
  const run = new BackupRun(deps, request, timeouts, options.faults, emit);
  const durations: Record<string, number> = {};
  const startedAt = new Date();
  const steps: Record<StepName, StepImplementation> = run.steps();
  steps.record = async ({ input }) => {
    const { ok, error, cancel } = input as RecordInput;
    const result: BackupRunResult = ok ? 'success' : cancel ? 'cancelled' : run.pauseRequested ? 'failed' : 'refused';
    await recordBackupRun(deps.store, {
      trigger: request.trigger,
      kind: 'backup',
      startedAt,
      finishedAt: new Date(),
      result,
      path: run.committed?.path ?? run.target?.destination,
      sizeBytes: ok ? run.copied?.bytes : undefined,
      hashAlgorithm: ok ? HASH_ALGORITHM : undefined,
      hash: ok ? run.copied?.hash : undefined,
      stateDurations: durations,
      error: ok ? undefined : error === undefined ? `cancelled (${cancel})` : messageOf(error),
    });
  };

  try {
    const result = await runSupervisor({
      kind: 'backup',
      steps,
      signal: request.signal,
      timeoutMs: options.timeoutMs,
      onTransition: (t) => {
        durations[t.from] = (durations[t.from] ?? 0) + t.msInPrevious;
        emit({ type: 'transition', ...t });
        const line = stepLine(t.to, run);
        if (line) emit({ type: 'step', text: line });
      },
    });
    return outcome(result.output, run, result.stateDurations, Date.now() - startedAt.getTime(), options.timeoutMs);
  } catch (err) {
    // Only a defect in the supervisor gets here; still leave the database open and the workers running.
    await run.emergencyCleanup();
    return failure(err instanceof Error ? err : new Error(String(err)), durations, run.warnings);
  } finally {
    await run.finish();
  }
}

function stepLine(state: string, run: BackupRun): string | undefined {
  switch (state) {
    case 'pausing':
      return 'Pausing background workers...';
    case 'checkpointing':
      return 'Checkpointing the database...';
    case 'closing':
      return 'Closing database connections...';
    case 'transferring':
      return `Backing up database... (${formatBytes(run.liveFileBytes())})`;
    case 'verifying':
      return 'Verifying backup...';
    case 'discarding':
      return 'Removing the incomplete copy...';
    case 'reopening':
      return 'Reopening database...';
    case 'resuming':
      return run.pauseRequested ? 'Resuming background workers...' : undefined;
    default:
      return undefined;
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
  if (output.ok && run.committed && run.copied && run.snapshotAt) {
    return {
      ok: true,
      path: run.committed.path,
      manifestPath: run.committed.manifestPath,
      sizeBytes: run.copied.bytes,
      hashAlgorithm: HASH_ALGORITHM,
      hash: run.copied.hash,
      snapshotAt: run.snapshotAt,
      durationMs,
      stateDurations,
      warnings,
    };
  }
  const error =
    output.error !== undefined
      ? asError(output.error)
      : messages.backupCancelled(output.cancel === 'timeout' ? timeoutMs : undefined);
  return failure(error, stateDurations, warnings);
}

function failure(error: Error, stateDurations: Record<string, number>, warnings: Error[] = []): BackupFailure {
  return { ok: false, error, stateDurations, warnings };
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
