import { MemoryStore } from '../../src/store/memory-store.js';

/** What the user said, in order, as a closed memory file holds it (opened and closed again here). */
export async function userMessagesIn(database: string): Promise<string[]> {
  const store = await MemoryStore.open(database);
  try {
    const rows = await store.all<{ m: string }>(`SELECT content AS m FROM messages WHERE role = 'user' ORDER BY id`);
    return rows.map((r) => r.m);
  } finally {
    await store.close();
  }
}
