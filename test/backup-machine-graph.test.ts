import { describe, expect, it } from 'vitest';
import { getAdjacencyMap, getSimplePaths } from 'xstate/graph';
import type { TraversalOptions } from 'xstate/graph';
import type { EventFromLogic, SnapshotFrom } from 'xstate';
import { backupMachine } from '../state-machines/backup-machine.js';
import type { SupervisorInput, SupervisorKind } from '../state-machines/backup-machine.js';

type Snapshot = SnapshotFrom<typeof backupMachine>;
type Event = EventFromLogic<typeof backupMachine>;
/** The done/error events XState sends itself when an invoked actor settles (not in the machine's event union). */
const internal = (event: { type: string; output?: unknown; error?: unknown }) => event as unknown as Event;

// Walks every path of the supervisor, for a backup and for a restore, with every outcome of every step (done,
// error) and a cancel at every point, and proves the promises the machine makes: nothing is left paused, held or
// closed on any path; a backup's copy is renamed into place only after a passed audit and is otherwise removed;
// every run is recorded.

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

const traversal = (kind: SupervisorKind): TraversalOptions<Snapshot, Event, SupervisorInput> => ({
  events: eventsFor,
  input: { kind },
  serializeState: (s) =>
    JSON.stringify({ value: s.value, c: { ...s.context, error: s.context.error !== undefined, laterErrors: 0 } }),
});

interface Walk {
  names: string[];
  visited: Snapshot[];
  events: string[];
  last: Snapshot;
}

/** Every complete path (ending in a final state) of one kind of run. */
function completePaths(kind: SupervisorKind): Walk[] {
  return getSimplePaths(backupMachine, traversal(kind))
    .filter((p) => p.state.status === 'done')
    .map((p) => {
      // steps[i].event led to steps[i].state: the first is the initial state (xstate.init), the last is p.state.
      const visited = p.steps.map((s) => s.state);
      return {
        names: visited.map((s) => String(s.value)),
        visited,
        events: p.steps.map((s) => s.event.type),
        last: p.state,
      };
    });
}

const walks = { backup: completePaths('backup'), restore: completePaths('restore') };
const all = [...walks.backup, ...walks.restore];
const show = (w: Walk) => w.names.join(' → ');

describe('backup supervisor graph', () => {
  const edges = new Map<string, Set<string>>();
  const reached = new Set<string>();
  for (const kind of ['backup', 'restore'] as const) {
    for (const node of Object.values(getAdjacencyMap(backupMachine, traversal(kind)))) {
      const from = String(node.state.value);
      reached.add(from);
      for (const transition of Object.values(node.transitions) as { state: Snapshot }[]) {
        const set = edges.get(from) ?? new Set<string>();
        set.add(String(transition.state.value));
        edges.set(from, set);
      }
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

  it('reaches every state it declares (a backup or a restore)', () => {
    expect([...reached].sort()).toEqual(Object.keys(states).sort());
  });

  it('every state that pauses anything can reach resuming, and every state reaches a final state', () => {
    for (const state of Object.keys(states)) {
      if (finalStates.includes(state)) continue;
      expect(
        reaches(state, (s) => finalStates.includes(s)),
        `${state} reaches an end`,
      ).toBe(true);
      if (!states[state]?.tags?.includes('workersPaused') || state === 'resuming') continue;
      expect(
        reaches(state, (s) => s === 'resuming'),
        `${state} reaches resuming`,
      ).toBe(true);
    }
  });

  it('resumes from every error: paused workers are resumed and a closed database reopened before the end', () => {
    expect(walks.backup.length).toBeGreaterThan(50);
    expect(walks.restore.length).toBeGreaterThan(50);
    for (const w of all) {
      const firstPaused = w.visited.findIndex((s) => s.hasTag('workersPaused'));
      if (firstPaused >= 0) expect(w.names.slice(firstPaused), show(w)).toContain('resuming');
      // After any error that came once the workers were asked to pause, the path still passes resuming.
      w.events.forEach((type, i) => {
        if (type.startsWith('xstate.error') && firstPaused >= 0 && i > firstPaused && w.names[i - 1] !== 'resuming') {
          const resumedBefore = w.names.slice(0, i).includes('resuming');
          if (!resumedBefore) expect(w.names.slice(i), show(w)).toContain('resuming');
        }
      });
      const lastClosed = w.visited.findLastIndex((s) => s.hasTag('databaseClosed') && String(s.value) !== 'reopening');
      if (lastClosed >= 0) expect(w.names.slice(lastClosed), show(w)).toContain('reopening');
      expect(w.last.context.held, show(w)).toBe(false);
      // A cancel or an error never ends as a success, except once the new file was in place and verified.
      const ok = w.last.output?.ok;
      if (ok) expect(w.last.context.error === undefined, show(w)).toBe(true);
      if (w.last.context.cancel && !w.last.context.committed) expect(ok).toBe(false);
    }
  });

  it('never renames a backup into place without a passed audit, and audits only after resuming', () => {
    for (const w of walks.backup) {
      expect(w.names, show(w)).not.toContain('replacing');
      const at = w.names.indexOf('committing');
      if (w.last.context.committed) expect(at, show(w)).toBeGreaterThan(0);
      if (at < 0) continue;
      expect(w.names[at - 1], show(w)).toBe('auditing');
      expect(w.events[at], show(w)).toBe('xstate.done.actor.audit');
      const audit = w.names.indexOf('auditing');
      expect(w.names.slice(0, audit), show(w)).toContain('resuming');
      expect(w.visited[audit]!.hasTag('workersPaused') || w.visited[audit]!.hasTag('databaseClosed')).toBe(false);
    }
    for (const w of walks.restore) expect(w.names, show(w)).not.toContain('auditing');
  });

  it('discards the temporary file on every path after the copy began that did not put it in place', () => {
    for (const w of all) {
      const copied = w.names.lastIndexOf('copying');
      if (copied < 0 || w.last.context.committed) continue;
      const removed = Math.max(w.names.lastIndexOf('discarding'), w.names.lastIndexOf('rejecting'));
      expect(removed, show(w)).toBeGreaterThan(copied);
      expect(w.last.context.copyPending, show(w)).toBe(false);
    }
  });

  it('records every run, whatever happened, just before it ends', () => {
    for (const w of all) {
      expect(finalStates).toContain(w.names.at(-1));
      expect(w.names.at(-2), show(w)).toBe('recording');
    }
  });

  const success = (kind: SupervisorKind) =>
    walks[kind].find((w) => w.names.at(-1) === 'done' && w.events.every((e) => !e.startsWith('xstate.error')))?.names;

  it('a successful backup pauses only for the copy and audits it after resuming', () => {
    expect(success('backup')).toEqual([
      'locking',
      'validating',
      'flushing',
      'pausing',
      'holding',
      'checkpointing',
      'closing',
      'copying',
      'verifying',
      'reopening',
      'checking',
      'resuming',
      'auditing',
      'committing',
      'recording',
      'done',
    ]);
  });

  it('a successful restore verifies and replaces before reopening', () => {
    expect(success('restore')).toEqual([
      'locking',
      'validating',
      'flushing',
      'pausing',
      'holding',
      'checkpointing',
      'closing',
      'copying',
      'verifying',
      'replacing',
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
