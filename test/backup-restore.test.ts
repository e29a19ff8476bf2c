import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBackupService } from '../src/backup/backup-service.js';
import { requireManifest } from '../src/backup/manifest.js';
import type { RestoreFaults } from '../src/backup/restore-steps.js';
import { manifestPathFor } from '../src/backup/types.js';
import { resolveDataPaths } from '../src/paths.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { TEMP_MARKER } from '../src/backup/durable-file.js';
import { backupFixture, fillRows, recordingWorkers, serviceFor } from './helpers/backup-app.js';
import { historyOf } from './helpers/hand-made-backup.js';
import { tempDir } from './helpers/temp-dir.js';

// Restores through the real BackupService and supervisor: a real memory file, a real backup of it made by the
// service, real copy-engine threads. Faults that cannot be produced on demand (a check that fails after the
// replacement, a reopen that fails) go through the service's restoreFaults seam.

// One real backup, made once by the service; each test gets its own copy of that database and that backup.
let made: { dir: string; live: string; file: string; atBackup: string[] };

beforeAll(async () => {
  const fixture = await backupFixture(40);
  const file = path.join(fixture.dir, 'kept.db');
  const outcome = await serviceFor(fixture).run({ trigger: 'manual', destination: file });
  if (!outcome.ok) throw outcome.error;
  const atBackup = await historyOf(fixture.store);
  await fixture.close();
  // The fixture's temp dir goes after the first test; keep the two files somewhere of our own.
  const keep = fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-restore-made-'));
  for (const f of [file, manifestPathFor(file), fixture.store.path])
    fs.copyFileSync(f, path.join(keep, path.basename(f)));
  made = {
    dir: keep,
    live: path.join(keep, path.basename(fixture.store.path)),
    file: path.join(keep, 'kept.db'),
    atBackup,
  };
  return () => fs.rmSync(keep, { recursive: true, force: true });
});

const stores: MemoryStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
});

async function withBackup(faults: RestoreFaults = {}) {
  const dir = tempDir('nuagent-restore-');
  const file = path.join(dir, 'kept.db');
  fs.copyFileSync(made.file, file);
  fs.copyFileSync(manifestPathFor(made.file), manifestPathFor(file));
  fs.copyFileSync(made.live, path.join(dir, 'memory.db'));
  const paths = resolveDataPaths({ NUAGENT_HOME: path.join(dir, 'home') }, path.join(dir, 'memory.db'));
  const store = await MemoryStore.open(paths.database);
  stores.push(store);
  const workers = recordingWorkers();
  const service = createBackupService(
    { store, workers, paths, version: '0.0.0-test' },
    { timeouts: { reopenDelaysMs: [10] }, restoreFaults: faults },
  );
  // The memory moves on after the backup: more conversations, and some messages deleted.
  await fillRows(store, 15, 1000);
  await store.run(`DELETE FROM messages WHERE conversation_id <= 5`);
  const current = await historyOf(store);
  return {
    fixture: { dir, store, deps: { workers } },
    service,
    file,
    manifest: requireManifest(file),
    atBackup: made.atBackup,
    current,
  };
}

function leftovers(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.includes(TEMP_MARKER) || n.endsWith('.before-restore') || n.endsWith('.inflight.json'));
}

