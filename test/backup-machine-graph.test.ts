import { describe, expect, it } from 'vitest';
import { getAdjacencyMap, getSimplePaths } from 'xstate/graph';
import type { TraversalOptions } from 'xstate/graph';
import type { EventFromLogic, SnapshotFrom } from 'xstate';
import { backupMachine } from '../state-machines/backup-machine.js';
import type { SupervisorInput } from '../state-machines/backup-machine.js';

type Snapshot = SnapshotFrom<typeof backupMachine>;
type Event = EventFromLogic<typeof backupMachine>;
/** The done/error events XState sends itself when an invoked actor settles (not in the machine's event union). */
const internal = (event: { type: string; output?: unknown; error?: unknown }) => event as unknown as Event;

// Walks every path of the supervisor with every outcome of every step (done, error) and a cancel at every
// point, and proves the promises the machine makes: nothing is left paused, held or closed on any path.

const states = backupMachine.config.states ?? {};
const finalStates = Object.entries(states)
  .filter(([, s]) => s.type === 'final')
  .map(([name]) => name);

function invokeId(state: string): string | undefined {
  const invoke = states[state]?.invoke;
  const first = Array.isArray(invoke) ? invoke[0] : invoke;
  return first?.id;
}

/** For any snapshot: the step it waits for succeeds, fails, or the user cancels. */
function eventsFor(snapshot: Snapshot): Event[] {
  const id = invokeId(String(snapshot.value));
  if (!id) return [];
  return [
    internal({ type: `xstate.done.actor.${id}`, output: undefined }),
    internal({ type: `xstate.error.actor.${id}`, error: new Error(`${id} failed`) }),
    { type: 'CANCEL', reason: 'cancelled' },
  ];
}

const traversal: TraversalOptions<Snapshot, Event, SupervisorInput> = {
  events: eventsFor,
  input: { kind: 'backup' },
  serializeState: (s) =>
    JSON.stringify({ value: s.value, c: { ...s.context, error: s.context.error !== undefined, laterErrors: 0 } }),
};

describe('backup supervisor graph', () => {
  const adjacency = getAdjacencyMap(backupMachine, traversal);
  // State name → the state names one transition away.
  const edges = new Map<string, Set<string>>();
  for (const node of Object.values(adjacency)) {
    const from = String(node.state.value);
    for (const transition of Object.values(node.transitions) as { state: Snapshot }[]) {
      const set = edges.get(from) ?? new Set<string>();
      set.add(String(transition.state.value));
      edges.set(from, set);
    }
  }
  const reaches = (from: string, target: (s: string) => boolean): boolean => {
    const seen = new Set<string>();
    const queue = [from];
    while (queue.length) {
      const s = queue.shift()!;
      if (seen.has(s)) continue;
      seen.add(s);
      if (s !== from && target(s)) return true;
      queue.push(...(edges.get(s) ?? []));
    }
    return false;
  };

  it('reaches every state it declares', () => {
    const reached = new Set(Object.values(adjacency).map((n) => String(n.state.value)));
    expect([...reached].sort()).toEqual(Object.keys(states).sort());
  });

  it('every state before resuming can reach resuming, and every state reaches a final state', () => {
    for (const state of Object.keys(states)) {
      if (finalStates.includes(state)) continue;
      expect(
        reaches(state, (s) => finalStates.includes(s)),
        `${state} reaches an end`,
      ).toBe(true);
      if (state === 'recording' || state === 'resuming') continue;
      expect(
        reaches(state, (s) => s === 'resuming'),
        `${state} reaches resuming`,
      ).toBe(true);
    }
  });

  it('on every path, paused workers are resumed and a closed database is reopened before the end', () => {
    const paths = getSimplePaths(backupMachine, traversal);
    const complete = paths.filter((p) => p.state.status === 'done');
    expect(complete.length).toBeGreaterThan(50);
    for (const path of complete) {
      const visited = [...path.steps.map((s) => s.state), path.state];
      const names = visited.map((s) => String(s.value));
      const firstPaused = visited.findIndex((s) => s.hasTag('workersPaused'));
      if (firstPaused >= 0) expect(names.slice(firstPaused), names.join(' → ')).toContain('resuming');
      const lastClosed = visited.findLastIndex((s) => s.hasTag('databaseClosed') && String(s.value) !== 'reopening');
      if (lastClosed >= 0) expect(names.slice(lastClosed), names.join(' → ')).toContain('reopening');
      const last = path.state;
      expect(last.context.held && !names.includes('resuming'), names.join(' → ')).toBe(false);
      // A cancel or an error never ends as a success, except once the new file was in place and verified.
      const ok = last.output?.ok;
      if (ok) expect(last.context.error === undefined, names.join(' → ')).toBe(true);
      if (last.context.cancel && !last.context.committed) expect(ok).toBe(false);
    }
  });

  it('a successful run passes every step in order', () => {
    const paths = getSimplePaths(backupMachine, traversal);
    const success = paths.find(
      (p) => String(p.state.value) === 'done' && p.steps.every((s) => !s.event.type.startsWith('xstate.error')),
    );
    const order = success?.steps.map((s) => String(s.state.value));
    expect(order).toEqual([
      'locking',
      'validating',
      'flushing',
      'pausing',
      'holding',
      'checkpointing',
      'closing',
      'transferring',
      'verifying',
      'committing',
      'reopening',
      'checking',
      'resuming',
      'recording',
      'done',
    ]);
  });

  it('every state documents its invariant', () => {
    for (const [name, state] of Object.entries(states)) expect(state.description, name).toBeTruthy();
  });
});
