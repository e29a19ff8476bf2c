import type { Remote } from 'comlink';
import type { PauseGate } from './pause-gate.js';
import type {
  ItemHookContext,
  ItemHooks,
  ItemRef,
  MemoryPortApi,
  ReadReply,
  WireError,
  WorkItem,
  WorkResult,
  WriteReply,
} from './shared/protocol.js';
import { toWireError } from './shared/wire-error.js';

// The loop all three workers share: read a batch, compute each chunk of it in a pure region (no writes), then
// offer each result for writing, one at a time, each behind a safe point. This is what makes the pause proof
// hold on the worker's side; the owner's port enforces it again on its side (src/workers-host/memory-port.ts).

export type Outcome = { ok: true; result: WorkResult } | { ok: false; error: WireError };

export interface Job<I extends WorkItem = WorkItem> {
  /** Items computed together: 1 for a summary (one model call each), more for a batch of embeddings. */
  chunkSize: number;
  /** Computes one outcome per item, in order. Must not write: it runs inside the gate's pure region. */
  compute(items: I[]): Promise<Outcome[]>;
  /** Frees what the job holds (the embedding pool). */
  close?(): Promise<void>;
}

export interface LoopOptions<I extends WorkItem> {
  gate: PauseGate;
  port: Remote<MemoryPortApi>;
  job: Job<I>;
  batchSize: number;
  idlePollMs: number;
  hooks?: ItemHooks | undefined;
  hookContext: ItemHookContext;
}

export async function runPausableLoop<I extends WorkItem>(options: LoopOptions<I>): Promise<void> {
  const { gate, port, job, hooks, hookContext } = options;
  for (;;) {
    if ((await gate.safePoint()) === 'stop') return;
    // A read cannot write: a pause asked meanwhile is acknowledged at once (what it returns is only used after
    // resume, and each write checks the item is still what was read).
    const read = await gate.pure<ReadReply<WorkItem[]>>(port.nextItems(options.batchSize));
    const items = read.status === 'ok' ? (read.value as I[]) : [];
    if (items.length === 0) {
      // Nothing to do, or the read failed (it is simply tried again): wait for work or a request.
      if ((await gate.idle(options.idlePollMs)) === 'stop') return;
      continue;
    }
    let progressed = false;
    for (let start = 0; start < items.length; start += job.chunkSize) {
      const chunk = items.slice(start, start + job.chunkSize);
      if ((await gate.safePoint()) === 'stop') return;
      for (const item of chunk) await hooks?.beforeItem?.(refOf(item), hookContext);
      const outcomes = await gate.pure(
        job.compute(chunk).catch((err: unknown) => chunk.map((): Outcome => ({ ok: false, error: toWireError(err) }))),
      );
      for (const [i, item] of chunk.entries()) {
        await hooks?.afterCompute?.(refOf(item), hookContext);
        const outcome = outcomes[i] ?? { ok: false, error: { message: 'no result was computed for this item' } };
        const offered = await offer(gate, port, refOf(item), outcome);
        if (offered === 'stop') return;
        progressed ||= offered === 'done';
      }
    }
    // Every write failed (the database is unwell): do not spin on the same batch.
    if (!progressed && (await gate.idle(options.idlePollMs)) === 'stop') return;
  }
}

/**
 * Offers one outcome for writing. Each attempt is preceded by a safe point, so a result computed while a pause
 * was asked is written only after resume; if the pause raced the attempt, the owner refuses it and it is
 * offered again after resume. On stop, the result is dropped: nothing was written, so the item comes back.
 */
async function offer(
  gate: PauseGate,
  port: Remote<MemoryPortApi>,
  ref: ItemRef,
  outcome: Outcome,
): Promise<'done' | 'lost' | 'stop'> {
  let current = outcome;
  for (;;) {
    if ((await gate.safePoint()) === 'stop') return 'stop';
    const reply: WriteReply = current.ok
      ? await port.saveResult(current.result)
      : await port.recordFailure(ref, current.error);
    switch (reply.status) {
      case 'paused':
        continue;
      case 'written':
      case 'stale':
        return 'done';
      case 'failed':
        // A result that cannot be written becomes a recorded failure (retried with backoff); a failure that
        // cannot be recorded is dropped, and the item is handed out again by a later read.
        if (!current.ok) return 'lost';
        current = { ok: false, error: reply.error };
    }
  }
}

function refOf(item: WorkItem): ItemRef {
  return { kind: item.kind, id: item.id };
}
