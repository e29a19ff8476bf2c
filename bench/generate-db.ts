import fs from 'node:fs';
import { MemoryStore } from '../src/store/memory-store.js';
import { EMBEDDING_DIMENSIONS } from '../src/store/schema.js';

// Builds a nu-agent memory file of about `targetBytes` with realistic content: conversations, exchanges with
// prose, their messages, and FLOAT[N] embeddings (random vectors do not compress, as real ones barely do).
// Rows go in with INSERT … SELECT over range(): row-by-row inserts were ~50x slower (ARCHITECTURE.md).

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
  sizeBytes: number;
  conversations: number;
  exchanges: number;
}

export async function generateDatabase(dbPath: string, targetBytes: number): Promise<GeneratedDb> {
  for (const f of [dbPath, `${dbPath}.wal`]) fs.rmSync(f, { force: true });
  const store = await MemoryStore.open(dbPath);
  // About 3 KB of file per exchange with its messages and embedding; rounds of at most ~60 MB.
  const batch = Math.max(1000, Math.min(20_000, Math.round(targetBytes / 3000 / 2 / 10) * 10));
  let conversations = 0;
  let exchanges = 0;
  try {
    while (store.fileSize() < targetBytes) {
      const convs = batch / 10;
      await store.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO conversations (id, title, status, summary, summary_model)
           SELECT ${conversations} + i, ${prose(6)}, 'closed', ${prose(60)}, 'bench'
             FROM range(1, ${convs + 1}) t(i)`,
        );
        await tx.run(
          `INSERT INTO exchanges (id, conversation_id, exchange_number, status, completed_at, user_message,
                                  assistant_message, model, tokens_input, tokens_output, summary, summary_model)
           SELECT ${exchanges} + i, ${conversations} + 1 + (i % ${convs}), i % 10, 'completed', now(),
                  ${prose(25)}, ${prose(120)}, 'bench', 100 + i % 50, 300 + i % 90, ${prose(30)}, 'bench'
             FROM range(1, ${batch + 1}) t(i)`,
        );
        await tx.run(
          `INSERT INTO messages (conversation_id, exchange_id, role, content, model)
           SELECT e.conversation_id, e.id, r.role, CASE r.role WHEN 'user' THEN e.user_message ELSE e.assistant_message END, 'bench'
             FROM exchanges e, (VALUES ('user'), ('assistant')) r(role)
            WHERE e.id > ${exchanges}`,
        );
        await tx.run(
          `INSERT INTO embeddings (kind, source_id, content, embedding, model)
           SELECT 'exchange', id, summary,
                  list_transform(range(${EMBEDDING_DIMENSIONS}), k -> (random() * 2 - 1)::FLOAT)::FLOAT[${EMBEDDING_DIMENSIONS}],
                  'bench'
             FROM exchanges WHERE id > ${exchanges}`,
        );
      });
      conversations += convs;
      exchanges += batch;
      // The rows above carry explicit ids; move the sequences past them so a chat on this database works.
      await store.run(`SELECT max(nextval('conversations_id_seq')) FROM range(${convs})`);
      await store.run(`SELECT max(nextval('exchanges_id_seq')) FROM range(${batch})`);
      const held = await store.hold(60_000);
      await held.checkpoint(120_000);
      held.release();
    }
  } finally {
    await store.close();
  }
  return { path: dbPath, sizeBytes: fs.statSync(dbPath).size, conversations, exchanges };
}
