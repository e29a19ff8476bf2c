import type {
  ConversationItem,
  EmbeddingItem,
  EmbeddingResult,
  ExchangeItem,
  ItemRef,
  SummaryResult,
  TranscriptLine,
} from '../../workers/protocol.js';
import { OFFLINE_MODEL } from './conversations.js';
import { FloatVector } from './memory-store.js';
import type { MemoryStore, SqlRunner } from './memory-store.js';

// The background workers' SQL: what each has left to do, and how one result is written. The owner's memory port
// (src/workers-host/memory-port.ts) is the only caller; workers reach it through the port.
//
// Every write is a compare-and-set: it lands only if the item is still what the worker read (the same newest
// exchange, the same summary text). A result computed before a pause, a reopen or a restore can therefore never
// overwrite newer content or land on a different row that happens to have the same id; it is simply dropped
// ("stale") and the item is handed out again if it still needs work.

/**
 * Asked once a write's turn in the store's queue has come, inside its transaction and before it changes
 * anything: false withdraws the write (it is rolled back untouched and rejects with WriteWithdrawn). The memory
 * port uses it so that a write still waiting in line when its worker is asked to pause is never applied.
 */
export type WriteGuard = () => boolean;

export class WriteWithdrawn extends Error {
  constructor() {
    super('the write was withdrawn before it started');
    this.name = 'WriteWithdrawn';
  }
}

function check(guard: WriteGuard | undefined): void {
  if (guard && !guard()) throw new WriteWithdrawn();
}

/** The job names used in failed_jobs, one per worker. */
export type JobName = 'conversation-summarizer' | 'exchange-summarizer' | 'embeddings';

