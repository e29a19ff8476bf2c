import fs from 'node:fs';
import { MemoryStore } from '../src/store/memory-store.js';
import { EMBEDDING_DIMENSIONS } from '../src/store/schema.js';

// Builds a nu-agent memory file of about `targetBytes` with realistic content: conversations, exchanges with
// prose, their messages, and FLOAT[N] embeddings (random vectors do not compress, as real ones barely do).
// Rows go in with INSERT … SELECT over range(): row-by-row inserts were ~50x slower (measured on DuckDB 1.5.5).
// An existing memory grows: its rows stay, new rows take ids after the highest ones, and the sequences move past
// them so chatting on it afterwards works. Nothing is ever deleted (`npm run gen-db`, bench/gen-db.ts).

const WORDS = `the of backup database memory agent summary exchange worker conversation embedding vector copy verify
checkpoint pause resume schedule retention restore manifest hash durable rename fsync thread queue model token
question answer because which would could should about there their other after before while during`
  .split(/\s+/)
  .filter(Boolean);

const wordList = `[${WORDS.map((w) => `'${w}'`).join(',')}]`;
/** SQL for a pseudo-random sentence of n words, different per row (seeded by the row number i). */
const prose = (n: number) =>
  `array_to_string(list_transform(range(${n}), k -> ${wordList}[1 + ((hash(i * 31 + k) % ${WORDS.length})::INTEGER)]), ' ')`;

export interface GeneratedDb {
  path: string;
  /** The file's size before (0 for a new file) and after. */
  startBytes: number;
  sizeBytes: number;
  /** Rows added by this run. */
  conversations: number;
  exchanges: number;
}

export async function generateDatabase(dbPath: string, targetBytes: number): Promise<GeneratedDb> {
  const startBytes = fs.existsSync(dbPath) ? fs.statSync(dbPath).size : 0;
  const store = await MemoryStore.open(dbPath);
  // About 3 KB of file per exchange with its messages and embedding; rounds of at most ~60 MB.
  const batch = Math.max(1000, Math.min(20_000, Math.round((targetBytes - startBytes) / 3000 / 2 / 10) * 10));
  let conversations = 0;
  let exchanges = 0;
  try {
    // Ids after everything already there (rows and sequences), so an existing memory keeps its rows.
    let nextConversation = await nextId(store, 'conversations');
    let nextExchange = await nextId(store, 'exchanges');
    while (store.fileSize() < targetBytes) {
      const convs = batch / 10;
      await store.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO conversations (id, title, status, summary, summary_model)
           SELECT ${nextConversation - 1} + i, ${prose(6)}, 'closed', ${prose(60)}, 'bench'
             FROM range(1, ${convs + 1}) t(i)`,
        );
        await tx.run(
          `INSERT INTO exchanges (id, conversation_id, exchange_number, status, completed_at, user_message,
                                  assistant_message, model, tokens_input, tokens_output, summary, summary_model)
           SELECT ${nextExchange - 1} + i, ${nextConversation} + (i % ${convs}), i % 10, 'completed', now(),
                  ${prose(25)}, ${prose(120)}, 'bench', 100 + i % 50, 300 + i % 90, ${prose(30)}, 'bench'
             FROM range(1, ${batch + 1}) t(i)`,
        );
        await tx.run(
          `INSERT INTO messages (conversation_id, exchange_id, role, content, model)
           SELECT e.conversation_id, e.id, r.role, CASE r.role WHEN 'user' THEN e.user_message ELSE e.assistant_message END, 'bench'
             FROM exchanges e, (VALUES ('user'), ('assistant')) r(role)
            WHERE e.id >= ${nextExchange}`,
        );
        await tx.run(
          `INSERT INTO embeddings (kind, source_id, content, embedding, model)
           SELECT 'exchange', id, summary,
                  list_transform(range(${EMBEDDING_DIMENSIONS}), k -> (random() * 2 - 1)::FLOAT)::FLOAT[${EMBEDDING_DIMENSIONS}],
                  'bench'
             FROM exchanges WHERE id >= ${nextExchange}`,
        );
      });
      conversations += convs;
      exchanges += batch;
      nextConversation += convs;
      nextExchange += batch;
      // The rows above carry explicit ids; move the sequences past them so a chat on this database works.
      await advanceSequence(store, 'conversations', nextConversation);
      await advanceSequence(store, 'exchanges', nextExchange);
      const held = await store.hold(60_000);
      await held.checkpoint(120_000);
      held.release();
    }
  } finally {
    await store.close();
  }
  return { path: dbPath, startBytes, sizeBytes: fs.statSync(dbPath).size, conversations, exchanges };
}

/** The first id free in both the table and its sequence (taking one value of the sequence). */
async function nextId(store: MemoryStore, table: 'conversations' | 'exchanges'): Promise<number> {
  const [row] = await store.all<{ seq: bigint | number; top: bigint | number | null }>(
    `SELECT nextval('${table}_id_seq') AS seq, (SELECT max(id) FROM ${table}) AS top`,
  );
  return Math.max(Number(row!.seq), Number(row!.top ?? 0) + 1);
}

/** Moves the table's sequence so that its next value is at least `next`. */
async function advanceSequence(store: MemoryStore, table: string, next: number): Promise<void> {
  const [row] = await store.all<{ seq: bigint | number }>(`SELECT nextval('${table}_id_seq') AS seq`);
  const behind = next - 1 - Number(row!.seq);
  if (behind > 0) await store.run(`SELECT max(nextval('${table}_id_seq')) FROM range(${behind})`);
}
