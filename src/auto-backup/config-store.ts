import type { MemoryStore } from '../store/memory-store.js';

// The auto-backup's keys in appconfig, read all at once and written in one transaction, so status never shows
// half of a run's result. An empty string removes the key (a cleared value, e.g. no error after a success).

export const KEY_PREFIX = 'auto_backup.';

export interface AutoBackupConfigStore {
  /** Every auto_backup.* key and its stored string. */
  readAll(): Promise<Map<string, string>>;
  /** Sets (or, for an empty string, removes) each key, all in one transaction. */
  write(entries: ReadonlyMap<string, string>): Promise<void>;
}

export function appConfigStore(store: Pick<MemoryStore, 'all' | 'transaction'>): AutoBackupConfigStore {
  return {
    async readAll() {
      const rows = await store.all<{ key: string; value: string }>(
        `SELECT key, value FROM appconfig WHERE starts_with(key, $1)`,
        [KEY_PREFIX],
      );
      return new Map(rows.map((r) => [r.key, r.value]));
    },
    async write(entries) {
      if (entries.size === 0) return;
      await store.transaction(async (tx) => {
        for (const [key, value] of entries) {
          if (value === '') {
            await tx.run(`DELETE FROM appconfig WHERE key = $1`, [key]);
          } else {
            await tx.run(
              `INSERT INTO appconfig (key, value, updated_at) VALUES ($1, $2, now())
               ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
              [key, value],
            );
          }
        }
      });
    },
  };
}
