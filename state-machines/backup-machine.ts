import { assign, fromPromise, setup } from 'xstate';

// The backup supervisor: sequencing only, no I/O. Every step that touches the world is an invoked actor,
// provided by whoever runs the machine (src/backup/backup-steps.ts for a backup; a restore provides a "replace"
// transfer and a real "check" after reopening), so tests can swap any step with `machine.provide({ actors })`.
//
// The rules that make it safe (ARCHITECTURE.md, STYLE.md):
// - an action or guard that throws kills an XState actor, so actions only assign and guards only read;
// - every invoke has an onError, and from every error the path leads through reopening (when the database
//   was closed) and resuming, so the application always ends with the database open and its workers running;
// - CANCEL (Ctrl-C, a timeout) takes the same paths. Steps that stop promptly when their AbortSignal fires
//   (pausing, transferring, verifying) are left at once; steps that must not be abandoned half-way (holding the
//   write gate, FORCE CHECKPOINT, closing, reopening, resuming) finish first, then the cancel is honoured.
//
// Tags say what may be true in a state: `workersPaused` (pauseAll may have been called and resumeAll not yet),
// `databaseClosed` (the live file may be closed). test/backup-machine-graph.test.ts walks every path and proves
// each state reaches resuming and a final state, and that no path ends with either tag still owed.

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
  'transfer',
  'verify',
  'commit',
  'discard',
  'reopen',
  'check',
  'resume',
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
    transfer: notProvided('transfer'),
    verify: notProvided('verify'),
    commit: notProvided('commit'),
    discard: notProvided('discard'),
    reopen: notProvided('reopen'),
    check: notProvided('check'),
    resume: notProvided('resume'),
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
    markCommitted: assign({ committed: true }),
  },
  guards: {
    cancelled: ({ context }) => context.cancel !== undefined,
    closed: ({ context }) => context.closed,
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
        input: ({ context }) => ({ kind: context.kind }),
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
        input: ({ context }) => ({ kind: context.kind }),
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
        input: ({ context }) => ({ kind: context.kind }),
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
        input: ({ context }) => ({ kind: context.kind }),
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
        input: ({ context }) => ({ kind: context.kind }),
        onDone: [
          { guard: 'cancelled', target: 'resuming', actions: 'markHeld' },
          { target: 'checkpointing', actions: 'markHeld' },
        ],
        onError: { target: 'resuming', actions: 'noteError' },
      },
    },
    checkpointing: {
      description:
        'The gate is held and the database open. FORCE CHECKPOINT (bounded), then the per-table figures that verification compares against.',
      tags: ['workersPaused'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'checkpoint',
        src: 'checkpoint',
        input: ({ context }) => ({ kind: context.kind }),
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
        input: ({ context }) => ({ kind: context.kind }),
        onDone: [
          { guard: 'cancelled', target: 'reopening', actions: 'markClosed' },
          { target: 'transferring', actions: 'markClosed' },
        ],
        onError: { target: 'reopening', actions: ['markClosed', 'noteError'] },
      },
    },
    transferring: {
      description:
        'The live file is closed and unchanging. Copies it to a temporary file beside the destination (a restore: puts the backup in place). The temporary file is removed on failure or cancel.',
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { target: 'discarding', actions: 'noteCancel' } },
      invoke: {
        id: 'transfer',
        src: 'transfer',
        input: ({ context }) => ({ kind: context.kind }),
        onDone: [{ guard: 'cancelled', target: 'discarding' }, { target: 'verifying' }],
        onError: { target: 'discarding', actions: 'noteError' },
      },
    },
    verifying: {
      description:
        'The live file is still closed. Checks the new file: size, hash re-read from disk, read-only open with every table read and compared.',
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { target: 'discarding', actions: 'noteCancel' } },
      invoke: {
        id: 'verify',
        src: 'verify',
        input: ({ context }) => ({ kind: context.kind }),
        onDone: [{ guard: 'cancelled', target: 'discarding' }, { target: 'committing' }],
        onError: { target: 'discarding', actions: 'noteError' },
      },
    },
    committing: {
      description:
        'Only a verified file gets here. Renames it onto its final name, fsyncs the directory, writes the manifest.',
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'commit',
        src: 'commit',
        input: ({ context }) => ({ kind: context.kind }),
        onDone: { target: 'reopening', actions: 'markCommitted' },
        onError: { target: 'discarding', actions: 'noteError' },
      },
    },
    discarding: {
      description:
        'Something failed or was cancelled after the transfer began. Waits for the step it left to stop, then removes what it wrote.',
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'discard',
        src: 'discard',
        input: ({ context }) => ({ kind: context.kind }),
        onDone: [{ guard: 'closed', target: 'reopening' }, { target: 'resuming' }],
        onError: [
          { guard: 'closed', target: 'reopening', actions: 'noteError' },
          { target: 'resuming', actions: 'noteError' },
        ],
      },
    },
    reopening: {
      description:
        'Opens the same resolved path again, with retries and backoff; if it still fails, the error says where the intact database and the backup are.',
      tags: ['workersPaused', 'databaseClosed'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'reopen',
        src: 'reopen',
        input: ({ context }) => ({ kind: context.kind }),
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
        input: ({ context }) => ({ kind: context.kind }),
        onDone: { target: 'resuming' },
        onError: { target: 'resuming', actions: 'noteError' },
      },
    },
    resuming: {
      description:
        'Every path that paused anything passes here. Opens the write gate, resumes exactly the workers that ran before and checks they answer.',
      tags: ['workersPaused'],
      on: { CANCEL: { actions: 'noteCancel' } },
      invoke: {
        id: 'resume',
        src: 'resume',
        input: ({ context }) => ({ kind: context.kind }),
        onDone: { target: 'recording', actions: 'markReleased' },
        onError: { target: 'recording', actions: ['markReleased', 'noteError'] },
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
          {
            guard: 'succeeded',
            target: 'done',
            actions: 'noteLaterError',
          },
          {
            target: 'failed',
            actions: 'noteLaterError',
          },
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
