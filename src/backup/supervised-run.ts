import { asError, messageOf } from '../errors.js';
import { recordBackupRun } from '../store/backup-runs.js';
import type { BackupRunRecord, BackupRunResult } from '../store/backup-runs.js';
import type { SqlRunner } from '../store/memory-store.js';
import type { RecordInput, StepName, SupervisorKind } from '../../state-machines/backup-machine.js';
import { runSupervisor } from './supervisor.js';
import type { StepImplementation, SupervisorResult } from './supervisor.js';
import type { BackupEvent, BackupTrigger } from './types.js';

// What a backup and a restore share around the supervisor: events that a broken display cannot break, the
// step lines of the seed, the time in each state, one row in backup_runs however the run ends, and, should the
// supervisor itself fail, an emergency path that still leaves the database open and the workers running.

/** The steps of one run (backup-steps.ts, restore-steps.ts) and how to clean up after them. */
export interface SupervisedSteps {
  steps(): Record<StepName, StepImplementation>;
  readonly warnings: Error[];
  emergencyCleanup(): Promise<void>;
  finish(): Promise<void>;
}

export interface SupervisedRunOptions {
  kind: SupervisorKind;
  trigger: BackupTrigger;
  run: SupervisedSteps;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  emit: (event: BackupEvent) => void;
  /** The line shown on entering a state, if any; `paused` says whether the workers were asked to pause. */
  stepLine: (state: string, paused: boolean) => string | undefined;
  /** What the backup_runs row says about the file, once the run is over. */
  describe: (ok: boolean) => Pick<BackupRunRecord, 'path' | 'sizeBytes' | 'hashAlgorithm' | 'hash'>;
  store: SqlRunner;
}

export type SupervisedResult =
  | ({ crashed: false } & SupervisorResult & { durationMs: number })
  | { crashed: true; error: Error; stateDurations: Record<string, number> };

/** Wraps onEvent so that a display that throws never breaks the run. */
export function safeEmitter(onEvent: ((event: BackupEvent) => void) | undefined): (event: BackupEvent) => void {
  return (event) => {
    try {
      onEvent?.(event);
    } catch {
      // a broken display must not break the backup or the restore
    }
  };
}

export async function superviseRun(options: SupervisedRunOptions): Promise<SupervisedResult> {
  const { run, emit } = options;
  const durations: Record<string, number> = {};
  const startedAt = new Date();
  let paused = false;
  const steps = run.steps();
  const pause = steps.pause;
  steps.pause = (args) => {
    paused = true;
    return pause(args);
  };
  steps.record = async ({ input }) => {
    const { ok, error, cancel } = input as RecordInput;
    // A refused run never paused anything; a cancel is a cancel even if it surfaced as an error on its way.
    const result: BackupRunResult = ok ? 'success' : cancel ? 'cancelled' : paused ? 'failed' : 'refused';
    await recordBackupRun(options.store, {
      trigger: options.trigger,
      kind: options.kind,
      startedAt,
      finishedAt: new Date(),
      result,
      ...options.describe(ok),
      stateDurations: durations,
      error: ok ? undefined : error === undefined ? `cancelled (${cancel})` : messageOf(error),
    });
  };

  try {
    const result = await runSupervisor({
      kind: options.kind,
      steps,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      onTransition: (t) => {
        durations[t.from] = (durations[t.from] ?? 0) + t.msInPrevious;
        emit({ type: 'transition', ...t });
        const line = options.stepLine(t.to, paused);
        if (line) emit({ type: 'step', text: line });
      },
    });
    return { crashed: false, ...result, durationMs: Date.now() - startedAt.getTime() };
  } catch (err) {
    // Only a defect in the supervisor gets here; still leave the database open and the workers running.
    await run.emergencyCleanup();
    return { crashed: true, error: asError(err), stateDurations: durations };
  } finally {
    await run.finish();
  }
}

/** The seed's step lines for the states a backup and a restore share; each adds its own for the rest. */
export function sharedStepLine(state: string, paused: boolean): string | undefined {
  switch (state) {
    case 'flushing':
      return 'Flushing recent writes to the database file...';
    case 'pausing':
      return 'Pausing background workers...';
    case 'checkpointing':
      return 'Checkpointing the database...';
    case 'closing':
      return 'Closing database connections...';
    case 'discarding':
      return 'Removing the incomplete copy...';
    case 'reopening':
      return 'Reopening database...';
    case 'resuming':
      return paused ? 'Resuming background workers...' : undefined;
    default:
      return undefined;
  }
}

export { asError };
