import { assign, fromPromise, setup } from 'xstate';

// The backup supervisor: sequencing only, no I/O. Every step that touches the world is an invoked actor that the
// runner (src/backup/supervisor.ts) provides from a step table (src/backup/backup-steps.ts for a backup,
// src/backup/restore-steps.ts for a restore), so tests can swap any step with `machine.provide({ actors })`.
// What a step produces (the destination, the snapshot taken in the window, the copy, the audit, the committed
// file) is kept in `facts` when it succeeds, and a later step receives it as its input, as in XState's workflow
// examples: a step never runs before the steps it reads from succeeded (test/backup-machine-graph.test.ts proves
// it on every path).
//
// The order the user watches for (debug lines, `--json` stateDurations, backup_runs, README): validating,
// pausing, checkpointing, copying, verifying, reopening, resuming. The workers stay paused only for what needs the
// live file closed; for a backup, everything that only reads the copy (its hash re-read, every row read, the
// manifest and the rename) comes after resuming, in `auditing` and `committing`, while the copy still sits at its
// hidden temporary name. A restore keeps its own order: the restored file is fully verified and put in place
// (`replacing`) before the database reopens, so nothing unverified ever goes live.
//
// The rules that make it safe (each measured on DuckDB 1.5.5 or learned from a lost write):
// - an action or guard that throws kills an XState actor, so actions only assign and guards only read;
// - every invoke has an onError, and from every error the path leads through reopening (when the database
//   was closed) and resuming, so the application always ends with the database open and its workers running;
// - a temporary copy is either renamed into place after a passed audit or removed (`discarding` while the
//   workers are paused, `rejecting` after they resumed), on every path;
// - CANCEL (Ctrl-C, a timeout) takes the same paths. Steps that stop promptly when their AbortSignal fires
//   (pausing, copying, verifying, auditing) are left at once; steps that must not be abandoned half-way (holding
//   the write gate, FORCE CHECKPOINT, closing, replacing, reopening, resuming, committing) finish first, then the
//   cancel is honoured.
//
// Tags say what may be true in a state: `workersPaused` (pauseAll may have been called and resumeAll not yet),
// `databaseClosed` (the live file may be closed). The graph test walks every path of both kinds and proves each
// state reaches resuming and a final state, and that no path ends with either owed.

export type SupervisorKind = 'backup' | 'restore';
export type CancelReason = 'cancelled' | 'timeout';

export interface SupervisorInput {
  kind: SupervisorKind;
}

/**
 * What one kind of run hands from step to step. The machine only carries these values; each kind's step table
 * (src/backup/supervisor.ts `StepTable`) says what they are.
 */
export interface FactTypes {
  /** validating: where the new file goes. */
  target: unknown;
  /** checkpointing: what was read from the quiescent database. */
  snapshot: unknown;
  /** copying: the temporary copy. */
  copy: unknown;
  /** auditing (a backup): what the copy was found to hold. */
  audit: unknown;
  /** committing or replacing: the new file in place. */
  placed: unknown;
}
export type FactName = keyof FactTypes;
export type Facts = { [K in FactName]?: unknown };

/** What `record` receives: how the run ended, so it can write it down. */
export interface RecordInput {
  ok: boolean;
  error: unknown;
  cancel: CancelReason | undefined;
  facts: Facts;
}

export interface SupervisorContext {
  kind: SupervisorKind;
  /** The first error; later ones (a failed resume after a failed copy) go to `laterErrors`. */
  error: unknown;
  laterErrors: unknown[];
  cancel: CancelReason | undefined;
  held: boolean;
  closed: boolean;
  /** A backup's copy passed the checks inside the window and waits at its temporary name for the audit. */
  copyPending: boolean;
  /** The new file is in place (a backup renamed onto its name, a restore's replacement done). */
  committed: boolean;
  facts: Facts;
}

export interface SupervisorOutput {
  ok: boolean;
  error: unknown;
  laterErrors: unknown[];
  cancel: CancelReason | undefined;
  committed: boolean;
  facts: Facts;
}

export type SupervisorEvent = { type: 'CANCEL'; reason: CancelReason };

