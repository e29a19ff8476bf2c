import { getSimplePaths } from 'xstate/graph';
import type { TraversalOptions } from 'xstate/graph';
import type { EventFromLogic, SnapshotFrom } from 'xstate';
import type { BackupMachine, SupervisorInput, SupervisorKind } from '../../state-machines/backup-machine.js';

// Walks every path of the backup supervisor (or a mutation of it), for a backup and for a restore, with every
// outcome of every step (done, error) and a cancel at every point, and says which of the machine's promises a
// path breaks. test/backup-machine-graph.test.ts expects none for the real machine; the mutation test expects
// each deliberate mistake in it to break the promise it is about.

type Snapshot = SnapshotFrom<BackupMachine>;
type Event = EventFromLogic<BackupMachine>;
/** The done/error events XState sends itself when an invoked actor settles (not in the machine's event union). */
const internal = (event: { type: string; output?: unknown; error?: unknown }) => event as unknown as Event;

export interface Walk {
  kind: SupervisorKind;
  names: string[];
  visited: Snapshot[];
  /** events[i] led into visited[i] (the first is xstate.init). */
  events: string[];
  last: Snapshot;
}

type StateConfigs = NonNullable<BackupMachine['config']['states']>;
type InvokeConfig = { id?: string; input?: unknown };

export function invokeOf(machine: BackupMachine, state: string): InvokeConfig | undefined {
  const invoke = (machine.config.states as StateConfigs)[state]?.invoke as InvokeConfig | InvokeConfig[] | undefined;
  return Array.isArray(invoke) ? invoke[0] : invoke;
}

/** For any snapshot: the step it waits for succeeds (producing a marker), fails, or the user cancels. */
function eventsFor(machine: BackupMachine) {
  return (snapshot: Snapshot): Event[] => {
    const id = invokeOf(machine, String(snapshot.value))?.id;
    if (!id) return [];
    return [
      internal({ type: `xstate.done.actor.${id}`, output: { from: id } }),
      internal({ type: `xstate.error.actor.${id}`, error: new Error(`${id} failed`) }),
      { type: 'CANCEL', reason: 'cancelled' },
    ];
  };
}

/** Every outcome of every step, and a cancel, from every state (for getSimplePaths and getAdjacencyMap). */
export const traversal = (
  machine: BackupMachine,
  kind: SupervisorKind,
): TraversalOptions<Snapshot, Event, SupervisorInput> => ({
  events: eventsFor(machine),
  input: { kind },
  serializeState: (s) =>
    JSON.stringify({
      value: s.value,
      c: { ...s.context, error: s.context.error !== undefined, laterErrors: 0, facts: Object.keys(s.context.facts) },
    }),
});

/** Every complete path (ending in a final state) of one kind of run. */
export function completePaths(machine: BackupMachine, kind: SupervisorKind): Walk[] {
  return getSimplePaths(machine, traversal(machine, kind))
    .filter((p) => p.state.status === 'done')
    .map((p) => {
      const visited = p.steps.map((s) => s.state);
      return {
        kind,
        names: visited.map((s) => String(s.value)),
        visited,
        events: p.steps.map((s) => s.event.type),
        last: p.state,
      };
    });
}

export const show = (w: Walk) => `${w.kind}: ${w.names.map((n, i) => `${n}${mark(w.events[i + 1])}`).join(' → ')}`;
const mark = (event: string | undefined) =>
  event?.startsWith('xstate.error') ? ' ✗' : event === 'CANCEL' ? ' (cancel)' : '';

const stepDone = (w: Walk, step: string, before = w.events.length) =>
  w.events.slice(0, before).includes(`xstate.done.actor.${step}`);

