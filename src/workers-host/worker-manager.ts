import os from 'node:os';
import type { ChatProvider, WorkerAdmin } from '../app.js';
import { messages } from '../errors.js';
import type { MemoryStore } from '../store/memory-store.js';
import { EMBEDDING_DIMENSIONS } from '../store/schema.js';
import { DEFAULT_RETRY } from '../store/work-queue.js';
import type { RetryPolicy } from '../store/work-queue.js';
import { taskFile } from '../threads/worker-file.js';
import type { HooksSpec, WorkerName, WorkerSettings, WorkerStatus } from '../../workers/shared/protocol.js';
import { embedderFromEnv } from './embedder.js';
import type { Embedder } from './embedder.js';
import type { PortEvent } from './memory-port.js';
import { DEFAULT_RESTART, WorkerHandle } from './worker-handle.js';
import type { RestartPolicy } from './worker-handle.js';

// The three background workers, as one WorkerControl. The pause protocol, end to end:
// 1. pauseAll() sets every worker's control block to "pause" (synchronously). From that instant the owner's
//    memory port refuses every write from those workers (memory-port.ts), whatever they do.
// 2. Each worker parks at its next safe point (between items, before each write, or at once if it is only
//    awaiting a model call or an embedding: workers/pause-gate.ts) and publishes `parked`.
// 3. waitUntilAllPaused() resolves when every worker with a thread is parked and none of the writes the owner
//    accepted before step 1 is still running; it rejects at the timeout naming the others.
// 4. Until resumeAll() nothing is written by a worker: refused on arrival, and none was in flight. Results
//    computed meanwhile (a model call that was running) are held by the worker and offered after resume.
// 5. resumeAll() lifts the manager's pause: exactly the workers that want to run resume (one stopped or paused
//    by the user stays so), crashed ones held back during the pause restart, and each running one must answer
//    a ping in time, or it is restarted and the call rejects naming it.

export const WORKER_NAMES: readonly WorkerName[] = ['conversation-summarizer', 'exchange-summarizer', 'embeddings'];

export interface WorkerManagerOptions {
  store: MemoryStore;
  /** The chat model summaries use (read at each call, so a changed provider is picked up). */
  provider: () => ChatProvider;
  /** The conversation in progress, which the conversation summariser leaves alone. */
  activeConversation: () => number | undefined;
  /** Defaults to the embedder the environment configures (embedder.ts). */
  embedder?: Embedder;
  env?: NodeJS.ProcessEnv;
  /** Which workers exist (all three by default). */
  names?: readonly WorkerName[];
  settings?: Partial<Omit<WorkerSettings, 'embedBatchFile' | 'embeddingDimensions'>>;
  retry?: RetryPolicy;
  restart?: RestartPolicy;
  /** How long stop() lets a worker reach a safe point before ending its thread. */
  stopTimeoutMs?: number;
  /** Test and benchmark seam: a hooks module per worker (see HooksSpec). */
  hooks?: Partial<Record<WorkerName, HooksSpec>>;
  onEvent?: (event: PortEvent) => void;
  onCrash?: (name: WorkerName, error: string) => void;
}

export const DEFAULT_SETTINGS = { batchSize: 16, idlePollMs: 5_000 } as const;

export class WorkerManager implements WorkerAdmin {
  readonly embedder: Embedder;
  private readonly handles: Map<WorkerName, WorkerHandle>;
  private paused = false;

  constructor(options: WorkerManagerOptions) {
    this.embedder = options.embedder ?? embedderFromEnv(options.env ?? process.env, EMBEDDING_DIMENSIONS);
    const settings: WorkerSettings = {
      batchSize: options.settings?.batchSize ?? DEFAULT_SETTINGS.batchSize,
      idlePollMs: options.settings?.idlePollMs ?? DEFAULT_SETTINGS.idlePollMs,
      embeddingDimensions: EMBEDDING_DIMENSIONS,
      embedBatchFile: taskFile('embed-batch'),
      // Two cores here: one pool thread beside the main thread and the three workers is plenty.
      embedThreads: options.settings?.embedThreads ?? Math.max(1, Math.min(2, os.availableParallelism() - 1)),
    };
    const names = options.names ?? WORKER_NAMES;
    this.handles = new Map(
      names.map((name) => [
        name,
        new WorkerHandle({
          name,
          settings,
          port: {
            store: options.store,
            provider: options.provider,
            embedder: this.embedder,
            activeConversation: options.activeConversation,
            retry: options.retry ?? DEFAULT_RETRY,
          },
          restart: options.restart ?? DEFAULT_RESTART,
          stopTimeoutMs: options.stopTimeoutMs ?? 3_000,
          hooks: options.hooks?.[name],
          onEvent: (event) => {
            // A new summary is new work for the embeddings worker: wake it rather than let it sleep on.
            if (event.type === 'written' && name !== 'embeddings') this.handles.get('embeddings')?.nudge();
            options.onEvent?.(event);
          },
          onCrash: options.onCrash,
        }),
      ]),
    );
  }

  get names(): WorkerName[] {
    return [...this.handles.keys()];
  }

  /** True between pauseAll() and resumeAll(). */
  get pausedForAll(): boolean {
    return this.paused;
  }

  startAll(): void {
    for (const handle of this.handles.values()) handle.start();
  }

  start(name: string): void {
    this.handle(name).start();
  }

  pause(name: string): void {
    this.handle(name).pause();
  }

  resume(name: string): void {
    this.handle(name).resume();
  }

  stop(name: string): Promise<void> {
    return this.handle(name).stop();
  }

  /** Stops every thread (at shutdown, before the store closes). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.handles.values()].map((h) => h.stop()));
  }

  /** Wakes idle workers: a chat exchange just completed, or a conversation ended. */
  nudge(): void {
    for (const handle of this.handles.values()) handle.nudge();
  }

  status(): WorkerStatus[] {
    return [...this.handles.values()].map((h) => h.status());
  }

  async pauseAll(): Promise<void> {
    this.paused = true;
    for (const handle of this.handles.values()) handle.setManagerPause(true);
  }

  async waitUntilAllPaused(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const handles = [...this.handles.values()];
    const parked = await Promise.all(handles.map((h) => h.waitParked(deadline)));
    const late = handles.filter((_, i) => !parked[i]).map((h) => h.name);
    if (late.length > 0) throw messages.workersNotPaused(late, timeoutMs);
  }

  async resumeAll(healthTimeoutMs: number): Promise<void> {
    this.paused = false;
    const resumed = [...this.handles.values()].filter((h) => h.alive && h.wantsToRun);
    for (const handle of this.handles.values()) handle.setManagerPause(false);
    const answers = await Promise.all(resumed.map((h) => h.ping(healthTimeoutMs)));
    const silent = resumed.filter((_, i) => !answers[i]);
    await Promise.all(silent.map((h) => h.recycle(`did not answer a ping within ${healthTimeoutMs} ms after resume`)));
    if (silent.length > 0) {
      throw messages.workersUnhealthy(
        silent.map((h) => h.name),
        healthTimeoutMs,
      );
    }
  }

  private handle(name: string): WorkerHandle {
    const handle = this.handles.get(name as WorkerName);
    if (!handle) throw messages.unknownWorker(name, this.names);
    return handle;
  }
}
