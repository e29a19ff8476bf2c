import { messageOf } from '../errors.js';
import { formatBytes } from '../repl/format.js';
import { recordBackupRun } from '../store/backup-runs.js';
import type { RecordInput, StepName } from '../../state-machines/backup-machine.js';
import type { BackupDeps, StepTimeouts } from './backup-steps.js';
import { RestoreRun } from './restore-steps.js';
import type { RestoreFaults } from './restore-steps.js';
import type { RestoreOutcome, RestoreRequest } from './restore-types.js';
import { runSupervisor } from './supervisor.js';
import type { StepImplementation } from './supervisor.js';
import type { BackupEvent } from './types.js';

// One restore through the supervisor machine (kind 'restore'), as backup-service.ts runs a backup: the same
// states, the same transitions and debug lines, the same record in backup_runs. The BackupService calls this
// inside its one-run-at-a-time guard, so a backup and a restore never overlap in one process (and the backup
// lock keeps them apart across processes).

export interface RestoreRunOptions {
  timeoutMs?: number | undefined;
  faults?: RestoreFaults | undefined;
}

export async function runRestoreOnce(
  deps: BackupDeps,
  request: RestoreRequest,
  timeouts: StepTimeouts,
  options: RestoreRunOptions = {},
): Promise<RestoreOutcome> {
  const emit = (event: BackupEvent) => {
    try {
      request.onEvent?.(event);
    } catch {
      // a broken display must not break the restore
    }
  };
  const run = new RestoreRun(deps, request, timeouts, options.faults, emit);
  const durations: Record<string, number> = {};
  const startedAt = new Date();
  let paused = false;
  const steps: Record<StepName, StepImplementation> = run.steps();
  const pause = steps.pause;
  steps.pause = (args) => {
    paused = true;
    return pause(args);
  };
  steps.record = async ({ input }) => {
    const { ok, error, cancel } = input as RecordInput;
    await recordBackupRun(deps.store, {
      trigger: request.trigger,
      kind: 'restore',
      startedAt,
      finishedAt: new Date(),
      result: ok ? 'success' : cancel && !error ? 'cancelled' : paused ? 'failed' : 'refused',
      path: request.file,
      sizeBytes: request.manifest.sizeBytes,
      hashAlgorithm: request.manifest.hash.algorithm,
      hash: request.manifest.hash.value,
      stateDurations: durations,
      error: ok ? undefined : error === undefined ? `cancelled (${cancel})` : messageOf(error),
    });
  };

  try {
    const result = await runSupervisor({
      kind: 'restore',
      steps,
      signal: request.signal,
      timeoutMs: options.timeoutMs,
      onTransition: (t) => {
        durations[t.from] = (durations[t.from] ?? 0) + t.msInPrevious;
        emit({ type: 'transition', ...t });
        const line = stepLine(t.to, request, paused);
        if (line) emit({ type: 'step', text: line });
      },
    });
    const { output } = result;
    const warnings = [...run.warnings, ...output.laterErrors.map(asError)];
    const durationMs = Date.now() - startedAt.getTime();
    if (output.ok && run.committed && run.settled) {
      return { ok: true, file: request.file, durationMs, stateDurations: result.stateDurations, warnings };
    }
    const error =
      output.error !== undefined
        ? asError(output.error)
        : new Error(`the restore was ${output.cancel === 'timeout' ? 'stopped by its time limit' : 'cancelled'}`);
    return { ok: false, error, rolledBack: run.rolledBack, stateDurations: result.stateDurations, warnings };
  } catch (err) {
    // Only a defect in the supervisor gets here; still leave the previous database open and the workers running.
    await run.emergencyCleanup();
    return {
      ok: false,
      error: asError(err),
      rolledBack: run.rolledBack,
      stateDurations: durations,
      warnings: run.warnings,
    };
  } finally {
    await run.finish();
  }
}

function stepLine(state: string, request: RestoreRequest, paused: boolean): string | undefined {
  switch (state) {
    case 'pausing':
      return 'Pausing background workers...';
    case 'checkpointing':
      return 'Checkpointing the database...';
    case 'closing':
      return 'Closing database connections...';
    case 'transferring':
      return `Copying the backup beside the database... (${formatBytes(request.manifest.sizeBytes)})`;
    case 'verifying':
      return 'Verifying the copy...';
    case 'committing':
      return 'Replacing the database...';
    case 'discarding':
      return 'Removing the incomplete copy...';
    case 'reopening':
      return 'Reopening database...';
    case 'checking':
      return 'Checking the restored database...';
    case 'resuming':
      return paused ? 'Resuming background workers...' : undefined;
    default:
      return undefined;
  }
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
