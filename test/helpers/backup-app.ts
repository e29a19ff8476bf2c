import path from 'node:path';
import type { WorkerControl } from '../../src/app.js';
import { resolveDataPaths } from '../../src/paths.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { createBackupService } from '../../src/backup/backup-service.js';
import type { BackupServiceOptions } from '../../src/backup/backup-service.js';
import type { BackupDeps } from '../../src/backup/backup-steps.js';
import type { BackupEvent } from '../../src/backup/types.js';
import { tempDir } from './temp-dir.js';

// A hand-built App for the backup tests: a real DuckDB memory file with rows in a temp dir, and a WorkerControl
// that records what the supervisor asked of it (swappable functions inject the faults a real worker cannot
// produce on demand).

export interface RecordingWorkers extends WorkerControl {
  calls: string[];
}

export function recordingWorkers(overrides: Partial<WorkerControl> = {}): RecordingWorkers {
  const calls: string[] = [];
  return {
    calls,
    pauseAll: async () => {
      calls.push('pauseAll');
      await overrides.pauseAll?.();
    },
    waitUntilAllPaused: async (ms) => {
      calls.push('waitUntilAllPaused');
      await overrides.waitUntilAllPaused?.(ms);
    },
    resumeAll: async (ms) => {
      calls.push('resumeAll');
      await overrides.resumeAll?.(ms);
    },
  };
}

export interface BackupFixture {
  dir: string;
  store: MemoryStore;
  deps: BackupDeps & { workers: RecordingWorkers };
  events: BackupEvent[];
  close(): Promise<void>;
}

/** A memory file with `conversations` rows (and their messages) in a fresh temp dir. */
export async function backupFixture(conversations = 50, workers = recordingWorkers()): Promise<BackupFixture> {
  const dir = tempDir('nuagent-backup-');
  const paths = resolveDataPaths({ NUAGENT_HOME: path.join(dir, 'home') }, path.join(dir, 'memory.db'));
  const store = await MemoryStore.open(paths.database);
  await fillRows(store, conversations);
  return {
    dir,
    store,
    deps: { store, workers, paths, version: '0.0.0-test' },
    events: [],
    close: () => store.close(),
  };
}

export async function fillRows(store: MemoryStore, conversations: number, from = 0): Promise<void> {
  await store.run(
    `INSERT INTO conversations (id, title, summary)
     SELECT ${from} + i, 'conversation ' || (${from} + i), repeat(md5(i::VARCHAR), 8) FROM range(1, ${conversations + 1}) t(i)`,
  );
  await store.run(
    `INSERT INTO messages (conversation_id, role, content)
     SELECT ${from} + i, 'user', repeat(md5((i * 7)::VARCHAR), 20) FROM range(1, ${conversations + 1}) t(i)`,
  );
}

export function serviceFor(fixture: BackupFixture, options: BackupServiceOptions = {}) {
  return createBackupService(fixture.deps, options);
}

/** About 290 bytes of file per row of random text that does not compress: 100k rows make a ~29 MB file. */
export async function fillBulk(store: MemoryStore, rows: number): Promise<void> {
  await store.run(
    `INSERT INTO messages (conversation_id, role, content)
     SELECT i, 'user', array_to_string(list_transform(range(16), k -> md5((random() + k)::VARCHAR)), '')
       FROM range(${rows}) t(i)`,
  );
}
