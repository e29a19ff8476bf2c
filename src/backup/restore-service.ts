import { messages } from '../errors.js';
import { formatBytes } from '../format/size.js';
import type { BackupDeps, StepTimeouts } from './backup-steps.js';
import { lostLock } from './backup-lock.js';
import { RestoreRun } from './restore-steps.js';
import type { RestoreFacts, RestoreFaults } from './restore-steps.js';
import type { RestoreOutcome, RestoreRequest } from './restore-types.js';
import { asError, runSupervised, safeEmitter } from './supervisor.js';
import type { SupervisorFaults } from './supervisor.js';

// One restore through the runner (supervisor.ts, kind 'restore'), as backup-service.ts runs a backup: the same
// states, the same transitions and debug lines, the same record in backup_runs. The BackupService calls this
// inside its one-run-at-a-time guard, so a backup and a restore never overlap in one process (and the backup
// lock keeps them apart across processes).

export interface RestoreRunOptions {
  timeoutMs?: number | undefined;
  faults?: RestoreFaults | undefined;
  supervisorFaults?: SupervisorFaults | undefined;
}

export async function runRestore(
  deps: BackupDeps,
  request: RestoreRequest,
  timeouts: StepTimeouts,
  options: RestoreRunOptions = {},
): Promise<RestoreOutcome> {
  const emit = safeEmitter(request.onEvent);
  const run = new RestoreRun(deps, request, timeouts, options.faults, emit);
  const result = await runSupervised<RestoreFacts>({
    kind: 'restore',
    trigger: request.trigger,
    run,
    lines: {
      copying: `Copying the backup beside the database... (${formatBytes(request.manifest.sizeBytes)})`,
      verifying: 'Verifying the copy...',
      replacing: 'Replacing the database...',
      checking: 'Checking the restored database...',
    },
    describe: () => ({
      path: request.shownAs ?? request.file,
      sizeBytes: request.manifest.sizeBytes,
      hashAlgorithm: request.manifest.hash.algorithm,
      hash: request.manifest.hash.value,
    }),
    store: deps.store,
    signal: request.signal,
    timeoutMs: options.timeoutMs,
    emit,
    faults: options.supervisorFaults,
  });
  const { rolledBack } = run;
  if (result.crashed) {
    const shown = request.shownAs ?? request.file;
    const error =
      result.atRisk ??
      (run.rolledBack
        ? messages.restoreRolledBack(shown, result.error)
        : messages.restoreMachineBroke(shown, result.error, run.settled));
    return {
      ok: false,
      error,
      rolledBack: run.rolledBack,
      stateDurations: result.stateDurations,
      warnings: run.warnings,
    };
  }
  const { output, stateDurations, durationMs } = result;
  const warnings = [...run.warnings, ...output.laterErrors.map(asError)];
  if (output.ok && output.facts.placed && run.settled)
    return { ok: true, file: request.file, durationMs, stateDurations, warnings };
  const error =
    output.error !== undefined
      ? asError(output.error)
      : (lostLock(run.lockLost.signal) ??
        new Error(`the restore was ${output.cancel === 'timeout' ? 'stopped by its time limit' : 'cancelled'}`));
  return { ok: false, error, rolledBack, stateDurations, warnings };
}