async function stillWritable(store: MemoryStore): Promise<void> {
  await store.run(`INSERT INTO conversations (id, title) VALUES (999999, 'after')`);
  const [row] = await store.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM conversations WHERE id = 999999`);
  expect(row?.n).toBe(1);
}

describe('restoring a backup through the supervisor', () => {
  it('replaces the memory with exactly the backup, resumes the workers and leaves nothing behind', async () => {
    const { fixture, service, file, manifest, atBackup, current } = await withBackup();
    expect(current).not.toEqual(atBackup);

    const outcome = await service.restore!({ file, manifest, trigger: 'manual' });
    expect(outcome).toMatchObject({ ok: true });
    expect(await historyOf(fixture.store)).toEqual(atBackup);
    expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    expect(leftovers(fixture.dir)).toEqual([]);
    await stillWritable(fixture.store);
    const [run] = await fixture.store.all<{ kind: string; result: string }>(
      `SELECT kind, result FROM backup_runs WHERE kind = 'restore'`,
    );
    expect(run).toEqual({ kind: 'restore', result: 'success' });
  });

  it("keeps this machine's settings (auto-backup schedule, debug) across a restore of older memory", async () => {
    const { fixture, service, file, manifest, atBackup } = await withBackup();
    await fixture.store.run(`INSERT OR REPLACE INTO appconfig (key, value) VALUES ('auto_backup.cron', '15 3 * * *')`);
    await fixture.store.run(`INSERT OR REPLACE INTO appconfig (key, value) VALUES ('debug', 'true')`);
    const before = await fixture.store.all(`SELECT key, value FROM appconfig ORDER BY key`);

    const outcome = await service.restore!({ file, manifest, trigger: 'manual' });
    expect(outcome).toMatchObject({ ok: true });
    expect(await historyOf(fixture.store)).toEqual(atBackup);
    expect(await fixture.store.all(`SELECT key, value FROM appconfig ORDER BY key`)).toEqual(before);
  });

  it('rolls back to the previous database when the check fails after the replacement', async () => {
    const { fixture, service, file, manifest, current } = await withBackup({
      beforeCheck: () => {
        throw new Error('injected: the check failed half-way');
      },
    });
    const outcome = await service.restore!({ file, manifest, trigger: 'manual' });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.rolledBack).toBe(true);
    expect(outcome.error.message).toMatch(/injected: the check failed half-way.*the previous database was put back/);
    expect(await historyOf(fixture.store)).toEqual(current);
    expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    expect(leftovers(fixture.dir)).toEqual([]);
    await stillWritable(fixture.store);
  });

  it('rolls back when the restored file cannot be reopened', async () => {
    const { fixture, service, file, manifest, current } = await withBackup({
      beforeReopenRestored: () => {
        throw new Error('injected: cannot open the restored file');
      },
    });
    const outcome = await service.restore!({ file, manifest, trigger: 'manual' });
    expect(outcome).toMatchObject({ ok: false, rolledBack: true });
    expect(await historyOf(fixture.store)).toEqual(current);
    expect(leftovers(fixture.dir)).toEqual([]);
    await stillWritable(fixture.store);
  });

  it('never replaces the database with a copy that does not verify beside it', async () => {
    const { fixture, service, file, manifest, current } = await withBackup({
      afterCopy: (temp: string) => {
        const fd = fs.openSync(temp, 'r+');
        fs.writeSync(fd, Buffer.from([0xff, 0x00, 0xff]), 0, 3, 20_000);
        fs.closeSync(fd);
      },
    });
    const outcome = await service.restore!({ file, manifest, trigger: 'manual' });
    expect(outcome).toMatchObject({ ok: false, rolledBack: false });
    if (!outcome.ok) expect(outcome.error.message).toMatch(/failed verification once copied beside the database/);
    expect(await historyOf(fixture.store)).toEqual(current);
    expect(leftovers(fixture.dir)).toEqual([]);
    expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
  });

  it('leaves the database as it was and no temporary file when the copy fails half-way', async () => {
    const { fixture, service, file, manifest, current } = await withBackup({ copy: { failAtByte: 64 * 1024 } });
    const outcome = await service.restore!({ file, manifest, trigger: 'manual' });
    expect(outcome).toMatchObject({ ok: false, rolledBack: false });
    if (!outcome.ok) expect(outcome.error.message).toMatch(/copying the database to .* failed/);
    expect(await historyOf(fixture.store)).toEqual(current);
    expect(leftovers(fixture.dir)).toEqual([]);
    expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    await stillWritable(fixture.store);
  });

  it('refuses, before pausing anything, a backup that changed since it was verified or is the live file', async () => {
    const { fixture, service, file, manifest, current } = await withBackup();
    fs.appendFileSync(file, 'tampered');
    const changed = await service.restore!({ file, manifest, trigger: 'manual' });
    expect(changed.ok).toBe(false);
    if (!changed.ok) expect(changed.error.message).toMatch(/changed since it was verified/);

    const live = await service.restore!({ file: fixture.store.path, manifest, trigger: 'manual' });
    expect(live.ok).toBe(false);
    if (!live.ok) expect(live.error.message).toMatch(/is the live database/);
    expect(fixture.deps.workers.calls).toEqual([]);
    expect(await historyOf(fixture.store)).toEqual(current);
  });
});
