import { createActor, fromPromise, toPromise } from 'xstate';
import { STEP_NAMES, backupMachine } from '../../state-machines/backup-machine.js';
import type {
  RecordInput,
  StepInput,
  StepName,
  SupervisorKind,
  SupervisorOutput,
} from '../../state-machines/backup-machine.js';

// Runs the supervisor machine with the given step implementations: a backup (backup-steps.ts) or a restore
// (which provides a "replace" transfer and a real check). Turns the actor's snapshots into timestamped
// transitions with the time spent in the state left, bridges an AbortSignal and an overall timeout into CANCEL
// events, and resolves with the machine's output once it reaches a final state.

export type StepImplementation = (args: { input: StepInput | RecordInput; signal: AbortSignal }) => Promise<void>;

export interface Transition {
  from: string;
  to: string;
  at: Date;
  msInPrevious: number;
}

export interface SupervisorRunOptions {
  kind: SupervisorKind;
  steps: Record<StepName, StepImplementation>;
  signal?: AbortSignal | undefined;
  /** Cancels the run (reason `timeout`) after this long; the cancel takes the usual paths back. */
  timeoutMs?: number | undefined;
  onTransition?: (transition: Transition) => void;
  now?: () => number;
}

export interface SupervisorResult {
  output: SupervisorOutput;
  /** Milliseconds spent in each state (summed if a state was entered twice). */
  stateDurations: Record<string, number>;
  /** The states in the order they were entered. */
  path: string[];
  startedAt: Date;
  finishedAt: Date;
}

export async function runSupervisor(options: SupervisorRunOptions): Promise<SupervisorResult> {
  const now = options.now ?? Date.now;
  const actors = Object.fromEntries(
    STEP_NAMES.map((name) => [
      name,
      fromPromise<void, StepInput | RecordInput>(async ({ input, signal }) => {
        // XState starts an invoked actor before it tells subscribers of the state that invoked it: without this
        // wait, a step's synchronous work (closing the database, say) was counted in the state before.
        await Promise.resolve();
        return options.steps[name]({ input, signal });
      }),
    ]),
  );
  const machine = backupMachine.provide({ actors: actors as never });
  const actor = createActor(machine, { input: { kind: options.kind } });

  const startedAt = now();
  const stateDurations: Record<string, number> = {};
  const path: string[] = [];
  let current: string | undefined;
  let enteredAt = startedAt;
  actor.subscribe({
    next: (snapshot) => {
      const state = String(snapshot.value);
      if (state === current) return;
      const at = now();
      if (current !== undefined) {
        stateDurations[current] = (stateDurations[current] ?? 0) + (at - enteredAt);
        options.onTransition?.({ from: current, to: state, at: new Date(at), msInPrevious: at - enteredAt });
      }
      current = state;
      enteredAt = at;
      path.push(state);
    },
    error: () => undefined, // surfaced by toPromise below
  });

  const cancel = () => actor.send({ type: 'CANCEL', reason: 'cancelled' });
  options.signal?.addEventListener('abort', cancel, { once: true });
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => actor.send({ type: 'CANCEL', reason: 'timeout' }), options.timeoutMs);
  try {
    actor.start();
    if (options.signal?.aborted) cancel();
    const output = await toPromise(actor);
    return { output, stateDurations, path, startedAt: new Date(startedAt), finishedAt: new Date(now()) };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', cancel);
    actor.stop();
  }
}
