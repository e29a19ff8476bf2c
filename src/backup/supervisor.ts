import { createActor, enqueueActions, fromPromise, toPromise } from 'xstate';
import { asError, messageOf } from '../errors.js';
import { recordBackupRun } from '../store/backup-runs.js';
import type { BackupRunRecord, BackupRunResult } from '../store/backup-runs.js';
import type { SqlRunner } from '../store/memory-store.js';
import { backupMachine } from '../../state-machines/backup-machine.js';
import type {
  FactTypes,
  Facts,
  RecordInput,
  StepName,
  SupervisorKind,
  SupervisorOutput,
  SupervisorState,
} from '../../state-machines/backup-machine.js';
import { withLockLoss } from './backup-lock.js';
import type { BackupEvent, BackupTrigger } from './types.js';

// The one runner of the supervisor machine, for a backup and a restore alike: it builds the step actors from a
// kind's typed step table, starts the machine, turns its snapshots into timed transitions and step lines, bridges
// an AbortSignal and a time limit into CANCEL, records the run in backup_runs however it ends, and, should the
// machine itself fail, still leaves the database open and the workers running. The machine only sequences;
// the steps (backup-steps.ts, restore-steps.ts) only do I/O; nothing here calls back into either but through
// the step table.

type Args<I> = { input: I; signal: AbortSignal };
type Step<I, O = void> = (args: Args<I>) => Promise<O>;
type Read<F extends FactTypes, K extends keyof F> = Pick<F, K>;

/**
 * One kind of run's steps, by the machine's step names. Each receives the facts the machine kept from the steps
 * before it (the machine's `reads`) and returns what it produced (its `keeps`). A backup provides `audit` and
 * `commit`, a restore `replace`; the machine never enters the other kind's states.
 */
export interface StepTable<F extends FactTypes> {
  lock: Step<object>;
  validate: Step<object, F['target']>;
  flush: Step<object>;
  pause: Step<object>;
  hold: Step<object>;
  checkpoint: Step<object, F['snapshot']>;
  close: Step<object>;
  copy: Step<Read<F, 'target'>, F['copy']>;
  verify: Step<Read<F, 'target' | 'snapshot' | 'copy'>>;
  discard: Step<object>;
  reopen: Step<object>;
  check: Step<Read<F, 'snapshot'>>;
  resume: Step<object>;
  replace?: Step<Read<F, 'target' | 'snapshot' | 'copy'>, F['placed']>;
  audit?: Step<Read<F, 'target' | 'snapshot' | 'copy'>, F['audit']>;
  commit?: Step<Read<F, 'target' | 'snapshot' | 'copy' | 'audit'>, F['placed']>;
}

/** The line shown on entering a state: fixed, or worked out from the facts so far. */
export type StepLine<F extends FactTypes> = string | ((facts: Partial<F>, paused: boolean) => string | undefined);
export type StepLines<F extends FactTypes> = { [S in SupervisorState]?: StepLine<F> };

/** The lines a backup and a restore share; each kind adds or replaces its own. */
const SHARED_LINES: StepLines<FactTypes> = {
  flushing: 'Flushing recent writes to the database file...',
  pausing: 'Pausing background workers...',
  checkpointing: 'Checkpointing the database...',
  closing: 'Closing database connections...',
  discarding: 'Removing the incomplete copy...',
  reopening: 'Reopening database...',
  resuming: (_facts, paused) => (paused ? 'Resuming background workers...' : undefined),
};

/** One run of a kind (backup-steps.ts, restore-steps.ts): its steps and what it holds while it runs. */
export interface RunSteps<F extends FactTypes> {
  steps(): StepTable<F>;
  /** Aborted when the backup lock is found lost while the run holds it: the run is cancelled. */
  readonly lockLost: AbortController;
  /**
   * Last resort if the machine itself broke: never leave the gate shut, the workers parked or the live database
   * missing. Resolves to what it could not do that leaves the memory at risk (the database not reopened, a
   * restore's previous database not put back), which is what the user must read.
   */
  emergencyCleanup(): Promise<Error | undefined>;
  /** Releases what the run holds besides the database (the lock, the copy threads), however it ended. */
  finish(): Promise<void>;
}

