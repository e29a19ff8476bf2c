// The contract between the main thread (src/workers-host) and the background worker threads (workers/*).
// Types only: each side imports it with `import type`, so nothing here runs in either thread.
//
// Two channels per worker thread:
// - the control block, a SharedArrayBuffer (layout in ./control-block.ts): pause/resume/stop requests and the
//   worker's parked acknowledgement. Shared memory, so a worker sees a pause request at its next safe point
//   without having to process a message first, and the owner reads a worker's state without a round trip;
// - Comlink: the worker exposes WorkerControlApi on its parentPort; the database owner exposes MemoryPortApi on
//   a MessageChannel whose other end is handed to the worker in workerData. The worker never opens the database.
//
// Comlink keeps only message/name/stack of a thrown error, so nothing here throws across the boundary: every
// call answers with a result object carrying a WireError, and each side rebuilds what it needs.

import type { MessagePort } from 'node:worker_threads';

export type WorkerName = 'conversation-summarizer' | 'exchange-summarizer' | 'embeddings';

/** What a status line shows. `pausing`: asked to pause, not parked yet. `crashed`: died, a restart is scheduled. */
export type WorkerState = 'starting' | 'running' | 'idle' | 'pausing' | 'paused' | 'stopping' | 'stopped' | 'crashed';

export interface WorkerStatus {
  name: WorkerName;
  state: WorkerState;
  /** Results written since the application started (across restarts). */
  done: number;
  /** Items whose processing failed (each recorded in failed_jobs). */
  failed: number;
  /** Last item failure or crash, one line. */
  lastError: string | undefined;
  /** Unexpected exits of the thread since the application started. */
  crashes: number;
  /** When a crashed worker will be started again (epoch ms). */
  restartAt: number | undefined;
}

/** An error as it crosses a thread: the fields of NuError that matter to a reader. */
export interface WireError {
  message: string;
  code?: string | undefined;
  hint?: string | undefined;
}

// ---- work items, as the owner hands them out ----

export type ItemKind = 'conversation' | 'exchange';

export interface ItemRef {
  kind: ItemKind;
  id: number;
}

export interface TranscriptLine {
  role: string;
  content: string;
}

export interface ConversationItem extends ItemRef {
  kind: 'conversation';
  title: string | null;
  transcript: TranscriptLine[];
  /** Time of the newest content the transcript covers (epoch µs); the summary is stored as "up to date as of". */
  asOfUs: number;
}

export interface ExchangeItem extends ItemRef {
  kind: 'exchange';
  userMessage: string;
  /** Undefined for the offline provider's stock reply: stored, but never part of a summary. */
  assistantMessage: string | undefined;
  /** Completion time of the exchange (epoch µs): the write checks it is still the same exchange. */
  asOfUs: number;
}

/** A summary (conversation or exchange) that has no embedding for the current embedding model yet. */
export interface EmbeddingItem extends ItemRef {
  content: string;
}

export type WorkItem = ConversationItem | ExchangeItem | EmbeddingItem;

export interface SummaryResult {
  type: 'summary';
  ref: ItemRef;
  summary: string;
  model: string;
  /** The asOfUs of the item summarised. */
  asOfUs: number;
}

export interface EmbeddingResult {
  type: 'embedding';
  ref: ItemRef;
  content: string;
  vector: Float32Array;
  model: string;
}

export type WorkResult = SummaryResult | EmbeddingResult;

// ---- the memory port: the database owner's narrow API, one instance per worker ----

export type ReadReply<T> = { status: 'ok'; value: T } | { status: 'failed'; error: WireError };

/**
 * `written`: committed. `stale`: nothing written because the item changed since it was read (the next read hands
 * it out again). `paused`: refused because the owner asked this worker to pause (or stop); the worker keeps the
 * result and offers it again after resume. `failed`: the write itself failed (the item is retried).
 */
export type WriteReply =
  { status: 'written' } | { status: 'stale' } | { status: 'paused' } | { status: 'failed'; error: WireError };

/** One message of a chat with the model, as the main thread's ChatProvider takes it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export type ChatCallReply =
  | { status: 'ok'; text: string; model: string }
  /** No model configured: the worker makes a local extractive summary instead. */
  | { status: 'unavailable' }
  | { status: 'failed'; error: WireError };

export type EmbedCallReply =
  | { status: 'ok'; vectors: Float32Array[]; model: string }
  /** No embeddings endpoint configured: the worker computes the local embedding (model name given). */
  | { status: 'local'; model: string }
  | { status: 'failed'; error: WireError };

export interface MemoryPortApi {
  /** Up to `limit` items for this worker to process (reads only). */
  nextItems(limit: number): Promise<ReadReply<WorkItem[]>>;
  /** Writes one result in one transaction; refused while this worker is asked to pause. */
  saveResult(result: WorkResult): Promise<WriteReply>;
  /** Records one item's failure in failed_jobs (retried later with backoff); refused while paused. */
  recordFailure(ref: ItemRef, error: WireError): Promise<WriteReply>;
  /** One chat model call, made by the main thread's ChatProvider. Never writes. */
  chat(messages: ChatMessage[]): Promise<ChatCallReply>;
  /** Embeds texts with the configured endpoint, or answers `local`. Never writes. */
  embed(texts: string[]): Promise<EmbedCallReply>;
}

// ---- the worker's control API (over Comlink on the worker's parentPort) ----

export interface WorkerControlApi {
  /** Answered by the worker's event loop: proves it is alive and not blocked. Returns the nonce. */
  ping(nonce: number): Promise<number>;
}

// ---- what a worker thread is started with ----

/** A module to run in a thread (a worker or a piscina pool's task file), compiled or from source. */
export interface WorkerFile {
  /** Absolute path of the module to run in the thread. */
  filename: string;
  /** Arguments the thread needs to load it. */
  execArgv: string[];
}

export interface WorkerSettings {
  /** Items asked for per read. */
  batchSize: number;
  /** How long an idle worker waits before looking for work again (a nudge or a request wakes it earlier). */
  idlePollMs: number;
  /** FLOAT[N] of the embeddings table (src/store/schema.ts EMBEDDING_DIMENSIONS). */
  embeddingDimensions: number;
  /** Piscina task file for a batch of local embeddings (workers/embed-batch), resolved by the main thread. */
  embedBatchFile: WorkerFile;
  /** Threads in the embedding pool. */
  embedThreads: number;
}

/**
 * A test or benchmark seam: a module (file URL) loaded in the worker, whose default export receives each item.
 * It may block, throw or crash to inject a fault that cannot be produced for real; `data` is shared memory for
 * coordinating with the test through Atomics.
 */
export interface HooksSpec {
  module: string;
  data?: SharedArrayBuffer | undefined;
}

export interface ItemHookContext {
  worker: WorkerName;
  /** The hooks' shared memory, if any. */
  data: SharedArrayBuffer | undefined;
}

export interface ItemHooks {
  /** Before an item is computed: not a safe point (the worker is mid-batch). */
  beforeItem?(ref: ItemRef, context: ItemHookContext): void | Promise<void>;
  /** After an item's result is computed, before it is offered for writing. */
  afterCompute?(ref: ItemRef, context: ItemHookContext): void | Promise<void>;
}

export interface WorkerData {
  name: WorkerName;
  /** The control block (./control-block.ts). */
  control: SharedArrayBuffer;
  /** The worker's end of the memory port channel (transferred). */
  memoryPort: MessagePort;
  settings: WorkerSettings;
  hooks?: HooksSpec | undefined;
}