/** The promises of the machine, each a check of one complete path; each returns what is wrong, if anything. */
export const PROMISES = {
  /** A backup is renamed into place only after its copy passed verifying and its audit; a restore only after verifying. */
  placedOnlyVerified(w: Walk): string | undefined {
    for (const [state, needs] of [
      ['committing', ['verify', 'audit']],
      ['replacing', ['verify']],
    ] as const) {
      const at = w.names.indexOf(state);
      if (at < 0) continue;
      const missing = needs.filter((step) => !stepDone(w, step, at + 1));
      if (missing.length) return `${state} entered without a passed ${missing.join(' and ')}`;
    }
    if (w.kind === 'backup' && w.names.includes('replacing')) return 'a backup replaced the live database';
    if (w.kind === 'restore' && w.names.includes('auditing')) return 'a restore was audited after going live';
    const audit = w.names.indexOf('auditing');
    if (audit >= 0 && !w.names.slice(0, audit).includes('resuming')) return 'audited before resuming';
    if (w.last.context.committed && !stepDone(w, 'commit') && !stepDone(w, 'replace'))
      return 'counted as in place without a commit';
    return undefined;
  },
  /** Every copy ends in place, or removed (discarding or rejecting) after the copy was last touched. */
  copySettled(w: Walk): string | undefined {
    const copied = w.names.lastIndexOf('copying');
    if (copied < 0) return undefined;
    if (w.last.context.copyPending) return 'ends with a copy still pending';
    if (stepDone(w, 'commit') || stepDone(w, 'replace')) return undefined;
    const removed = Math.max(w.names.lastIndexOf('discarding'), w.names.lastIndexOf('rejecting'));
    return removed > copied ? undefined : 'the copy was neither put in place nor removed';
  },
  /** Every run is recorded, once, just before it ends. */
  recorded(w: Walk): string | undefined {
    if (w.names.at(-2) !== 'recording') return 'not recorded just before the end';
    // A cancel while recording stays in recording: count the times it was entered.
    const entered = w.names.filter((n, i) => n === 'recording' && w.names[i - 1] !== 'recording').length;
    if (entered !== 1) return 'recorded more than once';
    return undefined;
  },
  /** Paused workers are resumed and a closed database reopened (or its failure to reopen noted) before the end. */
  resumed(w: Walk): string | undefined {
    const firstPaused = w.visited.findIndex((s) => s.hasTag('workersPaused'));
    if (firstPaused >= 0 && !w.names.slice(firstPaused).includes('resuming')) return 'paused and never resumed';
    const lastClosed = w.visited.findLastIndex((s) => s.hasTag('databaseClosed') && String(s.value) !== 'reopening');
    if (lastClosed >= 0 && !w.names.slice(lastClosed).includes('reopening')) return 'closed and never reopened';
    return undefined;
  },
  /** What the run owes is settled at the end: the gate released, the database open unless its reopen failed. */
  tagsSettled(w: Walk): string | undefined {
    const { held, closed } = w.last.context;
    if (held) return 'ends with the database held';
    const lastReopen = Math.max(
      w.events.lastIndexOf('xstate.done.actor.reopen'),
      w.events.lastIndexOf('xstate.error.actor.reopen'),
    );
    const reopenFailed = lastReopen >= 0 && w.events[lastReopen] === 'xstate.error.actor.reopen';
    if (closed && !reopenFailed) return 'ends with the database counted as closed after it reopened';
    if (!closed && w.names.includes('closing') && !stepDone(w, 'reopen')) return 'counted as open without a reopen';
    return undefined;
  },
  /** A success only with no error, and a cancel never ends as a success unless the new file was already in place. */
  honestOutcome(w: Walk): string | undefined {
    const ok = w.last.output?.ok;
    if (ok && w.last.context.error !== undefined) return 'a success with an error';
    if (ok && w.last.context.cancel && !w.last.context.committed) return 'a cancelled run counted as a success';
    if (ok && w.names.at(-1) !== 'done') return 'a success that ended failed';
    return undefined;
  },
  /** Every step receives the facts it reads: the steps producing them succeeded earlier on the path. */
  inputsProduced(w: Walk, machine: BackupMachine): string | undefined {
    for (const [i, snapshot] of w.visited.entries()) {
      const input = invokeOf(machine, w.names[i]!)?.input;
      if (typeof input !== 'function' || w.names[i] === 'recording') continue;
      const given = (input as (args: { context: Snapshot['context'] }) => Record<string, unknown>)({
        context: snapshot.context,
      });
      const missing = Object.keys(given).filter((k) => given[k] === undefined);
      if (missing.length) return `${w.names[i]} ran without ${missing.join(', ')}`;
    }
    return undefined;
  },
} satisfies Record<string, (w: Walk, machine: BackupMachine) => string | undefined>;

export type PromiseName = keyof typeof PROMISES;

/** Every broken promise on every path of both kinds, as `promise: what (path)`. */
export function brokenPromises(machine: BackupMachine, walks?: Walk[]): { promise: PromiseName; detail: string }[] {
  const all = walks ?? [...completePaths(machine, 'backup'), ...completePaths(machine, 'restore')];
  const broken: { promise: PromiseName; detail: string }[] = [];
  for (const w of all) {
    for (const [name, check] of Object.entries(PROMISES) as [
      PromiseName,
      (w: Walk, m: BackupMachine) => string | undefined,
    ][]) {
      const wrong = check(w, machine);
      if (wrong) broken.push({ promise: name, detail: `${wrong} (${show(w)})` });
    }
  }
  return broken;
}