/** The step actors a runner provides, by name: a backup never replaces, a restore never audits or commits. */
export const STEP_NAMES = [
  'lock',
  'validate',
  'flush',
  'pause',
  'hold',
  'checkpoint',
  'close',
  'copy',
  'verify',
  'replace',
  'discard',
  'reopen',
  'check',
  'resume',
  'audit',
  'commit',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

const notProvided = (name: string) =>
  fromPromise<unknown, Facts>(async () => {
    throw new Error(`the ${name} step was not provided to the backup supervisor`);
  });

/** The error of an `xstate.error.actor.*` event (the only events noteError handles). */
const errorOf = (event: unknown) => (event as { error?: unknown }).error;
const outputOf = (event: unknown) => (event as { output?: unknown }).output;

const succeeded = (context: SupervisorContext) =>
  context.error === undefined && (context.cancel === undefined || context.committed);

const machineSetup = setup({
  types: {
    input: {} as SupervisorInput,
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    output: {} as SupervisorOutput,
  },
  actors: {
    ...(Object.fromEntries(STEP_NAMES.map((name) => [name, notProvided(name)])) as Record<
      StepName,
      ReturnType<typeof notProvided>
    >),
    record: fromPromise<void, RecordInput>(async () => {
      throw new Error('the record step was not provided to the backup supervisor');
    }),
  },
  actions: {
    noteError: assign(({ context, event }) =>
      context.error === undefined
        ? { error: errorOf(event) }
        : { laterErrors: [...context.laterErrors, errorOf(event)] },
    ),
    noteLaterError: assign(({ context, event }) => ({ laterErrors: [...context.laterErrors, errorOf(event)] })),
    noteCancel: assign(({ context, event }) => ({
      cancel: context.cancel ?? (event.type === 'CANCEL' ? event.reason : 'cancelled'),
    })),
    keep: assign(({ context, event }, params: { fact: FactName }) => ({
      facts: { ...context.facts, [params.fact]: outputOf(event) },
    })),
    markHeld: assign({ held: true }),
    markReleased: assign({ held: false }),
    markClosed: assign({ closed: true }),
    markOpen: assign({ closed: false }),
    markCopyPending: assign({ copyPending: true }),
    markCopyGone: assign({ copyPending: false }),
    markCommitted: assign({ committed: true, copyPending: false }),
  },
  guards: {
    cancelled: ({ context }) => context.cancel !== undefined,
    closed: ({ context }) => context.closed,
    restoring: ({ context }) => context.kind === 'restore',
    auditDue: ({ context }) => context.copyPending && context.cancel === undefined,
    copyPending: ({ context }) => context.copyPending,
    succeeded: ({ context }) => succeeded(context),
  },
});

type StateConfig = NonNullable<Parameters<typeof machineSetup.createMachine>[0]['states']>[string];
type Action =
  | 'markHeld'
  | 'markReleased'
  | 'markClosed'
  | 'markOpen'
  | 'markCopyPending'
  | 'markCopyGone'
  | 'markCommitted'
  | { type: 'keep'; params: { fact: FactName } };

/** The facts a step reads, passed as its input; the graph test proves each was kept before the step runs. */
const reads =
  (...names: FactName[]) =>
  ({ context }: { context: SupervisorContext }): Facts =>
    Object.fromEntries(names.map((name) => [name, context.facts[name]]));

interface StepState {
  description: string;
  /** The step actor invoked (also the invoke id, so its done/error events are `xstate.*.actor.<step>`). */
  step: StepName;
  reads?: FactName[];
  /** The step's output is kept as this fact. */
  keeps?: FactName;
  tags?: ('workersPaused' | 'databaseClosed')[];
  /** Where the run goes when the step succeeds. */
  next: string;
  /** Where it goes after a failure, or after a cancel once the step finished. */
  fallback: string;
  /** A cancel leaves the step at once for `fallback` (its AbortSignal fires); otherwise the step finishes first. */
  abandon?: boolean;
  /** Actions on leaving the step whichever way (done, failed, cancelled). */
  always?: Action[];
  /** Actions when the step succeeded. */
  done?: Action[];
}

/**
 * Most steps route alike: done goes on (or to the fallback if a cancel came meanwhile), a failure is noted and
 * goes to the fallback. The states below that route differently spell out their own transitions.
 */
function stepState(s: StepState): StateConfig {
  const always = s.always ?? [];
  const done: Action[] = [
    ...(s.keeps ? [{ type: 'keep', params: { fact: s.keeps } } as const] : []),
    ...(s.done ?? []),
    ...always,
  ];
  return {
    description: s.description,
    tags: s.tags ?? [],
    on: { CANCEL: s.abandon ? { target: s.fallback, actions: ['noteCancel', ...always] } : { actions: 'noteCancel' } },
    invoke: {
      id: s.step,
      // Every step actor has the same logic type; TypeScript cannot spread the name union over the invoke union.
      src: s.step as 'lock',
      input: reads(...(s.reads ?? [])),
      onDone: [
        { guard: 'cancelled', target: s.fallback, actions: done },
        { target: s.next, actions: done },
      ],
      onError: { target: s.fallback, actions: [...always, 'noteError'] },
    },
  };
}

const PAUSED = ['workersPaused'] as const;
const CLOSED = ['workersPaused', 'databaseClosed'] as const;

const states = {
  locking: stepState({
    description:
      'Nothing is paused or held. Takes the cross-process backup lock, or fails (another run is in progress) and goes to recording.',
    step: 'lock',
    next: 'validating',
    fallback: 'recording',
  }),
  validating: stepState({
    description:
      'Nothing is paused or held, and nothing is created on disk. Checks the database and the destination; a refusal is recorded and ends the run.',
    step: 'validate',
    keeps: 'target',
    next: 'flushing',
    fallback: 'recording',
  }),
  flushing: {
    description:
      'Nothing is paused or held; the workers still run. A plain checkpoint, so that the forced one inside the pause has little to write. Only an optimisation: its failure is ignored.',
    on: { CANCEL: { actions: 'noteCancel' } },
    invoke: {
      id: 'flush',
      src: 'flush',
      input: reads(),
      onDone: [{ guard: 'cancelled', target: 'recording' }, { target: 'pausing' }],
      onError: [{ guard: 'cancelled', target: 'recording' }, { target: 'pausing' }],
    },
  },
  pausing: stepState({
    description:
      'Workers may be paused from here until resuming. Asks every worker to park and waits, bounded; a worker that does not park aborts the backup.',
    step: 'pause',
    tags: [...PAUSED],
    next: 'holding',
    fallback: 'resuming',
    abandon: true,
  }),
  holding: stepState({
    description:
      'Workers are parked. Closes the write gate after the operation in flight (bounded); later database calls wait until resuming.',
    step: 'hold',
    tags: [...PAUSED],
    next: 'checkpointing',
    fallback: 'resuming',
    // The gate is held once the step succeeded, whether or not a cancel came meanwhile.
    done: ['markHeld'],
  }),
  checkpointing: stepState({
    description:
      'The gate is held and the database open. FORCE CHECKPOINT (bounded), then what the copy is checked against: for a backup only the row count of each table (cheap), never a read of every row.',
    step: 'checkpoint',
    keeps: 'snapshot',
    tags: [...PAUSED],
    next: 'closing',
    fallback: 'resuming',
  }),
  closing: stepState({
    description:
      'Closes connection then instance, releasing the file; fails if a WAL is left. Either way the database counts as closed after this.',
    step: 'close',
    tags: [...CLOSED],
    next: 'copying',
    fallback: 'reopening',
    always: ['markClosed'],
  }),
  copying: stepState({
    description:
      'The live file is closed and unchanging. A backup clones it, or copies it while a second thread hashes the source, to a temporary file beside the destination; a restore copies the backup beside the database. The temporary file is removed on failure or cancel.',
    step: 'copy',
    reads: ['target'],
    keeps: 'copy',
    tags: [...CLOSED],
    next: 'verifying',
    fallback: 'discarding',
    abandon: true,
  }),
  verifying: {
    description:
      'The live file is still closed. A backup checks what must hold before the database reopens (the copy complete at the right size, the source hash taken or the copy a clone, the row counts read); a restore verifies its copy in full (hash, every row) before it may go live.',
    tags: [...CLOSED],
    on: { CANCEL: { target: 'discarding', actions: 'noteCancel' } },
    invoke: {
      id: 'verify',
      src: 'verify',
      input: reads('target', 'snapshot', 'copy'),
      onDone: [
        { guard: 'cancelled', target: 'discarding' },
        { guard: 'restoring', target: 'replacing' },
        { target: 'reopening', actions: 'markCopyPending' },
      ],
      onError: { target: 'discarding', actions: 'noteError' },
    },
  },
  replacing: {
    description:
      'A restore only, with a fully verified copy. Renames it onto the live name (the previous file kept aside), fsyncs the directory.',
    tags: [...CLOSED],
    on: { CANCEL: { actions: 'noteCancel' } },
    invoke: {
      id: 'replace',
      src: 'replace',
      input: reads('target', 'snapshot', 'copy'),
      onDone: { target: 'reopening', actions: [{ type: 'keep', params: { fact: 'placed' } }, 'markCommitted'] },
      onError: { target: 'discarding', actions: 'noteError' },
    },
  },
  discarding: {
    description:
      'Something failed or was cancelled after the copy began, with the workers still paused. Waits for the step it left to stop, then removes what it wrote.',
    tags: [...CLOSED],
    on: { CANCEL: { actions: 'noteCancel' } },
    invoke: {
      id: 'discard',
      src: 'discard',
      input: reads(),
      onDone: [{ guard: 'closed', target: 'reopening' }, { target: 'resuming' }],
      onError: [
        { guard: 'closed', target: 'reopening', actions: 'noteError' },
        { target: 'resuming', actions: 'noteError' },
      ],
    },
  },
  reopening: {
    description:
      'Opens the same resolved path again, with retries and backoff; if it still fails, the error says where the intact database (and the backup, once it is in place) are.',
    tags: [...CLOSED],
    on: { CANCEL: { actions: 'noteCancel' } },
    invoke: {
      id: 'reopen',
      src: 'reopen',
      input: reads(),
      onDone: { target: 'checking', actions: 'markOpen' },
      onError: { target: 'resuming', actions: 'noteError' },
    },
  },
  checking: {
    description:
      'The database is open again. A restore checks the reopened database here; a backup has nothing to check.',
    tags: [...PAUSED],
    on: { CANCEL: { actions: 'noteCancel' } },
    invoke: {
      id: 'check',
      src: 'check',
      input: reads('snapshot'),
      onDone: { target: 'resuming' },
      onError: { target: 'resuming', actions: 'noteError' },
    },
  },
  resuming: {
    description:
      'Every path that paused anything passes here. Opens the write gate, resumes exactly the workers that ran before and checks they answer. A backup copy waiting at its temporary name goes on to its audit, or is rejected after a cancel.',
    tags: [...PAUSED],
    on: { CANCEL: { actions: 'noteCancel' } },
    invoke: {
      id: 'resume',
      src: 'resume',
      input: reads(),
      onDone: [
        { guard: 'auditDue', target: 'auditing', actions: 'markReleased' },
        { guard: 'copyPending', target: 'rejecting', actions: 'markReleased' },
        { target: 'recording', actions: 'markReleased' },
      ],
      onError: [
        { guard: 'auditDue', target: 'auditing', actions: ['markReleased', 'noteError'] },
        { guard: 'copyPending', target: 'rejecting', actions: ['markReleased', 'noteError'] },
        { target: 'recording', actions: ['markReleased', 'noteError'] },
      ],
    },
  },
  auditing: stepState({
    description:
      'The workers run and the REPL is live; the copy sits at its hidden temporary name. Re-reads its hash (compared with the source hash, or computed now for a clone) and reads every row of every table (the figures for the manifest; the counts must equal those taken in the window).',
    step: 'audit',
    reads: ['target', 'snapshot', 'copy'],
    keeps: 'audit',
    next: 'committing',
    fallback: 'rejecting',
    abandon: true,
  }),
  committing: {
    description:
      'Only a copy that passed its audit gets here. Writes the manifest, renames the copy onto its final name, fsyncs the directory.',
    on: { CANCEL: { actions: 'noteCancel' } },
    invoke: {
      id: 'commit',
      src: 'commit',
      input: reads('target', 'snapshot', 'copy', 'audit'),
      onDone: { target: 'recording', actions: [{ type: 'keep', params: { fact: 'placed' } }, 'markCommitted'] },
      onError: { target: 'rejecting', actions: 'noteError' },
    },
  },
  rejecting: {
    description:
      'The audit or the commit failed, or the run was cancelled, after the workers resumed. Waits for the step it left to stop, then deletes the temporary copy (and a manifest written for it); the live database is already in service.',
    on: { CANCEL: { actions: 'noteCancel' } },
    invoke: {
      id: 'reject',
      src: 'discard',
      input: reads(),
      onDone: { target: 'recording', actions: 'markCopyGone' },
      onError: { target: 'recording', actions: ['markCopyGone', 'noteError'] },
    },
  },
  recording: {
    description:
      'Workers run again (or were never paused). Writes the run to backup_runs; a failure to record does not change the outcome.',
    on: { CANCEL: { actions: 'noteCancel' } },
    invoke: {
      id: 'record',
      src: 'record',
      input: ({ context }) => ({
        ok: succeeded(context),
        error: context.error,
        cancel: context.cancel,
        facts: context.facts,
      }),
      onDone: [{ guard: 'succeeded', target: 'done' }, { target: 'failed' }],
      onError: [
        { guard: 'succeeded', target: 'done', actions: 'noteLaterError' },
        { target: 'failed', actions: 'noteLaterError' },
      ],
    },
  },
  done: {
    description: 'The new file is in place and verified; the database is open and the workers run.',
    type: 'final',
  },
  failed: {
    description:
      'Nothing was made (or it was removed); the database is open and the workers run, unless the error says otherwise.',
    type: 'final',
  },
} satisfies Record<string, StateConfig>;

export const backupMachine = machineSetup.createMachine({
  id: 'backup',
  context: ({ input }) => ({
    kind: input.kind,
    error: undefined,
    laterErrors: [],
    cancel: undefined,
    held: false,
    closed: false,
    copyPending: false,
    committed: false,
    facts: {},
  }),
  initial: 'locking',
  output: ({ context }) => ({
    ok: succeeded(context),
    error: context.error,
    laterErrors: context.laterErrors,
    cancel: context.cancel,
    committed: context.committed,
    facts: context.facts,
  }),
  states,
});

export type BackupMachine = typeof backupMachine;
/** State names, for step lines, debug transitions and per-state durations. */
export type SupervisorState = keyof typeof states;
