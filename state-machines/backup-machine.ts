import { assign, fromPromise, setup } from 'xstate';

// The backup supervisor: sequencing only, no I/O. Every step that touches the world is an invoked actor,
// provided by whoever runs the machine (src/backup/backup-steps.ts for a backup, src/backup/restore-steps.ts for
// a restore), so tests can swap any step with `machine.provide({ actors })`.
//
// The order the user watches for (debug lines, `--json` stateDurations, backup_runs, README): validating,
// pausing, checkpointing, copying, verifying, reopening, resuming. The workers stay paused only for what needs the
// live file closed; for a backup, everything that only reads the copy (its hash re-read, every row read, the
// manifest and the rename) comes after resuming, in `auditing` and `committing`, while the copy still sits at its
// hidden temporary name. A restore keeps its own order: the restored file is fully verified and put in place
// (`replacing`) before the database reopens, so nothing unverified ever goes live.
//
// The rules that make it safe (ARCHITECTURE.md, STYLE.md):
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
// `databaseClosed` (the live file may be closed). test/backup-machine-graph.test.ts walks every path of both kinds
// and proves each state reaches resuming and a final state, and that no path ends with either tag still owed.

export type SupervisorKind = 'backup' | 'restore';
export type CancelReason = 'cancelled' | 'timeout';

export interface SupervisorInput {
  kind: SupervisorKind;
}

/** The step actors a runner provides, by name. Each receives `{ kind }` and the AbortSignal of its state. */
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
  'commit',
  'discard',
  'reopen',
  'check',
  'resume',
  'audit',
  'record',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface StepInput {
  kind: SupervisorKind;
}

/** What `record` receives: how the run ended, so it can write it down. */
export interface RecordInput extends StepInput {
  ok: boolean;
  error: unknown;
  cancel: CancelReason | undefined;
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
}

export interface SupervisorOutput {
  ok: boolean;
  error: unknown;
  laterErrors: unknown[];
  cancel: CancelReason | undefined;
  committed: boolean;
}

export type SupervisorEvent = { type: 'CANCEL'; reason: CancelReason };

const notProvided = (name: string) =>
  fromPromise<void, StepInput>(async () => {
    throw new Error(`the ${name} step was not provided to the backup supervisor`);
  });

/** The error of an `xstate.error.actor.*` event (the only events noteError handles). */
const errorOf = (event: unknown) => (event as { error?: unknown }).error;

const stepInput = ({ context }: { context: SupervisorContext }) => ({ kind: context.kind });

