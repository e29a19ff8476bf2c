import type { MemoryStore, SqlRunner } from './memory-store.js';

// Typed operations on the chat memory: conversations, the exchanges inside them (one user message and the
// reply it got), the messages themselves, and the command history. Timestamps are kept by the database
// (now()) so that every writer agrees on the clock; durations are measured by the caller.

/**
 * The model name the offline provider stores with its stock reply. That reply is kept in the exchange (the
 * history shows what happened) but is no content: summaries, and so search, leave it out.
 */
export const OFFLINE_MODEL = 'offline';

export type ExchangeStatus = 'in_progress' | 'completed' | 'failed' | 'cancelled';

export interface ExchangeRow {
  id: number;
  conversationId: number;
  exchangeNumber: number;
  startedAt: Date;
  completedAt: Date | undefined;
  status: ExchangeStatus;
  error: string | undefined;
  userMessage: string;
  assistantMessage: string | undefined;
  model: string | undefined;
  tokensInput: number | undefined;
  tokensOutput: number | undefined;
  durationMs: number | undefined;
}

export interface StartedExchange {
  id: number;
  conversationId: number;
  exchangeNumber: number;
}

export interface ExchangeReply {
  text: string;
  model: string;
  tokensInput?: number | undefined;
  tokensOutput?: number | undefined;
  durationMs: number;
}

export interface ContextMessage {
  role: 'user' | 'assistant';
  content: string;
}

export async function createConversation(db: SqlRunner, title?: string): Promise<number> {
  const rows = await db.all<{ id: number }>(`INSERT INTO conversations (title) VALUES ($1) RETURNING id`, [
    title ?? null,
  ]);
  return rows[0]!.id;
}

/** Marks a conversation as finished (what /new does to the one it leaves). */
export async function closeConversation(db: SqlRunner, conversationId: number): Promise<void> {
  await db.run(`UPDATE conversations SET status = 'closed' WHERE id = $1 AND status = 'active'`, [conversationId]);
}

/** Opens an exchange and stores the user's message with it, in one transaction. */
export function startExchange(store: MemoryStore, conversationId: number, userMessage: string) {
  return store.transaction(async (tx): Promise<StartedExchange> => {
    const rows = await tx.all<{ id: number; exchange_number: number }>(
      `INSERT INTO exchanges (conversation_id, exchange_number, user_message)
       SELECT $1, coalesce(max(exchange_number), 0) + 1, $2 FROM exchanges WHERE conversation_id = $1
       RETURNING id, exchange_number`,
      [conversationId, userMessage],
    );
    const { id, exchange_number: exchangeNumber } = rows[0]!;
    await tx.run(`INSERT INTO messages (conversation_id, exchange_id, role, content) VALUES ($1, $2, 'user', $3)`, [
      conversationId,
      id,
      userMessage,
    ]);
    return { id, conversationId, exchangeNumber };
  });
}

/** Stores the assistant's reply and closes the exchange, in one transaction. */
export function completeExchange(store: MemoryStore, exchange: StartedExchange, reply: ExchangeReply) {
  const tokensIn = reply.tokensInput ?? null;
  const tokensOut = reply.tokensOutput ?? null;
  return store.transaction(async (tx) => {
    await tx.run(
      `INSERT INTO messages (conversation_id, exchange_id, role, content, model, tokens_input, tokens_output)
       VALUES ($1, $2, 'assistant', $3, $4, $5, $6)`,
      [exchange.conversationId, exchange.id, reply.text, reply.model, tokensIn, tokensOut],
    );
    await tx.run(
      `UPDATE exchanges SET status = 'completed', completed_at = now(), assistant_message = $2, model = $3,
         tokens_input = $4, tokens_output = $5, duration_ms = $6
       WHERE id = $1`,
      [exchange.id, reply.text, reply.model, tokensIn, tokensOut, Math.round(reply.durationMs)],
    );
  });
}

/** Closes an exchange that got no reply; the user's message stays stored. */
export async function endExchangeWithoutReply(
  db: SqlRunner,
  exchangeId: number,
  status: 'failed' | 'cancelled',
  error: string,
  durationMs: number,
): Promise<void> {
  await db.run(`UPDATE exchanges SET status = $2, error = $3, completed_at = now(), duration_ms = $4 WHERE id = $1`, [
    exchangeId,
    status,
    error,
    Math.round(durationMs),
  ]);
}

const exchangeColumns = `id, conversation_id, exchange_number, started_at, completed_at, status, error, user_message,
  assistant_message, model, tokens_input, tokens_output, duration_ms`;

/** The newest `limit` exchanges of all conversations, returned oldest first (reading order). */
export async function recentExchanges(db: SqlRunner, limit: number): Promise<ExchangeRow[]> {
  const rows = await db.all(
    `SELECT * FROM (SELECT ${exchangeColumns} FROM exchanges ORDER BY id DESC LIMIT $1) ORDER BY id`,
    [limit],
  );
  return rows.map(toExchange);
}

/**
 * The conversation so far, as the model should see it: the answered exchanges (oldest first, at most
 * `maxExchanges` of the newest). Failed and cancelled ones are left out: the model never saw a reply to them.
 */
export async function conversationContext(
  db: SqlRunner,
  conversationId: number,
  maxExchanges: number,
): Promise<ContextMessage[]> {
  const rows = await db.all<{ user_message: string; assistant_message: string }>(
    `SELECT user_message, assistant_message FROM (
       SELECT id, user_message, assistant_message FROM exchanges
       WHERE conversation_id = $1 AND status = 'completed' AND assistant_message IS NOT NULL
       ORDER BY id DESC LIMIT $2)
     ORDER BY id`,
    [conversationId, maxExchanges],
  );
  return rows.flatMap((r): ContextMessage[] => [
    { role: 'user', content: r.user_message },
    { role: 'assistant', content: r.assistant_message },
  ]);
}

export async function addCommandHistory(db: SqlRunner, line: string): Promise<void> {
  await db.run(`INSERT INTO command_history (command) VALUES ($1)`, [line]);
}

/** The newest `limit` lines typed, newest first (the order readline's history wants). */
export async function recentCommands(db: SqlRunner, limit: number): Promise<string[]> {
  const rows = await db.all<{ command: string }>(`SELECT command FROM command_history ORDER BY id DESC LIMIT $1`, [
    limit,
  ]);
  return rows.map((r) => r.command);
}

function toExchange(r: Record<string, unknown>): ExchangeRow {
  const opt = <T>(v: unknown) => (v === null || v === undefined ? undefined : (v as T));
  return {
    id: r.id as number,
    conversationId: r.conversation_id as number,
    exchangeNumber: r.exchange_number as number,
    startedAt: r.started_at as Date,
    completedAt: opt<Date>(r.completed_at),
    status: r.status as ExchangeStatus,
    error: opt<string>(r.error),
    userMessage: r.user_message as string,
    assistantMessage: opt<string>(r.assistant_message),
    model: opt<string>(r.model),
    tokensInput: opt<number>(r.tokens_input),
    tokensOutput: opt<number>(r.tokens_output),
    durationMs: opt<number>(r.duration_ms),
  };
}
