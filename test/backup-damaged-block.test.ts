import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NuError } from '../src/errors.js';
import { resolveDataPaths } from '../src/paths.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { blockOffset } from '../workers/shared/duckdb-file/database-header.js';
import { recordingWorkers, serviceFor } from './helpers/backup-app.js';
import { flipByte, makeMemoryWithIndex, mapBlocks } from './helpers/duckdb-blocks.js';
import { tempDir } from './helpers/temp-dir.js';

// A live database that already has a damaged primary-key index block: its copy is byte-for-byte what the source
// hash says, every row reads and matches, and the first write after restoring it would fail with "Corrupt
// database file" (measured on DuckDB 1.5.5). The backup's own verification must not call that copy verified.

describe('backing up a database with a damaged block', { timeout: 120_000 }, () => {
  it('reports the backup as unverified, names the block, and keeps no copy', async () => {
    const dir = tempDir('nuagent-backup-');
    const database = path.join(dir, 'memory.db');
    await makeMemoryWithIndex(database);
    const { index } = await mapBlocks(database);
    flipByte(database, blockOffset(index[0]!) + 4000);

    const paths = resolveDataPaths({ NUAGENT_HOME: path.join(dir, 'home') }, database);
    const store = await MemoryStore.open(database);
    try {
      const destination = path.join(dir, 'b.db');
      const fixture = { dir, store, deps: { store, workers: recordingWorkers(), paths, version: '0.0.0-test' } };
      const outcome = await serviceFor({ ...fixture, events: [], close: () => store.close() }).run({
        trigger: 'manual',
        destination,
      });
      expect(outcome.ok).toBe(false);
      const error = (outcome as unknown as { error: NuError }).error;
      expect(error.code).toBe('BACKUP_COPY_UNVERIFIED');
      expect(error.message).toContain(`blocks: a block fails DuckDB's checksum: block ${index[0]} at byte`);
      expect(error.message).not.toMatch(/hash:|tables:/);
      expect(fs.existsSync(destination)).toBe(false);
    } finally {
      await store.close();
    }
  });
});