export const backupMachine = setup({
  types: {
    input: {} as SupervisorInput,
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    output: {} as SupervisorOutput,
  },
  actors: {
    lock: notProvided('lock'),
    validate: notProvided('validate'),
    flush: notProvided('flush'),
    pause: notProvided('pause'),
    hold: notProvided('hold'),
    checkpoint: notProvided('checkpoint'),
    close: notProvided('close'),
    copy: notProvided('copy'),
    verify: notProvided('verify'),
    commit: notProvided('commit'),
    discard: notProvided('discard'),
    reopen: notProvided('reopen'),
    check: notProvided('check'),
    resume: notProvided('resume'),
    audit: notProvided('audit'),
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
    succeeded: ({ context }) => context.error === undefined && (context.cancel === undefined || context.committed),
  },
}).createMachine({
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
  }),
  initial: 'locking',
  output: ({ context }) => ({
    ok: context.error === undefined && (context.cancel === undefined || context.committed),
    error: context.error,
    laterErrors: context.laterErrors,
    cancel: context.cancel,
    committed: context.committed,
  }),
  states: {
    locking: {
      description:
        'Nothing is paused or held. Takes the cross-process backup lock, or fails (another run is in progress) and goes to recording.',
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'lock',
        src: 'lock',
        input: stepInput,
        onDone: [{ guard: 'cancelled', target: 'recording' }, { target: 'validating' }],
        onError: { target: 'recording', actions: 'noteError' },
      },
    },
    validating: {
      description:
        'Nothing is paused or held, and nothing is created on disk. Checks the database and the destination; a refusal is recorded and ends the run.',
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'validate',
        src: 'validate',
        input: stepInput,
        onDone: [{ guard: 'cancelled', target: 'recording' }, { target: 'flushing' }],
        onError: { target: 'recording', actions: 'noteError' },
      },
    },
    flushing: {
      description:
        'Nothing is paused or held; the workers still run. A plain checkpoint, so that the forced one inside the pause has little to write. Only an optimisation: its failure is ignored.',
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'flush',
        src: 'flush',
        input: stepInput,
        onDone: [{ guard: 'cancelled', target: 'recording' }, { target: 'pausing' }],
        onError: [{ guard: 'cancelled', target: 'recording' }, { target: 'pausing' }],
      },
    },
    pausing: {
      description:
        'Workers may be paused from here until resuming. Asks every worker to park and waits, bounded; a worker that does not park aborts the backup.',
      tags: ['workersPaused'],
      on: { CANCEL: { target: 'resuming', actions: 'noteCancel' } },
      invoke: {
        id: 'pause',
        src: 'pause',
        input: stepInput,
        onDone: [{ guard: 'cancelled', target: 'resuming' }, { target: 'holding' }],
        onError: { target: 'resuming', actions: 'noteError' },
      },
    },
    holding: {
      description:
        'Workers are parked. Closes the write gate after the operation in flight (bounded); later database calls wait until resuming.',
      tags: ['workersPaused'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'hold',
        src: 'hold',
        input: stepInput,
        onDone: [
          { guard: 'cancelled', target: 'resuming', actions: 'markHeld' },
          { target: 'checkpointing', actions: 'markHeld' },
        ],
        onError: { target: 'resuming', actions: 'noteError' },
      },
    },
    checkpointing: {
      description:
        'The gate is held and the database open. FORCE CHECKPOINT (bounded), then what the copy is checked against: for a backup only the row count of each table (cheap), never a read of every row.',
      tags: ['workersPaused'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'checkpoint',
        src: 'checkpoint',
        input: stepInput,
        onDone: [{ guard: 'cancelled', target: 'resuming' }, { target: 'closing' }],
        onError: { target: 'resuming', actions: 'noteError' },
      },
    },
    closing: {
      description:
        'Closes connection then instance, releasing the file; fails if a WAL is left. Either way the database counts as closed after this.',
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'close',
        src: 'close',
        input: stepInput,
        onDone: [
          { guard: 'cancelled', target: 'reopening', actions: 'markClosed' },
          { target: 'copying', actions: 'markClosed' },
        ],
        onError: { target: 'reopening', actions: ['markClosed', 'noteError'] },
      },
    },
    copying: {
      description:
        'The live file is closed and unchanging. A backup clones it, or copies it while a second thread hashes the source, to a temporary file beside the destination; a restore copies the backup beside the database. The temporary file is removed on failure or cancel.',
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { target: 'discarding', actions: 'noteCancel' } },
      invoke: {
        id: 'copy',
        src: 'copy',
        input: stepInput,
        onDone: [{ guard: 'cancelled', target: 'discarding' }, { target: 'verifying' }],
        onError: { target: 'discarding', actions: 'noteError' },
      },
    },
    verifying: {
      description:
        'The live file is still closed. A backup checks what must hold before the database reopens (the copy complete at the right size, the source hash taken or the copy a clone, the row counts read); a restore verifies its copy in full (hash, every row) before it may go live.',
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { target: 'discarding', actions: 'noteCancel' } },
      invoke: {
        id: 'verify',
        src: 'verify',
        input: stepInput,
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
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'replace',
        src: 'commit',
        input: stepInput,
        onDone: { target: 'reopening', actions: 'markCommitted' },
        onError: { target: 'discarding', actions: 'noteError' },
      },
    },
    discarding: {
      description:
        'Something failed or was cancelled after the copy began, with the workers still paused. Waits for the step it left to stop, then removes what it wrote.',
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'discard',
        src: 'discard',
        input: stepInput,
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
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'reopen',
        src: 'reopen',
        input: stepInput,
        onDone: { target: 'checking', actions: 'markOpen' },
        onError: { target: 'resuming', actions: 'noteError' },
      },
    },
    checking: {
      description:
        'The database is open again. A restore checks the reopened database here; a backup has nothing to check.',
      tags: ['workersPaused'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'check',
        src: 'check',
        input: stepInput,
        onDone: { target: 'resuming' },
        onError: { target: 'resuming', actions: 'noteError' },
      },
    },
    resuming: {
      description:
        'Every path that paused anything passes here. Opens the write gate, resumes exactly the workers that ran before and checks they answer. A backup copy waiting at its temporary name goes on to its audit, or is rejected after a cancel.',
      tags: ['workersPaused'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'resume',
        src: 'resume',
        input: stepInput,
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
    auditing: {
      description:
        'The workers run and the REPL is live; the copy sits at its hidden temporary name. Re-reads its hash (compared with the source hash, or computed now for a clone) and reads every row of every table (the figures for the manifest; the counts must equal those taken in the window).',
      on: { CANCEL: { target: 'rejecting', actions: 'noteCancel' } },
      invoke: {
        id: 'audit',
        src: 'audit',
        input: stepInput,
        onDone: [{ guard: 'cancelled', target: 'rejecting' }, { target: 'committing' }],
        onError: { target: 'rejecting', actions: 'noteError' },
      },
    },
    committing: {
      description:
        'Only a copy that passed its audit gets here. Writes the manifest, renames the copy onto its final name, fsyncs the directory.',
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'commit',
        src: 'commit',
        input: stepInput,
        onDone: { target: 'recording', actions: 'markCommitted' },
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
        input: stepInput,
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
          kind: context.kind,
          ok: context.error === undefined && (context.cancel === undefined || context.committed),
          error: context.error,
          cancel: context.cancel,
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
  },
});

export type BackupMachine = typeof backupMachine;
/** State names, for step lines, debug transitions and per-state durations. */
export type SupervisorState = keyof (typeof backupMachine)['config']['states'] & string;
