import { formatBytes } from '../repl/format.js';
import type { BackupDeps, StepTimeouts } from './backup-steps.js';
import { lostLock, withLockLoss } from './backup-lock.js';
import { RestoreRun } from './restore-steps.js';
import type { RestoreFaults } from './restore-steps.js';
import type { RestoreOutcome, RestoreRequest } from './restore-types.js';
import { asError, safeEmitter, sharedStepLine, superviseRun } from './supervised-run.js';

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
  const emit = safeEmitter(request.onEvent);
  const run = new RestoreRun(deps, request, timeouts, options.faults, emit);
  const result = await superviseRun({
    kind: 'restore',
    trigger: request.trigger,
    run,
    signal: withLockLoss(request.signal, run.lockLost.signal),
    timeoutMs: options.timeoutMs,
    emit,
    stepLine: (state, paused) => stepLine(state, request, paused),
    describe: () => ({
      path: request.shownAs ?? request.file,
      sizeBytes: request.manifest.sizeBytes,
      hashAlgorithm: request.manifest.hash.algorithm,
      hash: request.manifest.hash.value,
    }),
    store: deps.store,
  });
  const { rolledBack } = run;
  if (result.crashed) {
    return {
      ok: false,
      error: result.error,
      rolledBack,
      stateDurations: result.stateDurations,
      warnings: run.warnings,
    };
  }
  const { output, stateDurations, durationMs } = result;
  const warnings = [...run.warnings, ...output.laterErrors.map(asError)];
  if (output.ok && run.committed && run.settled)
    return { ok: true, file: request.file, durationMs, stateDurations, warnings };
  const error =
    output.error !== undefined
      ? asError(output.error)
      : (lostLock(run.lockLost.signal) ??
        new Error(`the restore was ${output.cancel === 'timeout' ? 'stopped by its time limit' : 'cancelled'}`));
  return { ok: false, error, rolledBack, stateDurations, warnings };
}

function stepLine(state: string, request: RestoreRequest, paused: boolean): string | undefined {
  switch (state) {
    case 'copying':
      return `Copying the backup beside the database... (${formatBytes(request.manifest.sizeBytes)})`;
    case 'verifying':
      return 'Verifying the copy...';
    case 'replacing':
      return 'Replacing the database...';
    case 'checking':
      return 'Checking the restored database...';
    default:
      return sharedStepLine(state, paused);
  }
}
