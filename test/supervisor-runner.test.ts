import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runSupervised } from '../src/backup/supervisor.js';
import type { RunSteps, StepTable } from '../src/backup/supervisor.js';
import type { BackupEvent } from '../src/backup/types.js';
import type { FactTypes } from '../state-machines/backup-machine.js';
import { listBackupRuns } from '../src/store/backup-runs.js';
import { openStore } from './helpers/open-store.js';

// The runner against a real store (backup_runs is real) with steps that do no I/O: what it reports about the
// states it went through.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function quickSteps(onStep: (name: string) => void): StepTable<FactTypes> {
  const step =
    <O>(name: string, out?: O) =>
    async () => {
      onStep(name);
      return out as O;
    };
  return {
    lock: step('lock'),
    validate: step('validate', { file: 'x.db' }),
    flush: step('flush'),
    pause: step('pause'),
    hold: step('hold'),
    checkpoint: step('checkpoint', { counts: {} }),
    close: step('close'),
    copy: step('copy', { bytes: 1 }),
    verify: step('verify'),
    discard: step('discard'),
    reopen: step('reopen'),
    check: step('check'),
    resume: step('resume'),
    audit: step('audit', { ok: true }),
    commit: step('commit', { path: 'x.db' }),
  };
}

describe('the supervisor runner', () => {
  it("runs each step only after its own state was announced, so the step's synchronous work is timed in its state", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nu-agent-runner-'));
    dirs.push(dir);
    const store = await openStore(join(dir, 'memory.db'));
    const events: BackupEvent[] = [];
    const seenAt: Record<string, string | undefined> = {};
    const lastEntered = () => events.filter((e) => e.type === 'transition').at(-1)?.to;
    const run: RunSteps<FactTypes> = {
      steps: () => quickSteps((name) => (seenAt[name] = lastEntered())),
      lockLost: new AbortController(),
      emergencyCleanup: async () => undefined,
      finish: async () => undefined,
    };
    const result = await runSupervised({
      kind: 'backup',
      trigger: 'manual',
      run,
      lines: {},
      describe: () => ({ path: 'x.db', sizeBytes: 1, hashAlgorithm: 'none', hash: '' }),
      store,
      emit: (event) => events.push(event),
    });
    expect(result.crashed).toBe(false);
    // The first state is entered before any subscriber can hear of it; every later one must be announced first.
    expect(seenAt).toMatchObject({
      validate: 'validating',
      pause: 'pausing',
      checkpoint: 'checkpointing',
      close: 'closing',
      copy: 'copying',
      verify: 'verifying',
      reopen: 'reopening',
      resume: 'resuming',
      audit: 'auditing',
      commit: 'committing',
    });
  });

  it('stops the step a broken machine left running before its last resort, and records the run as failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nu-agent-runner-'));
    dirs.push(dir);
    const store = await openStore(join(dir, 'memory.db'));
    const cancel = new AbortController();
    const order: string[] = [];
    const steps = quickSteps(() => undefined);
    // A copy that runs until it is told to stop, as the real one does; the cancel arrives while it runs.
    steps.copy = ({ signal }) =>
      new Promise((_resolve, reject) => {
        cancel.abort();
        signal.addEventListener('abort', () => {
          order.push('copy stopped');
          reject(new Error('copy stopped'));
        });
      });
    const run: RunSteps<FactTypes> = {
      steps: () => steps,
      lockLost: new AbortController(),
      emergencyCleanup: async () => {
        order.push('emergency cleanup');
        return undefined;
      },
      finish: async () => undefined,
    };
    const result = await runSupervised({
      kind: 'backup',
      trigger: 'manual',
      run,
      lines: {},
      describe: () => ({ path: 'x.db' }),
      store,
      signal: cancel.signal,
      emit: () => undefined,
      faults: { breakOn: 'CANCEL' },
    });

    expect(result).toMatchObject({ crashed: true, error: { message: /broke on CANCEL/ } });
    expect(order).toEqual(['copy stopped', 'emergency cleanup']);
    expect(await listBackupRuns(store)).toMatchObject([
      { result: 'failed', error: expect.stringMatching(/broke on CANCEL/) },
    ]);
    await store.close();
  });
});
