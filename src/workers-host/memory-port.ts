import type { ChatProvider } from '../app.js';
import type { MemoryStore } from '../store/memory-store.js';
import {
  conversationsToSummarize,
  exchangesToSummarize,
  recordFailure,
  saveEmbedding,
  saveSummary,
  summariesToEmbed,
  WriteWithdrawn,
} from '../store/work-queue.js';
import type { RetryPolicy, WriteGuard } from '../store/work-queue.js';
import type {
  ChatCallReply,
  EmbedCallReply,
  ItemRef,
  MemoryPortApi,
  ChatMessage,
  ReadReply,
  WireError,
  WorkItem,
  WorkResult,
  WorkerName,
  WriteReply,
} from '../../workers/shared/protocol.js';
import { describeWireError, toWireError } from '../../workers/shared/wire-error.js';
import type { Embedder } from './embedder.js';

// The database owner's side of one worker's memory port. It is the only way a worker reaches the memory, and it
// enforces the pause on its own, whatever the worker does: every write is checked against the worker's gate
// when it arrives, and refused (`paused`) unless the owner currently lets that worker run. Writes it accepted
// are counted until they are committed, so "parked" can be required to mean "and nothing of yours in flight".
// It holds the MemoryStore itself, never a connection: a close and reopen of the store is invisible here.

export type PortEvent =
  | { type: 'written' | 'stale'; worker: WorkerName; ref: ItemRef }
  | { type: 'failed'; worker: WorkerName; ref: ItemRef; error: string }
  /** A write that arrived while the worker was asked to pause or stop, and was not applied. */
  | { type: 'refused'; worker: WorkerName; ref: ItemRef };

/** What the port shares with the supervisor of its worker (src/workers-host/worker-handle.ts). */
export interface PortGate {
  /** True while the owner lets this worker write (it is not asked to pause or stop). */
  writesAllowed(): boolean;
  /** Counts accepted writes until they are committed or failed. */
  writeStarted(): void;
  writeEnded(): void;
  /** Results written and failures recorded, for /worker status. */
  counted(event: PortEvent): void;
}

export interface MemoryPortDeps {
  worker: WorkerName;
  store: MemoryStore;
  provider: () => ChatProvider;
  embedder: Embedder;
  activeConversation: () => number | undefined;
  retry: RetryPolicy;
  gate: PortGate;
}

export class MemoryPort {
  /** Aborted when the worker stops, so that a model call it started does not outlive it. */
  private readonly calls = new AbortController();
  private readonly waiting = new Set<() => void>();

  constructor(private readonly deps: MemoryPortDeps) {}

  /** The object exposed over Comlink: only these methods, nothing else of the port is reachable. */
  api(): MemoryPortApi {
    return {
      nextItems: (limit) => this.nextItems(limit),
      saveResult: (result) => this.saveResult(result),
      recordFailure: (ref, error) => this.recordFailure(ref, error),
      chat: (messages) => this.chat(messages),
      embed: (texts) => this.embed(texts),
    };
  }

  close(): void {
    this.calls.abort();
  }

  async nextItems(limit: number): Promise<ReadReply<WorkItem[]>> {
    const { store, worker } = this.deps;
    const n = Math.max(1, Math.min(Math.floor(limit) || 1, 256));
    try {
      const value: WorkItem[] =
        worker === 'conversation-summarizer'
          ? await conversationsToSummarize(store, this.deps.activeConversation(), n)
          : worker === 'exchange-summarizer'
            ? await exchangesToSummarize(store, n)
            : await summariesToEmbed(store, this.deps.embedder.model, n);
      return { status: 'ok', value };
    } catch (err) {
      return { status: 'failed', error: toWireError(err) };
    }
  }

  async saveResult(result: WorkResult): Promise<WriteReply> {
    const expected = this.deps.worker === 'embeddings' ? 'embedding' : 'summary';
    if (result.type !== expected) {
      return { status: 'failed', error: { message: `${this.deps.worker} cannot write a ${result.type}` } };
    }
    return this.write(result.ref, async (guard) => {
      const { store } = this.deps;
      const written =
        result.type === 'summary' ? await saveSummary(store, result, guard) : await saveEmbedding(store, result, guard);
      this.deps.gate.counted({ type: written ? 'written' : 'stale', worker: this.deps.worker, ref: result.ref });
      return { status: written ? 'written' : 'stale' };
    });
  }

  async recordFailure(ref: ItemRef, error: WireError): Promise<WriteReply> {
    return this.write(ref, async (guard) => {
      const line = describeWireError(error);
      await recordFailure(this.deps.store, this.deps.worker, ref, line, this.deps.retry, guard);
      this.deps.gate.counted({ type: 'failed', worker: this.deps.worker, ref, error: line });
      return { status: 'written' };
    });
  }

  async chat(chat: ChatMessage[]): Promise<ChatCallReply> {
    const provider = this.deps.provider();
    if (!provider.available) return { status: 'unavailable' };
    try {
      const reply = await provider.complete(chat, this.calls.signal);
      return { status: 'ok', text: reply.text, model: reply.model };
    } catch (err) {
      return { status: 'failed', error: toWireError(err) };
    }
  }

  async embed(texts: string[]): Promise<EmbedCallReply> {
    const { embedder } = this.deps;
    if (embedder.endpoint === undefined) return { status: 'local', model: embedder.model };
    try {
      return { status: 'ok', vectors: await embedder.embed(texts, this.calls.signal), model: embedder.model };
    } catch (err) {
      return { status: 'failed', error: toWireError(err) };
    }
  }

  /**
   * Withdraws the writes that were accepted but are still waiting for their turn in the store's queue: each is
   * answered `paused` at once (the worker offers it again after resume) and will not be applied when its turn
   * comes. Called as soon as the worker is asked to pause or stop, so the worker does not wait in line to park.
   */
  withdrawWaitingWrites(): void {
    for (const withdraw of [...this.waiting]) withdraw();
  }

  /**
   * The owner's write gate for this worker, checked twice: when the write arrives, and when its turn in the
   * store's queue comes (inside its transaction, before it changes anything). Counted until it settles.
   */
  private write(ref: ItemRef, apply: (guard: WriteGuard) => Promise<WriteReply>): Promise<WriteReply> {
    const { gate, worker } = this.deps;
    const refuse = (): WriteReply => {
      gate.counted({ type: 'refused', worker, ref });
      return { status: 'paused' };
    };
    if (!gate.writesAllowed()) return Promise.resolve(refuse());
    gate.writeStarted();
    return new Promise<WriteReply>((resolve) => {
      let state: 'waiting' | 'running' | 'settled' = 'waiting';
      const settle = (reply: WriteReply) => {
        if (state === 'settled') return;
        state = 'settled';
        this.waiting.delete(withdraw);
        gate.writeEnded();
        resolve(reply);
      };
      const withdraw = () => {
        if (state === 'waiting') settle(refuse());
      };
      this.waiting.add(withdraw);
      const guard: WriteGuard = () => {
        if (state !== 'waiting' || !gate.writesAllowed()) {
          withdraw();
          return false;
        }
        state = 'running';
        this.waiting.delete(withdraw);
        return true;
      };
      apply(guard).then(settle, (err: unknown) => {
        // A withdrawn write has been answered already; anything else is a failed write.
        if (!(err instanceof WriteWithdrawn)) settle({ status: 'failed', error: toWireError(err) });
      });
    });
  }
}
