import { describe, expect, it } from 'vitest';
import {
  ACTUAL,
  Actual,
  Desired,
  actualOf,
  createControlBlock,
  request,
  waitForChange,
} from '../workers/shared/control-block.js';
import { PauseGate } from '../workers/pause-gate.js';

// The worker side of the protocol on its own, both ends in one thread: where a worker may acknowledge a pause,
// and that it passes a safe point only while running.

function setUp() {
  const cells = new Int32Array(createControlBlock());
  return { cells, gate: new PauseGate(cells) };
}

async function untilActual(cells: Int32Array, value: number) {
  while (actualOf(cells) !== value) await waitForChange(cells, ACTUAL, actualOf(cells), 5_000);
}

describe('the pause gate', () => {
  it('lets a running worker through and parks a paused one until it is resumed', async () => {
    const { cells, gate } = setUp();
    expect(await gate.safePoint()).toBe('run');
    expect(actualOf(cells)).toBe(Actual.busy);

    request(cells, Desired.pause);
    let passed = false;
    const through = gate.safePoint().then((go) => ((passed = true), go));
    await untilActual(cells, Actual.parked);
    expect(passed).toBe(false);

    request(cells, Desired.run);
    expect(await through).toBe('run');
    expect(actualOf(cells)).toBe(Actual.busy);
  });

  it('acknowledges a pause at once while the worker only awaits pure work, and holds its result', async () => {
    const { cells, gate } = setUp();
    let finish!: (value: string) => void;
    const work = new Promise<string>((resolve) => (finish = resolve));
    const result = gate.pure(work);

    request(cells, Desired.pause);
    await untilActual(cells, Actual.parked);
    finish('computed');
    expect(await result).toBe('computed');

    // Before writing what it computed, the worker passes a safe point: parked until resumed.
    let written = false;
    const write = gate.safePoint().then(() => (written = true));
    await untilActual(cells, Actual.parked);
    expect(written).toBe(false);
    request(cells, Desired.run);
    await write;
    expect(written).toBe(true);
  });

  it('answers stop at a safe point, also from a parked worker', async () => {
    const { cells, gate } = setUp();
    request(cells, Desired.pause);
    const parked = gate.safePoint();
    await untilActual(cells, Actual.parked);
    request(cells, Desired.stop);
    expect(await parked).toBe('stop');
    expect(await gate.idle(60_000)).toBe('stop');
  });

  it('wakes an idle worker when nudged or asked to pause', async () => {
    const { cells, gate } = setUp();
    const idle = gate.idle(60_000);
    await untilActual(cells, Actual.idle);
    request(cells, Desired.pause);
    await untilActual(cells, Actual.parked);
    request(cells, Desired.run);
    expect(await idle).toBe('run');
  });
});
