/// <reference lib="es2024.sharedmemory" />
// The control block: three Int32 cells in a SharedArrayBuffer that the owner and one worker thread share.
// The owner writes `desired` and bumps `signal`; the worker writes `actual`. Both wake each other with
// Atomics.notify, so neither side polls and neither needs the other's event loop to be free to read a state.
//
// The states are levels, not events: "desired = pause and actual = parked" means parked right now, whatever
// happened before. A resume followed at once by another pause therefore never loses or doubles an
// acknowledgement.

export const DESIRED = 0;
export const ACTUAL = 1;
export const SIGNAL = 2;
const CELLS = 3;

export const Desired = { run: 0, pause: 1, stop: 2 } as const;
export type DesiredValue = (typeof Desired)[keyof typeof Desired];

export const Actual = { starting: 0, busy: 1, idle: 2, parked: 3, stopped: 4 } as const;
export type ActualValue = (typeof Actual)[keyof typeof Actual];

export function createControlBlock(initial: DesiredValue = Desired.run): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT);
  Atomics.store(new Int32Array(buffer), DESIRED, initial);
  return buffer;
}

/** Owner side: ask for a state and wake the worker wherever it waits. */
export function request(cells: Int32Array, desired: DesiredValue): void {
  Atomics.store(cells, DESIRED, desired);
  nudge(cells);
}

/** Owner side: wake an idle worker so it looks for work now (new chat rows arrived). */
export function nudge(cells: Int32Array): void {
  Atomics.add(cells, SIGNAL, 1);
  Atomics.notify(cells, SIGNAL);
}

/** Worker side: publish the worker's state and wake an owner waiting on it. */
export function publish(cells: Int32Array, actual: ActualValue): void {
  if (Atomics.exchange(cells, ACTUAL, actual) !== actual) Atomics.notify(cells, ACTUAL);
}

export function desiredOf(cells: Int32Array): DesiredValue {
  return Atomics.load(cells, DESIRED) as DesiredValue;
}

export function actualOf(cells: Int32Array): ActualValue {
  return Atomics.load(cells, ACTUAL) as ActualValue;
}

/**
 * Waits until cells[index] is no longer `seen`, or a notify on it, or ms pass (no ms: no time limit).
 * A pending Atomics.waitAsync does not keep Node's event loop alive, so with a time limit a timer does.
 */
export async function waitForChange(cells: Int32Array, index: number, seen: number, ms?: number): Promise<void> {
  const wait = Atomics.waitAsync(cells, index, seen, ms);
  if (!wait.async) return;
  if (ms === undefined) {
    await wait.value;
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([wait.value, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
