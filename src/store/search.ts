import { FloatVector } from './memory-store.js';
import type { SqlRunner } from './memory-store.js';

// /search: rank the stored summaries by cosine similarity to the query's vector. Only vectors made by the same
// embedding model are comparable, so the others (left from an earlier model, until the embeddings worker
// recomputes them) are skipped. The query vector is bound as FLOAT[N] (measured on DuckDB 1.5.5), not as a plain list.

export interface SearchHit {
  kind: 'conversation' | 'exchange';
  id: number;
  /** The conversation the hit belongs to (itself for a conversation). */
  conversationId: number;
  /** An exchange's number within its conversation: the number `/history` shows (the row id is internal). */
  exchangeNumber?: number | undefined;
  /** The summary that was embedded. */
  content: string;
  score: number;
}

export async function searchMemory(
  db: SqlRunner,
  query: Float32Array | readonly number[],
  model: string,
  limit = 5,
): Promise<SearchHit[]> {
  const rows = await db.all<{
    kind: 'conversation' | 'exchange';
    source_id: number;
    conversation_id: number | null;
    exchange_number: number | null;
    content: string;
    score: number;
  }>(
    `SELECT e.kind, e.source_id, coalesce(x.conversation_id, e.source_id) AS conversation_id, x.exchange_number, e.content,
            array_cosine_similarity(e.embedding, $1) AS score
     FROM embeddings e LEFT JOIN exchanges x ON e.kind = 'exchange' AND x.id = e.source_id
     WHERE e.model = $2
     ORDER BY score DESC, e.kind, e.source_id
     LIMIT $3`,
    [new FloatVector([...query]), model, limit],
  );
  return rows.map((r) => ({
    kind: r.kind,
    id: r.source_id,
    conversationId: Number(r.conversation_id),
    exchangeNumber: r.exchange_number === null ? undefined : Number(r.exchange_number),
    content: r.content,
    score: r.score,
  }));
}

/** How many stored vectors `searchMemory` can rank with this model. */
export async function searchableCount(db: SqlRunner, model: string): Promise<number> {
  const rows = await db.all<{ n: number }>(`SELECT count(*) AS n FROM embeddings WHERE model = $1`, [model]);
  return Number(rows[0]?.n ?? 0);
}
