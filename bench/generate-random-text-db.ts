import fs from 'node:fs';
import { MemoryStore } from '../src/store/memory-store.js';

// A nu-agent memory of long random text, as a new user who pastes logs and documents makes one: conversations
// whose messages are a few KiB of text that does not compress (random hex), no embeddings. DuckDB stores such
// columns nearly as they are, so a full-row read of it costs far more per GiB than the realistic content of
// generate-db.ts, which is what made the first release's pause window long (issue 11).

const ROWS_PER_ROUND = 20_000;
/** 128 MD5 digests of random numbers: 4 KiB of text per message. */
const RANDOM_TEXT = `array_to_string(list_transform(range(128), k -> md5((random() + k)::VARCHAR)), '')`;

export async function generateRandomTextDatabase(dbPath: string, targetBytes: number): Promise<{ sizeBytes: number }> {
  for (const f of [dbPath, `${dbPath}.wal`]) fs.rmSync(f, { force: true });
  const store = await MemoryStore.open(dbPath);
  let conversations = 0;
  try {
    while (store.fileSize() < targetBytes) {
      const convs = ROWS_PER_ROUND / 20;
      await store.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO conversations (id, title, status)
           SELECT ${conversations} + i, 'pasted text ' || (${conversations} + i), 'closed' FROM range(1, ${convs + 1}) t(i)`,
        );
        await tx.run(
          `INSERT INTO messages (conversation_id, role, content, model)
           SELECT ${conversations} + 1 + (i % ${convs}), CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,
                  ${RANDOM_TEXT}, 'bench'
             FROM range(${ROWS_PER_ROUND}) t(i)`,
        );
      });
      conversations += convs;
      await store.run(`SELECT max(nextval('conversations_id_seq')) FROM range(${convs})`);
      const held = await store.hold(60_000);
      await held.checkpoint(120_000);
      held.release();
    }
  } finally {
    await store.close();
  }
  return { sizeBytes: fs.statSync(dbPath).size };
}
