import { Actual, Desired, SIGNAL, desiredOf, publish, waitForChange } from './shared/control-block.js';

// The worker side of the pause protocol. A worker may acknowledge a pause (publish `parked`) in exactly two
// places, and nowhere else:
// - at a safe point: between items and before each write, when no write of this thread is in flight;
// - inside a pure region: while it awaits work that cannot write (a model call answered by the main thread,
//   a local embedding computed in the piscina pool). What such work returns is held, and offered for writing
//   only after the next safe point lets the worker through, that is after resume.
// Writes are awaited one at a time by the loop, so "at a safe point" really means "no write in flight".

export type Go = 'run' | 'stop';

export class PauseGate {
  constructor(private readonly cells: Int32Array) {}

  get stopRequested(): boolean {
    return desiredOf(this.cells) === Desired.stop;
  }

  /**
   * Returns at once while running; parks (and acknowledges) while a pause is asked, returning when resumed.
   * Returns 'stop' when the worker is asked to stop.
   */
  async safePoint(): Promise<Go> {
    for (;;) {
      const signal = Atomics.load(this.cells, SIGNAL);
      const desired = desiredOf(this.cells);
      if (desired === Desired.stop) return 'stop';
      if (desired === Desired.run) {
        publish(this.cells, Actual.busy);
        return 'run';
      }
      publish(this.cells, Actual.parked);
      await this.signalChange(signal);
    }
  }

  /** A safe point that also waits (at most waitMs, or until nudged) because there is no work. */
  async idle(waitMs: number): Promise<Go> {
    const signal = Atomics.load(this.cells, SIGNAL);
    if (desiredOf(this.cells) === Desired.run) {
      publish(this.cells, Actual.idle);
      await this.signalChange(signal, waitMs);
    }
    return this.safePoint();
  }

  /**
   * Awaits work that cannot write. A pause asked meanwhile is acknowledged at once; the caller must pass a
   * safe point before writing what the work returns.
   */
  async pure<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const done = work.then(
      () => undefined,
      () => undefined,
    );
    const watch = async () => {
      while (!settled) {
        const signal = Atomics.load(this.cells, SIGNAL);
        const desired = desiredOf(this.cells);
        if (desired === Desired.pause) publish(this.cells, Actual.parked);
        else if (desired === Desired.run) publish(this.cells, Actual.busy);
        await Promise.race([this.signalChange(signal), done]);
      }
    };
    const watching = watch();
    try {
      return await work;
    } finally {
      settled = true;
      // Wake the watcher's own wait now rather than at the next request, so waits never pile up.
      Atomics.notify(this.cells, SIGNAL);
      await watching;
    }
  }

  /** Publishes `stopped`: the last thing a worker does. */
  stopped(): void {
    publish(this.cells, Actual.stopped);
  }

  private signalChange(seen: number, timeoutMs?: number): Promise<void> {
    return waitForChange(this.cells, SIGNAL, seen, timeoutMs);
  }
}
