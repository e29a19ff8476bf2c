import { MessageChannel } from 'node:worker_threads';
import type { MessagePort, Worker } from 'node:worker_threads';
import { expose, releaseProxy, wrap } from 'comlink';
import type { Remote } from 'comlink';
import { messageOf } from '../errors.js';
import { startWorker } from '../threads/worker-file.js';
import { nodeEndpoint } from '../../workers/shared/comlink-node.js';
import {
  ACTUAL,
  Actual,
  Desired,
  actualOf,
  createControlBlock,
  desiredOf,
  nudge,
  request,
  waitForChange,
} from '../../workers/shared/control-block.js';
import type { DesiredValue } from '../../workers/shared/control-block.js';
import type {
  HooksSpec,
  WorkerControlApi,
  WorkerData,
  WorkerName,
  WorkerSettings,
  WorkerState,
  WorkerStatus,
} from '../../workers/shared/protocol.js';
import { MemoryPort } from './memory-port.js';
import type { MemoryPortDeps, PortEvent, PortGate } from './memory-port.js';

// Supervises one background worker thread: starts it, asks it to pause, resume or stop through the control
// block, restarts it with backoff when it dies unexpectedly, and keeps what /worker status shows. A new thread
// gets a new control block and a new memory port; the old port is closed and its Comlink proxies released.

export interface RestartPolicy {
  /** Delay before the first restart after a crash; doubled for each crash in a row. */
  initialMs: number;
  maxMs: number;
  /** A thread that ran this long without crashing resets the doubling. */
  stableMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { initialMs: 500, maxMs: 30_000, stableMs: 60_000 };

export interface HandleOptions {
  name: WorkerName;
  settings: WorkerSettings;
  port: Omit<MemoryPortDeps, 'worker' | 'gate'>;
  restart: RestartPolicy;
  stopTimeoutMs: number;
  hooks?: HooksSpec | undefined;
  /** Every write, refusal and failure of this worker (tests, the benchmark, debug output). */
  onEvent?: ((event: PortEvent) => void) | undefined;
  /** The thread died unexpectedly; a restart is scheduled (status() already shows it). */
  onCrash?: ((name: WorkerName, error: string) => void) | undefined;
}

interface Thread {
  worker: Worker;
  cells: Int32Array;
  control: Remote<WorkerControlApi>;
  port: MemoryPort;
  ownerEnd: MessagePort;
  startedAt: number;
  exited: Promise<void>;
  stopping: boolean;
}

export class WorkerHandle {
  /** What the user (or the app at start-up) wants: `/worker x pause` is `paused`, `/worker x stop` is `stopped`. */
  private wanted: 'running' | 'paused' | 'stopped' = 'stopped';
  /** Set by the manager between pauseAll and resumeAll: overrides `running` with a pause, delays restarts. */
  private managerPaused = false;
  private thread: Thread | undefined;
  private pendingWrites = 0;
  private done = 0;
  private failed = 0;
  private lastError: string | undefined;
  private crashes = 0;
  private crashesInARow = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartAt: number | undefined;
  private restartDue = false;

  constructor(private readonly options: HandleOptions) {}

  get name(): WorkerName {
    return this.options.name;
  }

  /** True while a thread exists (it may be paused). */
  get alive(): boolean {
    return this.thread !== undefined;
  }

  get wantsToRun(): boolean {
    return this.wanted === 'running';
  }

  start(): void {
    this.wanted = 'running';
    this.apply();
  }

  pause(): void {
    if (this.wanted === 'stopped') return;
    this.wanted = 'paused';
    this.apply();
  }

  resume(): void {
    if (this.wanted === 'stopped') return;
    this.wanted = 'running';
    this.apply();
  }

  /** The manager's pause (a backup): every worker parks, and a crashed one is not restarted until it ends. */
  setManagerPause(paused: boolean): void {
    this.managerPaused = paused;
    this.apply();
  }

  /** Wakes an idle worker: there may be new work. */
  nudge(): void {
    if (this.thread) nudge(this.thread.cells);
  }

  async stop(): Promise<void> {
    this.wanted = 'stopped';
    this.cancelRestart();
    const thread = this.thread;
    if (!thread) return;
    thread.stopping = true;
    this.ask(thread, Desired.stop);
    // A model or embedding call in flight would hold the stop (and the exit) for up to stopTimeoutMs. Ending it
    // is safe: the worker's next step is a safe point that sees the stop and writes nothing (pausable-loop.ts).
    thread.port.close();
    // A thread still loading has done nothing, and on a busy machine loading takes seconds: end it now rather
    // than make the exit wait for it to start only to stop.
    if (actualOf(thread.cells) === Actual.starting) await thread.worker.terminate();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>(
      (resolve) => (timer = setTimeout(() => resolve(true), this.options.stopTimeoutMs)),
    );
    // A worker in a long model call does not reach a safe point soon; ending it then is safe, as it holds no
    // database handle: a write it sent is completed (or refused) by the owner on its own.
    if (await Promise.race([thread.exited.then(() => false), timedOut])) await thread.worker.terminate();
    clearTimeout(timer);
    await thread.exited;
  }

  /**
   * Resolves true once this worker, asked to pause, is parked with none of its writes in flight (or has no
   * thread, or was not asked); false at the deadline.
   */
  async waitParked(deadline: number): Promise<boolean> {
    for (;;) {
      const thread = this.thread;
      if (!thread) return true;
      if (desiredOf(thread.cells) === Desired.run) return true; // not asked to pause
      const actual = actualOf(thread.cells);
      // A thread still starting has done nothing yet, and the first thing it does is pass a safe point.
      const still = actual === Actual.parked || actual === Actual.starting || actual === Actual.stopped;
      if (still && this.pendingWrites === 0) return true;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      await waitForChange(thread.cells, ACTUAL, actual, remaining);
    }
  }

