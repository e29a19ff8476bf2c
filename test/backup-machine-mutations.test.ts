import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { backupMachine } from '../state-machines/backup-machine.js';
import type { BackupMachine } from '../state-machines/backup-machine.js';
import { brokenPromises } from './helpers/supervisor-paths.js';
import type { PromiseName } from './helpers/supervisor-paths.js';

// The graph test is only as good as the mistakes it catches. Each case below breaks the real machine the way a
// careless edit could, rebuilds it with the same actions and guards, and shows that walking its paths breaks the
// promise the mistake is about (helpers/supervisor-paths.ts). The unmutated machine breaks none (the graph test).

type Config = BackupMachine['config'];
type States = NonNullable<Config['states']>;
type Invoke = Record<string, unknown>;

/** The machine with one state's invoke changed; everything else (and every implementation) as it is. */
function mutate(state: string, change: (invoke: Invoke) => Invoke): BackupMachine {
  const states = backupMachine.config.states as States;
  const original = states[state];
  if (!original?.invoke || Array.isArray(original.invoke)) throw new Error(`${state} has no single invoke`);
  const config = {
    ...backupMachine.config,
    states: { ...states, [state]: { ...original, invoke: change({ ...(original.invoke as Invoke) }) } },
  };
  return createMachine(config as Config, backupMachine.implementations) as unknown as BackupMachine;
}

const mutations: { name: string; machine: () => BackupMachine; breaks: PromiseName }[] = [
  {
    name: 'verifying.onError → committing (commits an unverified copy)',
    machine: () =>
      mutate('verifying', (invoke) => ({ ...invoke, onError: { target: 'committing', actions: 'noteError' } })),
    breaks: 'placedOnlyVerified',
  },
  {
    name: 'copying.onError → reopening (skips discarding)',
    machine: () =>
      mutate('copying', (invoke) => ({ ...invoke, onError: { target: 'reopening', actions: 'noteError' } })),
    breaks: 'copySettled',
  },
  {
    name: 'resuming.onError → failed (skips recording)',
    machine: () =>
      mutate('resuming', (invoke) => ({
        ...invoke,
        onError: { target: 'failed', actions: ['markReleased', 'noteError'] },
      })),
    breaks: 'recorded',
  },
  {
    name: 'reopening.onDone without markOpen (the database still counted closed)',
    machine: () => mutate('reopening', (invoke) => ({ ...invoke, onDone: { target: 'checking' } })),
    breaks: 'tagsSettled',
  },
  {
    name: 'copying keeps nothing (verifying runs without the copy)',
    machine: () =>
      mutate('copying', (invoke) => ({
        ...invoke,
        onDone: [{ guard: 'cancelled', target: 'discarding' }, { target: 'verifying' }],
      })),
    breaks: 'inputsProduced',
  },
];

// Each walk of a mutated machine takes a few seconds on a busy machine.
describe('backup supervisor mutations', { timeout: 120_000 }, () => {
  for (const mutation of mutations) {
    it(`catches ${mutation.name}`, () => {
      const broken = brokenPromises(mutation.machine());
      expect(
        broken.map((b) => b.promise),
        'the mutated machine passed every check',
      ).toContain(mutation.breaks);
    });
  }
});
