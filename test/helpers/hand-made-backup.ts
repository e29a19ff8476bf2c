import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { MemoryStore } from '../../src/store/memory-store.js';
import { writeManifest } from '../../src/backup/manifest.js';
import type { BackupManifest } from '../../src/backup/types.js';
import { hashFile } from '../../workers/shared/file-hash.js';
import { readTableFigures } from '../../workers/shared/table-figures.js';

// Backups made by hand, the way the backup service makes them (a closed, checkpointed database copied, then a
// manifest with its hash and per-table figures), for tests of list/verify/prune/restore that must not depend
// on the supervisor.

/** Creates (or extends) a real memory database with `count` conversations of two messages each. */
export async function addConversations(dbPath: string, count: number, label = 'chat'): Promise<void> {
  const store = await MemoryStore.open(dbPath);
  try {
    for (let i = 0; i < count; i++) {
      const [row] = await store.all<{ id: number }>(`INSERT INTO conversations (title) VALUES ($1) RETURNING id`, [
        `${label} ${i}`,
      ]);
      await store.run(
        `INSERT INTO messages (conversation_id, role, content) VALUES ($1, 'user', $2), ($1, 'assistant', $3)`,
        [row!.id, `${label} question ${i}`, `${label} answer ${i}`],
      );
    }
  } finally {
    await store.close();
  }
}

/** Copies a closed database to dest and writes its manifest. */
export async function handMadeBackup(dbPath: string, dest: string, createdAt = new Date()): Promise<BackupManifest> {
  fs.copyFileSync(dbPath, dest);
  const figures = await figuresOf(dest);
  const { hash } = hashFile(dest, 'xxh3-64');
  const manifest: BackupManifest = {
    format: 'nu-agent-backup',
    formatVersion: 1,
    appVersion: 'test',
    duckdbVersion: 'test',
    createdAt: createdAt.toISOString(),
    snapshotAt: createdAt.toISOString(),
    sourcePath: dbPath,
    fileName: path.basename(dest),
    sizeBytes: fs.statSync(dest).size,
    hash: { algorithm: 'xxh3-64', value: hash },
    schemaVersion: 0,
    tables: figures,
    trigger: 'manual',
  };
  writeManifest(dest, manifest);
  return manifest;
}

export async function figuresOf(file: string) {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    return await readTableFigures(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** The conversation titles and message contents in order: what "the history" means in restore tests. */
export async function historyOf(store: MemoryStore): Promise<string[]> {
  const rows = await store.all<{ title: string; content: string }>(
    `SELECT c.title, m.content FROM conversations c JOIN messages m ON m.conversation_id = c.id ORDER BY m.id`,
  );
  return rows.map((r) => `${r.title}: ${r.content}`);
}
