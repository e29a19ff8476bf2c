import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';
import type { ChatMessage, ChatProvider, ChatReply } from '../../src/app.js';
import { OfflineProvider } from '../../src/llm/offline.js';
import { completeExchange, createConversation, startExchange } from '../../src/store/conversations.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { PortEvent } from '../../src/workers-host/memory-port.js';
import { WorkerManager } from '../../src/workers-host/worker-manager.js';
import type { WorkerManagerOptions } from '../../src/workers-host/worker-manager.js';
import { tempDir } from './temp-dir.js';
import type { HooksSpec } from '../../workers/shared/protocol.js';

// Shared pieces of the background-worker tests: chat rows to work on, a model whose calls the test answers,
// the fixture hooks with their shared memory, and a log of the workers' writes to wait on (never a sleep).

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'worker-hooks');

/** A hooks fixture (test/fixtures/worker-hooks/<name>.ts) with `cells` Int32 cells of shared memory. */
export function fixtureHooks(name: string, cells: number): { spec: HooksSpec; cells: Int32Array } {
  const data = new SharedArrayBuffer(cells * Int32Array.BYTES_PER_ELEMENT);
  return { spec: { module: pathToFileURL(path.join(fixtures, `${name}.ts`)).href, data }, cells: new Int32Array(data) };
}

/** Resolves once cells[index] >= value (the worker thread notifies), or rejects after ms. */
export async function untilCell(cells: Int32Array, index: number, value: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const seen = Atomics.load(cells, index);
    if (seen >= value) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`cell ${index} stayed at ${seen}, waited for ${value}`);
    const wait = Atomics.waitAsync(cells, index, seen, left);
    let timer: NodeJS.Timeout | undefined;
    if (wait.async) await Promise.race([wait.value, new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
}

export interface SeededConversation {
  id: number;
  exchanges: number[];
}

/** Conversations with completed exchanges, through the application's own store operations. */
export async function seedChat(
  store: MemoryStore,
  conversations: number,
  exchangesEach: number,
  topic = (c: number, e: number) => `question ${e} about subject ${c}`,
): Promise<SeededConversation[]> {
  const seeded: SeededConversation[] = [];
  for (let c = 0; c < conversations; c++) {
    const id = await createConversation(store, `conversation ${c}`);
    const exchanges: number[] = [];
    for (let e = 0; e < exchangesEach; e++) {
      const started = await startExchange(store, id, `Tell me about ${topic(c, e)}. I need the details.`);
      await completeExchange(store, started, {
        text: `Here is what I know about ${topic(c, e)}. It is a long story with several parts.`,
        model: 'test-model',
        durationMs: 1,
      });
      exchanges.push(started.id);
    }
    seeded.push({ id, exchanges });
  }
  return seeded;
}

/** A model whose calls stay open until the test answers them. */
export class HeldModel implements ChatProvider {
  readonly name = 'openai';
  readonly description = 'a model the test answers';
  readonly available = true;
  private readonly open: { resolve: (reply: ChatReply) => void; messages: ChatMessage[] }[] = [];
  private waiters: (() => void)[] = [];
  calls = 0;

  complete(messages: ChatMessage[]): Promise<ChatReply> {
    this.calls++;
    return new Promise((resolve) => {
      this.open.push({ resolve, messages });
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  get pending(): number {
    return this.open.length;
  }

  /** Resolves once `n` calls are open at the same time. */
  async untilPending(n: number): Promise<void> {
    while (this.open.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  answerAll(text = 'A summary written by the held model.'): number {
    const calls = this.open.splice(0);
    for (const call of calls) call.resolve({ text, model: 'held-model' });
    return calls.length;
  }
}

/** Collects the workers' port events and crashes; `until` re-checks a condition after each one. */
export class Activity {
  readonly events: PortEvent[] = [];
  readonly crashes: { name: string; error: string }[] = [];
  private listeners: (() => void)[] = [];

  readonly onEvent = (event: PortEvent) => {
    this.events.push(event);
    this.wake();
  };

  readonly onCrash = (name: string, error: string) => {
    this.crashes.push({ name, error });
    this.wake();
  };

  count(type: PortEvent['type'], worker?: string): number {
    return this.events.filter((e) => e.type === type && (worker === undefined || e.worker === worker)).length;
  }

  /** Resolves when check() is true, evaluated now and after each event; rejects after ms. */
  async until(check: () => boolean | Promise<boolean>, ms = 30_000, what = 'the condition'): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await check()) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.listeners.push(resolve);
        timer = setTimeout(resolve, Math.min(left, 1_000));
      });
      clearTimeout(timer);
    }
  }

  private wake(): void {
    for (const listener of this.listeners.splice(0)) listener();
  }
}

/**
 * A real WorkerManager on a real database file in a temp dir, wired to an Activity, torn down after the test
 * (workers stopped before the store closes). Idle workers poll only every minute, so a test sees exactly the
 * work it causes; restarts after a crash come quickly.
 */
export async function workerSetUp(options: Partial<WorkerManagerOptions> = {}, dbPath?: string) {
  const store = await MemoryStore.open(dbPath ?? path.join(tempDir(), 'memory.db'));
  const activity = new Activity();
  const manager = new WorkerManager({
    store,
    provider: () => new OfflineProvider(),
    activeConversation: () => undefined,
    settings: { idlePollMs: 60_000 },
    restart: { initialMs: 50, maxMs: 1_000, stableMs: 60_000 },
    onEvent: activity.onEvent,
    onCrash: activity.onCrash,
    ...options,
  });
  onTestFinished(async () => {
    await manager.stopAll();
    await store.close();
  });
  return { store, manager, activity };
}

/**
 * A condition for Activity.until: every one of `conversations` conversations and `exchanges` exchanges has its
 * summary, and each summary its embedding.
 */
export function allProcessed(store: MemoryStore, conversations: number, exchanges: number) {
  return async () => {
    const [row] = await store.all<{ c: number; e: number; v: number }>(`SELECT
        (SELECT count(summary) FROM conversations) AS c,
        (SELECT count(summary) FROM exchanges) AS e,
        (SELECT count(*) FROM embeddings) AS v`);
    return row?.c === conversations && row.e === exchanges && row.v === conversations + exchanges;
  };
}

/** How many exchanges have a summary. */
export async function summarisedExchanges(store: MemoryStore): Promise<number> {
  const [row] = await store.all<{ n: number }>(`SELECT count(summary) AS n FROM exchanges`);
  return Number(row?.n ?? 0);
}
