import { afterEach } from 'vitest';
import { MemoryStore } from '../../src/store/memory-store.js';

const opened: MemoryStore[] = [];

/** Opens a real memory store, closed after the test (closing one the test already closed does nothing). */
export async function openStore(
  dbPath: string,
  options?: Parameters<typeof MemoryStore.open>[1],
): Promise<MemoryStore> {
  const store = await MemoryStore.open(dbPath, options);
  opened.push(store);
  return store;
}

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});
