// Every database operation runs through this queue, one at a time, on the single connection. That gives us
// two things at once: transactions never interleave on the shared connection, and "holding" the queue (what a
// backup does) is exactly the write gate: everything that arrives meanwhile waits, and nothing is in flight.

export class ExclusiveQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  get pending(): number {
    return this.waiting;
  }

  /** Runs fn after everything queued before it. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.waiting++;
    const result = this.tail.then(() => {
      this.waiting--;
      return fn();
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /**
   * Takes the queue and keeps it until the returned release() is called. Resolves once every operation queued
   * before has finished; rejects (and gives nothing up) if that takes longer than timeoutMs.
   */
  acquire(timeoutMs: number, onTimeout: () => void = () => {}): Promise<() => void> {
    return new Promise((resolve, reject) => {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        onTimeout();
        reject(new Error(`waited ${timeoutMs} ms for database operations in flight to finish`));
      }, timeoutMs);
      void this.run(async () => {
        clearTimeout(timer);
        if (timedOut) return; // the caller gave up; let the queue move on at once
        resolve(release);
        await released;
      });
    });
  }
}
