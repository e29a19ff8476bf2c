import { describe, expect, it } from 'vitest';
import { STEP_NAMES } from '../state-machines/backup-machine.js';
import type { StepName } from '../state-machines/backup-machine.js';
import { runSupervisor } from '../src/backup/supervisor.js';
import type { StepImplementation } from '../src/backup/supervisor.js';

// The time in each state is what the user reads in --json stateDurations, debug lines and the bench: a step's
// work must count in the state that ran it, also the part of it that runs before its first await.

describe('state durations', () => {
  it("count a step's synchronous work in its own state, not in the state before", async () => {
    let clock = 1_000;
    const steps = {} as Record<StepName, StepImplementation>;
    for (const name of STEP_NAMES) steps[name] = async () => {};
    // Closing works synchronously for 100 ms of the injected clock; copying for 30 before its first await.
    steps.close = async () => {
      clock += 100;
    };
    steps.copy = async () => {
      clock += 30;
      await Promise.resolve();
      clock += 5;
    };
    const result = await runSupervisor({ kind: 'backup', steps, now: () => clock });
    expect(result.output.ok).toBe(true);
    expect(result.stateDurations.checkpointing).toBe(0);
    expect(result.stateDurations.closing).toBe(100);
    expect(result.stateDurations.copying).toBe(35);
  });
});
