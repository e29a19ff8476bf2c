import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor } from 'xstate';
import { getAdjacencyMap } from 'xstate/graph';
import type { Actor, SnapshotFrom } from 'xstate';
import { STEP_NAMES, backupMachine } from '../state-machines/backup-machine.js';
import type { BackupMachine, Facts, RecordInput, StepName, SupervisorKind } from '../state-machines/backup-machine.js';
import { PROMISES, brokenPromises, completePaths, show, traversal } from './helpers/supervisor-paths.js';
import type { Walk } from './helpers/supervisor-paths.js';

type Snapshot = SnapshotFrom<typeof backupMachine>;

// Walks every path of the supervisor, for a backup and for a restore, with every outcome of every step (done,
// error) and a cancel at every point, and proves the promises the machine makes: nothing is left paused, held or
// closed on any path; a backup's copy is renamed into place only after a passed verification and audit and is
// otherwise removed; every run is recorded; every step gets what earlier steps produced
// (helpers/supervisor-paths.ts; backup-machine-mutations.test.ts shows each promise catching a broken machine).

const states = backupMachine.config.states ?? {};
const finalStates = Object.entries(states)
  .filter(([, s]) => s.type === 'final')
  .map(([name]) => name);

const walks: Record<SupervisorKind, Walk[]> = {
  backup: completePaths(backupMachine, 'backup'),
  restore: completePaths(backupMachine, 'restore'),
};
const all = [...walks.backup, ...walks.restore];

describe('backup supervisor graph', () => {
  const edges = new Map<string, Set<string>>();
  const reached = new Set<string>();
  for (const kind of ['backup', 'restore'] as const) {
    for (const node of Object.values(getAdjacencyMap(backupMachine, traversal(backupMachine, kind)))) {
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

  it('keeps every promise on every path of a backup and a restore', () => {
    expect(brokenPromises(backupMachine, all)).toEqual([]);
  });

  it('hands every step the facts it reads, kept from the steps that produced them earlier on the path', () => {
    for (const w of all) expect(PROMISES.inputsProduced(w, backupMachine), show(w)).toBeUndefined();
    // Not vacuous: the walks do reach the steps that read facts.
    expect(all.some((w) => w.names.includes('committing'))).toBe(true);
    expect(all.some((w) => w.names.includes('replacing'))).toBe(true);
  });

  it('every state documents its invariant', () => {
    for (const [name, state] of Object.entries(states)) expect(state.description, name).toBeTruthy();
  });
});

type StepFn = (input: Facts, signal: AbortSignal) => Promise<unknown>;

/** The real machine with steps that succeed at once (each returns `{ from: <step> }`) unless overridden. */
function scripted(overrides: Partial<Record<StepName, StepFn>> = {}) {
  const calls: { step: StepName; input: Facts }[] = [];
  const records: RecordInput[] = [];
  const step = (name: StepName) =>
    fromPromise<unknown, Facts>(async ({ input, signal }) => {
      calls.push({ step: name, input });
      return overrides[name] ? overrides[name](input, signal) : { from: name };
    });
  const actors = Object.fromEntries(STEP_NAMES.map((name) => [name, step(name)])) as Record<
    StepName,
    ReturnType<typeof step>
  >;
  const record = fromPromise<void, RecordInput>(async ({ input }) => {
    records.push(input);
  });
  const machine = backupMachine.provide({ actors: { ...actors, record } });
  return { machine, calls, records, steps: () => calls.map((c) => c.step) };
}

const finished = (actor: Actor<BackupMachine>) => waitFor(actor, (s) => s.status === 'done');

describe('backup supervisor with provided steps', () => {
  it('a backup hands its copy to verifying, auditing and committing, and records the success', async () => {
    const run = scripted();
    const actor = createActor(run.machine, { input: { kind: 'backup' } }).start();
    const end = await finished(actor);
    expect(end.output).toMatchObject({ ok: true, committed: true, facts: { placed: { from: 'commit' } } });
    const inputOf = (step: StepName) => run.calls.find((c) => c.step === step)?.input;
    const window = { target: { from: 'validate' }, snapshot: { from: 'checkpoint' }, copy: { from: 'copy' } };
    expect(inputOf('copy')).toEqual({ target: { from: 'validate' } });
    expect(inputOf('verify')).toEqual(window);
    expect(inputOf('audit')).toEqual(window);
    expect(inputOf('commit')).toEqual({ ...window, audit: { from: 'audit' } });
    expect(run.records).toMatchObject([{ ok: true, cancel: undefined }]);
  });

  it('a failed verification discards the copy, reopens and resumes, and never audits or commits it', async () => {
    const run = scripted({
      verify: async () => {
        throw new Error('size: 10 bytes, the database has 20');
      },
    });
    const end = await finished(createActor(run.machine, { input: { kind: 'backup' } }).start());
    expect(run.steps().slice(run.steps().indexOf('verify'))).toEqual([
      'verify',
      'discard',
      'reopen',
      'check',
      'resume',
    ]);
    expect(end.output?.ok).toBe(false);
    expect(String(end.output?.error)).toContain('size: 10 bytes');
    expect(end.output?.facts.placed).toBeUndefined();
    expect(run.records).toMatchObject([{ ok: false }]);
  });

  it('a cancel during the copy stops it through its signal, then discards, reopens and resumes', async () => {
    let copySignal: AbortSignal | undefined;
    const run = scripted({
      copy: (_input, signal) =>
        new Promise((_resolve, reject) => {
          copySignal = signal;
          signal.addEventListener('abort', () => reject(new Error('copy stopped')));
        }),
    });
    const actor = createActor(run.machine, { input: { kind: 'backup' } }).start();
    await waitFor(actor, (s) => String(s.value) === 'copying');
    actor.send({ type: 'CANCEL', reason: 'cancelled' });
    const end = await finished(actor);
    expect(copySignal?.aborted).toBe(true);
    expect(run.steps().slice(run.steps().indexOf('copy'))).toEqual(['copy', 'discard', 'reopen', 'check', 'resume']);
    expect(end.value).toBe('failed');
    expect(end.output).toMatchObject({ ok: false, cancel: 'cancelled', committed: false });
    expect(run.records).toMatchObject([{ ok: false, cancel: 'cancelled' }]);
  });

  it('a restore replaces with its verified copy before reopening, and is never audited', async () => {
    const run = scripted();
    const end = await finished(createActor(run.machine, { input: { kind: 'restore' } }).start());
    expect(end.output).toMatchObject({ ok: true, committed: true, facts: { placed: { from: 'replace' } } });
    const steps = run.steps();
    expect(steps.indexOf('replace')).toBeGreaterThan(steps.indexOf('verify'));
    expect(steps.indexOf('reopen')).toBeGreaterThan(steps.indexOf('replace'));
    expect(steps).not.toContain('audit');
    expect(steps).not.toContain('commit');
    expect(run.calls.find((c) => c.step === 'check')?.input).toEqual({ snapshot: { from: 'checkpoint' } });
  });
});