  /** Answered by the worker's event loop within timeoutMs, or false. */
  async ping(timeoutMs: number): Promise<boolean> {
    const thread = this.thread;
    if (!thread) return false;
    const nonce = Math.floor(Math.random() * 2 ** 31);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((resolve) => (timer = setTimeout(() => resolve(-1), timeoutMs)));
    try {
      return (await Promise.race([thread.control.ping(nonce), timeout])) === nonce;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends a thread that is alive but unresponsive, and restarts it like a crash. */
  async recycle(reason: string): Promise<void> {
    const thread = this.thread;
    if (!thread) return;
    this.lastError = reason;
    await thread.worker.terminate();
    await thread.exited;
  }

  status(): WorkerStatus {
    return {
      name: this.name,
      state: this.state(),
      done: this.done,
      failed: this.failed,
      lastError: this.lastError,
      crashes: this.crashes,
      restartAt: this.restartAt,
    };
  }

  // ---- internals ----

  private desired(): DesiredValue {
    if (this.wanted === 'stopped') return Desired.stop;
    if (this.wanted === 'paused' || this.managerPaused) return Desired.pause;
    return Desired.run;
  }

  /** Brings the thread (or its absence) in line with `wanted` and `managerPaused`. */
  private apply(): void {
    const desired = this.desired();
    if (this.thread) {
      if (!this.thread.stopping && desiredOf(this.thread.cells) !== desired) this.ask(this.thread, desired);
      return;
    }
    if (desired === Desired.stop) return;
    if (this.restartTimer) return; // a crash backoff is running; it calls apply() again when it ends
    if (this.restartDue && this.managerPaused) return; // restarted when the manager's pause ends
    this.restartDue = false;
    this.spawn(desired);
  }

  private ask(thread: Thread, desired: DesiredValue): void {
    request(thread.cells, desired);
    // Writes still waiting in line are answered `paused` now, so the worker can park without waiting its turn.
    if (desired !== Desired.run) thread.port.withdrawWaitingWrites();
  }

  private spawn(desired: DesiredValue): void {
    const control = createControlBlock(desired);
    const cells = new Int32Array(control);
    const channel = new MessageChannel();
    const gate: PortGate = {
      writesAllowed: () => this.thread?.cells === cells && desiredOf(cells) === Desired.run,
      writeStarted: () => {
        this.pendingWrites++;
      },
      writeEnded: () => {
        this.pendingWrites--;
        // Wake an owner waiting for this worker to be parked with nothing in flight (on the current thread's
        // cells: a write of a thread that has since been replaced still counts).
        Atomics.notify(this.thread?.cells ?? cells, ACTUAL);
      },
      counted: (event) => {
        if (event.type === 'written') this.done++;
        if (event.type === 'failed') {
          this.failed++;
          this.lastError = event.error;
        }
        this.options.onEvent?.(event);
      },
    };
    const port = new MemoryPort({ ...this.options.port, worker: this.name, gate });
    expose(port.api(), nodeEndpoint(channel.port1));
    const data: WorkerData = {
      name: this.name,
      control,
      memoryPort: channel.port2,
      settings: this.options.settings,
      hooks: this.options.hooks,
    };
    const worker = startWorker(this.name, { workerData: data, transferList: [channel.port2], name: this.name });
    let crashError: string | undefined;
    worker.on('error', (err) => (crashError = `crashed: ${messageOf(err)}`));
    const thread: Thread = {
      worker,
      cells,
      control: wrap<WorkerControlApi>(nodeEndpoint(worker)),
      port,
      ownerEnd: channel.port1,
      startedAt: Date.now(),
      stopping: false,
      exited: new Promise((resolve) =>
        worker.once('exit', (code) => {
          this.exited(thread, code, crashError);
          resolve();
        }),
      ),
    };
    this.thread = thread;
  }

  private exited(thread: Thread, code: number, crashError: string | undefined): void {
    try {
      thread.control[releaseProxy]();
    } catch {
      // the thread is gone; nothing to tell it
    }
    thread.port.close();
    thread.ownerEnd.close();
    if (this.thread === thread) this.thread = undefined;
    Atomics.notify(thread.cells, ACTUAL);
    // A requested stop ends with code 0, or 1 when terminate() had to end a worker that did not stop in time.
    if (thread.stopping || this.wanted === 'stopped') return;
    this.crashes++;
    this.lastError = crashError ?? this.lastError ?? `the thread exited with code ${code}`;
    if (Date.now() - thread.startedAt >= this.options.restart.stableMs) this.crashesInARow = 0;
    this.crashesInARow++;
    const { initialMs, maxMs } = this.options.restart;
    const delay = Math.min(maxMs, initialMs * 2 ** Math.min(this.crashesInARow - 1, 20));
    this.restartAt = Date.now() + delay;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restartAt = undefined;
      this.restartDue = true;
      this.apply();
    }, delay);
    this.options.onCrash?.(this.name, this.lastError);
  }

  private cancelRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.restartAt = undefined;
    this.restartDue = false;
  }

  private state(): WorkerState {
    const thread = this.thread;
    if (!thread) {
      if (this.restartTimer || this.restartDue) return 'crashed';
      return 'stopped';
    }
    if (thread.stopping) return 'stopping';
    const actual = actualOf(thread.cells);
    if (desiredOf(thread.cells) === Desired.pause) {
      // As in waitParked: a thread still starting will park before it does anything.
      const still = actual === Actual.parked || actual === Actual.starting;
      return still && this.pendingWrites === 0 ? 'paused' : 'pausing';
    }
    if (actual === Actual.starting) return 'starting';
    return actual === Actual.idle ? 'idle' : 'running';
  }
}