export interface RunOptions<F extends FactTypes> {
  kind: SupervisorKind;
  trigger: BackupTrigger;
  run: RunSteps<F>;
  lines: StepLines<F>;
  /** What the backup_runs row says about the file, once the run is over. */
  describe: (ok: boolean, facts: Partial<F>) => Pick<BackupRunRecord, 'path' | 'sizeBytes' | 'hashAlgorithm' | 'hash'>;
  store: SqlRunner;
  signal?: AbortSignal | undefined;
  /** Cancels the run (reason `timeout`) after this long; the cancel takes the usual paths back. */
  timeoutMs?: number | undefined;
  emit: (event: BackupEvent) => void;
  faults?: SupervisorFaults | undefined;
}

/** Fault injection for tests, through the runner's options (never module mocking). */
export interface SupervisorFaults {
  /**
   * The machine itself breaks, as a defect in it would (an action or guard that throws), when this step's outcome
   * (done or failed) or a CANCEL arrives: it stops where it stands and the runner's last-resort path takes over.
   */
  breakOn?: StepName | 'record' | 'CANCEL' | undefined;
}

export type RunResult<F extends FactTypes> =
  | {
      crashed: false;
      output: SupervisorOutput & { facts: Partial<F> };
      /** Milliseconds spent in each state (summed if a state was entered twice). */
      stateDurations: Record<string, number>;
      durationMs: number;
    }
  | {
      crashed: true;
      /** The machine's defect. */
      error: Error;
      /** What the last-resort cleanup could not do that leaves the memory at risk: this is the error to show. */
      atRisk: Error | undefined;
      stateDurations: Record<string, number>;
    };

export async function runSupervised<F extends FactTypes>(options: RunOptions<F>): Promise<RunResult<F>> {
  const { emit, run } = options;
  const startedAt = Date.now();
  const stateDurations: Record<string, number> = {};
  let paused = false;
  const lines: StepLines<F> = { ...SHARED_LINES, ...options.lines };

  const recordRun = async ({ ok, error, cancel, facts }: RecordInput, crashed = false) => {
    // A refused run never paused anything; a cancel is a cancel even if it surfaced as an error on its way; a
    // broken machine is a failure wherever it broke.
    const result: BackupRunResult = ok ? 'success' : cancel ? 'cancelled' : paused || crashed ? 'failed' : 'refused';
    await recordBackupRun(options.store, {
      trigger: options.trigger,
      kind: options.kind,
      startedAt: new Date(startedAt),
      finishedAt: new Date(),
      result,
      ...options.describe(ok, typed<F>(facts)),
      stateDurations,
      error: ok ? undefined : error === undefined ? `cancelled (${cancel})` : messageOf(error),
    });
  };
  let recorded = false;
  const record = fromPromise<void, RecordInput>(({ input }) => {
    recorded = true;
    return recordRun(input);
  });
  const inFlight = new StepsInFlight();
  const machine = breakable(options.faults?.breakOn);
  const actor = createActor(machine.provide({ actors: { ...stepActors(run.steps(), inFlight), record } }), {
    input: { kind: options.kind },
  });

  let current: SupervisorState | undefined;
  let enteredAt = startedAt;
  actor.subscribe({
    next: (snapshot) => {
      const state = snapshot.value as SupervisorState;
      if (state === current) return;
      const at = Date.now();
      if (state === 'pausing') paused = true;
      if (current !== undefined) {
        stateDurations[current] = (stateDurations[current] ?? 0) + (at - enteredAt);
        emit({ type: 'transition', from: current, to: state, at: new Date(at), msInPrevious: at - enteredAt });
        const line = lines[state];
        const text = typeof line === 'function' ? line(typed<F>(snapshot.context.facts), paused) : line;
        if (text) emit({ type: 'step', text });
      }
      current = state;
      enteredAt = at;
    },
    error: () => undefined, // surfaced by toPromise below
  });

  const signal = withLockLoss(options.signal, run.lockLost.signal);
  const cancel = () => actor.send({ type: 'CANCEL', reason: 'cancelled' });
  signal.addEventListener('abort', cancel, { once: true });
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => actor.send({ type: 'CANCEL', reason: 'timeout' }), options.timeoutMs);
  try {
    actor.start();
    if (signal.aborted) cancel();
    const output = await toPromise(actor);
    return {
      crashed: false,
      output: { ...output, facts: typed<F>(output.facts) },
      stateDurations,
      durationMs: Date.now() - startedAt,
    };
  } catch (err) {
    // Only a defect in the machine gets here, and it stopped where it stood: no step of its own will run. The
    // steps it left running are stopped first (it no longer aborts them), then the run leaves the database open
    // and the workers running, and the run is recorded as failed like any other.
    if (current !== undefined) stateDurations[current] = (stateDurations[current] ?? 0) + (Date.now() - enteredAt);
    await inFlight.stopAll();
    const atRisk = await run.emergencyCleanup().catch((cleanupError: unknown) => asError(cleanupError));
    const facts = typed<F>(actor.getSnapshot().context.facts);
    // Once (a machine that broke on leaving `recording` has recorded the run already).
    if (!recorded) await recordRun({ ok: false, error: err, cancel: undefined, facts }, true).catch(() => undefined);
    return { crashed: true, error: asError(err), atRisk, stateDurations };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', cancel);
    actor.stop();
    await run.finish();
  }
}