export interface RetryPolicy {
  /** Delay before the first retry of a failed item; doubled at each further failure. */
  baseMs: number;
  /** The longest delay between retries. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 30_000, maxMs: 6 * 3600_000 };

const notRetryingYet = (job: string, kind: string, idColumn: string) =>
  `NOT EXISTS (SELECT 1 FROM failed_jobs f WHERE f.job = '${job}' AND f.item_kind = '${kind}'
     AND f.item_id = ${idColumn} AND f.retry_after > now())`;

const fromMicros = (param: string) => `(to_timestamp(0) + to_microseconds(${param}::BIGINT))`;

/**
 * Conversations other than the active one whose summary is missing or older than their newest completed
 * exchange, with their transcript (completed exchanges, in order).
 */
export async function conversationsToSummarize(
  db: SqlRunner,
  activeConversationId: number | undefined,
  limit: number,
): Promise<ConversationItem[]> {
  const rows = await db.all<{
    id: number;
    title: string | null;
    as_of_us: number;
    user_message: string;
    assistant_message: string | null;
  }>(
    `WITH content AS (
       SELECT conversation_id AS id, max(completed_at) AS newest FROM exchanges
       WHERE status = 'completed' AND assistant_message IS NOT NULL GROUP BY conversation_id),
     picked AS (
       SELECT c.id, c.title, epoch_us(content.newest) AS as_of_us, content.newest
       FROM conversations c JOIN content USING (id)
       WHERE c.id <> $1 AND (c.summarized_at IS NULL OR c.summarized_at < content.newest)
         AND ${notRetryingYet('conversation-summarizer', 'conversation', 'c.id')}
       ORDER BY c.id LIMIT $2)
     SELECT p.id, p.title, p.as_of_us, e.user_message, ${replyContent('e', '$3')} AS assistant_message
     FROM picked p JOIN exchanges e ON e.conversation_id = p.id
     WHERE e.status = 'completed' AND e.assistant_message IS NOT NULL AND e.completed_at <= p.newest
     ORDER BY p.id, e.exchange_number`,
    [activeConversationId ?? -1, limit, OFFLINE_MODEL],
  );
  const items = new Map<number, ConversationItem>();
  for (const row of rows) {
    let item = items.get(row.id);
    if (!item) {
      item = { kind: 'conversation', id: row.id, title: row.title, asOfUs: Number(row.as_of_us), transcript: [] };
      items.set(row.id, item);
    }
    item.transcript.push({ role: 'user', content: row.user_message } satisfies TranscriptLine);
    if (row.assistant_message !== null) item.transcript.push({ role: 'assistant', content: row.assistant_message });
  }
  return [...items.values()];
}

/** The reply as summary content: NULL for the offline provider's stock reply (`param` binds OFFLINE_MODEL). */
function replyContent(alias: string, param: string): string {
  return `CASE WHEN ${alias}.model IS NOT DISTINCT FROM ${param} THEN NULL ELSE ${alias}.assistant_message END`;
}

/** Completed exchanges (with a reply) that have no summary yet. */
export async function exchangesToSummarize(db: SqlRunner, limit: number): Promise<ExchangeItem[]> {
  const rows = await db.all<{ id: number; user_message: string; assistant_message: string | null; as_of_us: number }>(
    `SELECT id, user_message, ${replyContent('e', '$2')} AS assistant_message, epoch_us(completed_at) AS as_of_us FROM exchanges e
     WHERE status = 'completed' AND assistant_message IS NOT NULL AND completed_at IS NOT NULL AND summary IS NULL
       AND ${notRetryingYet('exchange-summarizer', 'exchange', 'e.id')}
     ORDER BY id LIMIT $1`,
    [limit, OFFLINE_MODEL],
  );
  return rows.map((r) => ({
    kind: 'exchange',
    id: r.id,
    userMessage: r.user_message,
    assistantMessage: r.assistant_message ?? undefined,
    asOfUs: Number(r.as_of_us),
  }));
}

/** Summaries with no embedding, or one computed from another text or by another model than `model`. */
export async function summariesToEmbed(db: SqlRunner, model: string, limit: number): Promise<EmbeddingItem[]> {
  const side = (kind: 'conversation' | 'exchange', table: string) =>
    `SELECT '${kind}' AS kind, s.id, s.summary AS content FROM ${table} s
     LEFT JOIN embeddings e ON e.kind = '${kind}' AND e.source_id = s.id
     WHERE s.summary IS NOT NULL AND (e.source_id IS NULL OR e.content <> s.summary OR e.model <> $1)
       AND ${notRetryingYet('embeddings', kind, 's.id')}`;
  const rows = await db.all<{ kind: 'conversation' | 'exchange'; id: number; content: string }>(
    `SELECT * FROM (${side('conversation', 'conversations')} UNION ALL ${side('exchange', 'exchanges')})
     ORDER BY id, kind LIMIT $2`,
    [model, limit],
  );
  return rows.map((r) => ({ kind: r.kind, id: r.id, content: r.content }));
}

/** Writes one summary; false when the item changed since it was read (nothing written). */
export function saveSummary(store: MemoryStore, result: SummaryResult, guard?: WriteGuard): Promise<boolean> {
  return store.transaction(async (tx) => {
    check(guard);
    const { ref } = result;
    const written =
      ref.kind === 'conversation'
        ? await tx.all(
            `UPDATE conversations SET summary = $2, summary_model = $3, summarized_at = ${fromMicros('$4')}
             WHERE id = $1 AND (summarized_at IS NULL OR summarized_at < ${fromMicros('$4')})
               AND EXISTS (SELECT 1 FROM exchanges e WHERE e.conversation_id = $1 AND e.status = 'completed'
                           AND epoch_us(e.completed_at) = $4)
             RETURNING id`,
            [ref.id, result.summary, result.model, result.asOfUs],
          )
        : await tx.all(
            `UPDATE exchanges SET summary = $2, summary_model = $3, summarized_at = now()
             WHERE id = $1 AND summary IS NULL AND status = 'completed' AND epoch_us(completed_at) = $4
             RETURNING id`,
            [ref.id, result.summary, result.model, result.asOfUs],
          );
    if (written.length > 0) await clearFailure(tx, jobFor(result), ref);
    return written.length > 0;
  });
}

/** Writes one embedding; false when the summary it was computed from is no longer the item's summary. */
export function saveEmbedding(store: MemoryStore, result: EmbeddingResult, guard?: WriteGuard): Promise<boolean> {
  const table = result.ref.kind === 'conversation' ? 'conversations' : 'exchanges';
  return store.transaction(async (tx) => {
    check(guard);
    const written = await tx.all(
      `INSERT OR REPLACE INTO embeddings (kind, source_id, content, embedding, model, created_at)
       SELECT $1, $2, $3, $4, $5, now()
       WHERE EXISTS (SELECT 1 FROM ${table} WHERE id = $2 AND summary = $3)
       RETURNING source_id`,
      [result.ref.kind, result.ref.id, result.content, new FloatVector([...result.vector]), result.model],
    );
    if (written.length > 0) await clearFailure(tx, 'embeddings', result.ref);
    return written.length > 0;
  });
}

/**
 * Records that an item failed: a new failed_jobs row, or one more attempt on the existing one. The item is left
 * alone until retry_after, which doubles with each attempt (policy.baseMs, 2×, 4×, … up to policy.maxMs).
 */
export function recordFailure(
  store: MemoryStore,
  job: JobName,
  ref: ItemRef,
  error: string,
  policy: RetryPolicy = DEFAULT_RETRY,
  guard?: WriteGuard,
): Promise<number> {
  return store.transaction(async (tx) => {
    check(guard);
    const existing = await tx.all<{ attempts: number }>(
      `SELECT attempts FROM failed_jobs WHERE job = $1 AND item_kind = $2 AND item_id = $3`,
      [job, ref.kind, ref.id],
    );
    const attempts = (existing[0]?.attempts ?? 0) + 1;
    const delayMs = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempts - 1, 30));
    const retryAfter = `now() + to_milliseconds(${Math.round(delayMs)}::BIGINT)`;
    if (existing.length > 0) {
      await tx.run(
        `UPDATE failed_jobs SET attempts = $4, error = $5, failed_at = now(), retry_after = ${retryAfter}
         WHERE job = $1 AND item_kind = $2 AND item_id = $3`,
        [job, ref.kind, ref.id, attempts, error],
      );
    } else {
      await tx.run(
        `INSERT INTO failed_jobs (job, item_kind, item_id, error, attempts, retry_after)
         VALUES ($1, $2, $3, $4, 1, ${retryAfter})`,
        [job, ref.kind, ref.id, error],
      );
    }
    return attempts;
  });
}

function jobFor(result: SummaryResult): JobName {
  return result.ref.kind === 'conversation' ? 'conversation-summarizer' : 'exchange-summarizer';
}

async function clearFailure(tx: SqlRunner, job: JobName, ref: ItemRef): Promise<void> {
  await tx.run(`DELETE FROM failed_jobs WHERE job = $1 AND item_kind = $2 AND item_id = $3`, [job, ref.kind, ref.id]);
}
