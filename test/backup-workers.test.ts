import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackupService } from '../src/backup/backup-service.js';
import { resolveDataPaths } from '../src/paths.js';
import { allProcessed, seedChat, workerSetUp } from './helpers/workers.js';
import { tempDir } from './helpers/temp-dir.js';

// The worst way a backup can break the workers: after /backup they keep the closed database handle and
// silently die. Here the real workers (threads reaching the database through the owner's port) run during a
// real backup, and must summarise and embed chat that arrives after it.

/** A memory with two conversations, and the real workers started and done summarising and embedding them. */
async function workersDoneWithFirstChat() {
  const dir = tempDir();
  const paths = resolveDataPaths({ NUAGENT_HOME: path.join(dir, 'home') }, path.join(dir, 'memory.db'));
  const { store, manager, activity } = await workerSetUp({}, paths.database);
  await seedChat(store, 2, 2);
  manager.startAll();
  await activity.until(allProcessed(store, 2, 4), 30_000, 'the first summaries and embeddings');
  return { dir, paths, store, manager, activity };
}

describe('backup with the real background workers', { timeout: 90_000 }, () => {
  it('pauses the workers for the backup, and they process new chat after it', async () => {
    const { dir, paths, store, manager, activity } = await workersDoneWithFirstChat();

    const service = createBackupService({ store, workers: manager, paths, version: 'test' });
    const outcome = await service.run({ trigger: 'manual', destination: path.join(dir, 'b.db') });
    expect(outcome.ok, outcome.ok ? '' : String(outcome.error)).toBe(true);
    expect(outcome.warnings).toEqual([]);
    expect(manager.pausedForAll).toBe(false);

    await seedChat(store, 1, 3, (c, e) => `after the backup ${c}.${e}`);
    manager.nudge();
    await activity.until(allProcessed(store, 3, 7), 30_000, 'summaries and embeddings of the chat after the backup');
    expect(manager.status().map((s) => s.crashes)).toEqual([0, 0, 0]);
  });

  it('runs the audit of the copy with the workers back at work: chat during the audit is summarised before it ends', async () => {
    const { dir, paths, store, manager, activity } = await workersDoneWithFirstChat();

    let duringAudit: { paused: boolean; held: boolean } | undefined;
    const service = createBackupService(
      { store, workers: manager, paths, version: 'test' },
      {
        faults: {
          // The audit waits here until the workers have processed chat that arrived after resuming.
          beforeAudit: async () => {
            duringAudit = { paused: manager.pausedForAll, held: store.held };
            await seedChat(store, 1, 3, (c, e) => `during the audit ${c}.${e}`);
            manager.nudge();
            await activity.until(allProcessed(store, 3, 7), 30_000, 'summaries and embeddings during the audit');
          },
        },
      },
    );
    const destination = path.join(dir, 'b.db');
    const outcome = await service.run({ trigger: 'manual', destination });
    expect(outcome.ok, outcome.ok ? '' : String(outcome.error)).toBe(true);
    expect(duringAudit).toEqual({ paused: false, held: false });
    // The backup holds the memory as it was in the window, not the chat written during its audit.
    const manifest = JSON.parse(fs.readFileSync(`${destination}.manifest.json`, 'utf8')) as {
      tables: Record<string, { rows: number }>;
    };
    expect(manifest.tables.conversations?.rows).toBe(2);
    expect(manager.status().map((s) => s.crashes)).toEqual([0, 0, 0]);
  });
});