/**
 * The machine keeps each fact from the output of the one step that produces it (its `keeps`), so a fact it holds
 * has that step's type in the table; the casts from the machine's untyped facts rely on this, and on the graph
 * test's proof that every fact a step reads was kept before the step runs.
 */
const typed = <F extends FactTypes>(facts: Facts) => facts as Partial<F>;

/**
 * The steps running now, each with a stop of its own: a machine that breaks stops invoking and leaves the step
 * it was waiting on running (XState does not stop the children of an actor that failed), so the runner stops it.
 */
class StepsInFlight {
  private readonly running = new Map<Promise<unknown>, AbortController>();

  run<T>(signal: AbortSignal, start: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const stop = new AbortController();
    const promise = start(AbortSignal.any([signal, stop.signal]));
    this.running.set(promise, stop);
    const forget = () => this.running.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async stopAll(): Promise<void> {
    for (const stop of this.running.values()) stop.abort();
    await Promise.allSettled([...this.running.keys()]);
  }
}

/** The step table as the machine's actors. */
function stepActors<F extends FactTypes>(steps: StepTable<F>, inFlight: StepsInFlight) {
  const actor = (name: StepName) =>
    fromPromise<unknown, Facts>(({ input, signal }) =>
      inFlight.run(signal, async (stepSignal) => {
        // XState starts an invoked actor before it tells subscribers of the state that invoked it: without this
        // wait, a step's synchronous work (closing the database, say) was counted in the state before.
        await Promise.resolve();
        const step = steps[name] as Step<Facts, unknown> | undefined; // see `typed` above
        if (!step) throw new Error(`this kind of run has no ${name} step`);
        return step({ input, signal: stepSignal });
      }),
    );
  return {
    lock: actor('lock'),
    validate: actor('validate'),
    flush: actor('flush'),
    pause: actor('pause'),
    hold: actor('hold'),
    checkpoint: actor('checkpoint'),
    close: actor('close'),
    copy: actor('copy'),
    verify: actor('verify'),
    replace: actor('replace'),
    discard: actor('discard'),
    reopen: actor('reopen'),
    check: actor('check'),
    resume: actor('resume'),
    audit: actor('audit'),
    commit: actor('commit'),
  } satisfies Record<StepName, unknown>;
}

/**
 * The machine, or (a test's fault) one whose first guard or action on the named event throws, the way a defect
 * in an action or guard breaks an XState actor. Every guard and every action but `keep` (which takes parameters
 * and is never the only thing a transition does) is wrapped, so the break happens before anything else of that
 * transition.
 */
function breakable(breakOn: SupervisorFaults['breakOn']) {
  if (breakOn === undefined) return backupMachine;
  const breaks = (event: { type: string }) =>
    breakOn === 'CANCEL'
      ? event.type === 'CANCEL'
      : event.type === `xstate.done.actor.${breakOn}` || event.type === `xstate.error.actor.${breakOn}`;
  const defect = () => new Error(`the supervisor broke on ${breakOn} (injected fault)`);
  type Implementations = NonNullable<Parameters<typeof backupMachine.provide>[0]>;
  type Guard = (args: { event: { type: string } }, params: unknown) => boolean;
  const { guards, actions } = backupMachine.implementations;
  const brokenGuards = Object.fromEntries(
    Object.entries(guards as Record<string, Guard>).map(([name, guard]) => [
      name,
      ((args, params) => {
        if (breaks(args.event)) throw defect();
        return guard(args, params);
      }) satisfies Guard,
    ]),
  );
  const brokenActions = Object.fromEntries(
    Object.entries(actions)
      .filter(([name]) => name !== 'keep')
      .map(([name, action]) => [
        name,
        enqueueActions(({ event, enqueue }) => {
          if (breaks(event)) throw defect();
          enqueue(action as never); // the very action it wraps, as the machine defined it
        }),
      ]),
  );
  return backupMachine.provide({
    guards: brokenGuards as Implementations['guards'],
    actions: brokenActions as Implementations['actions'],
  });
}

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

export { asError };
