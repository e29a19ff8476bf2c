import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireBackupLock } from '../src/backup/backup-lock.js';
import { createBackupService } from '../src/backup/backup-service.js';
import type { BackupServiceOptions } from '../src/backup/backup-service.js';
import { copyJournalPath } from '../src/backup/inflight.js';
import { requireManifest } from '../src/backup/manifest.js';
import { restoreJournalPath } from '../src/backup/restore-journal.js';
import type { SupervisorFaults } from '../src/backup/supervisor.js';
import { TEMP_MARKER } from '../src/backup/durable-file.js';
import { isNuError } from '../src/errors.js';
import { OfflineProvider } from '../src/llm/offline.js';
import { resolveDataPaths } from '../src/paths.js';
import type { DataPaths } from '../src/paths.js';
import { formatError } from '../src/report.js';
import { listBackupRuns } from '../src/store/backup-runs.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { WorkerManager } from '../src/workers-host/worker-manager.js';
import { backupFixture, fillRows, serviceFor } from './helpers/backup-app.js';
import { Activity, allProcessed, seedChat } from './helpers/workers.js';

// The supervisor's last resort. The machine handles every step's failure itself (backup-machine-graph.test.ts);
// here the machine itself breaks (the runner's fault seam makes its first guard or action on one event throw, as
// a defect would), at several points of a real backup and a real restore: a real DuckDB file, the real workers
// (threads reaching the database through the owner's port), the real copy engine. Whatever point it broke at,
// the database is open and answers, the workers make progress again, nothing temporary is left, the lock is
// free, the run is recorded as failed, and the user reads that it failed and that the memory is safe.

interface World {
  dir: string;
  paths: DataPaths;
  store: MemoryStore;
  manager: WorkerManager;
  activity: Activity;
  /** A backup made by the service before the tests, of a memory with fewer conversations than the live one. */
  kept: string;
}

let world: World;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-broken-supervisor-'));
  const paths = resolveDataPaths({ NUAGENT_HOME: path.join(dir, 'home') }, path.join(dir, 'memory.db'));
  const store = await MemoryStore.open(paths.database);
  const activity = new Activity();
  const manager = new WorkerManager({
    store,
    provider: () => new OfflineProvider(),
    activeConversation: () => undefined,
    settings: { idlePollMs: 60_000 },
    restart: { initialMs: 50, maxMs: 1_000, stableMs: 60_000 },
    onEvent: activity.onEvent,
    onCrash: activity.onCrash,
  });
  await seedChat(store, 2, 2);
  manager.startAll();
  await activity.until(allProcessed(store, 2, 4), 30_000, 'the first summaries and embeddings');
  const kept = path.join(paths.defaultBackupDir, 'kept.db');
  const made = await createBackupService({ store, workers: manager, paths, version: 'test' }).run({
    trigger: 'manual',
    destination: kept,
  });
  if (!made.ok) throw made.error;
  // The live memory moves on: a restore that does not happen must leave these rows in place.
  await seedChat(store, 1, 2, (c, e) => `after the kept backup ${c}.${e}`);
  manager.nudge();
  await activity.until(allProcessed(store, 3, 6), 30_000, 'the chat after the kept backup');
  world = { dir, paths, store, manager, activity, kept };
}, 90_000);

afterAll(async () => {
  await world?.manager.stopAll();
  await world?.store.close();
  if (world) fs.rmSync(world.dir, { recursive: true, force: true });
});

function serviceBreakingOn(breakOn: SupervisorFaults['breakOn'], options: BackupServiceOptions = {}) {
  const { store, manager, paths } = world;
  return createBackupService(
    { store, workers: manager, paths, version: 'test' },
    { ...options, supervisorFaults: { breakOn } },
  );
}

async function conversationTitles(): Promise<string[]> {
  const rows = await world.store.all<{ title: string }>(`SELECT title FROM conversations ORDER BY id`);
  return rows.map((r) => r.title);
}

/** Every file name under the test's directory, at any depth. */
function allNames(dir = world.dir): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? [d.name, ...allNames(path.join(dir, d.name))] : [d.name]));
}

/** What must hold after the machine broke, whatever the point: the application goes on as if the run failed. */
async function expectRecovered(kind: 'backup' | 'restore', error: Error): Promise<void> {
  const { store, manager, activity, paths } = world;
  // The user reads that it failed and that the memory is safe (or, for a restore, where it is).
  expect(isNuError(error), String(error)).toBe(true);
  const [errorLine, tryLine] = formatError(error);
  expect(errorLine).toMatch(/^Error: .*(failed|internal error)/);
  expect(tryLine).toMatch(/^Try: Your memory is/);

  // The database is open, takes writes and answers queries.
  expect(store.isOpen).toBe(true);
  expect(store.held).toBe(false);
  await store.run(`INSERT INTO appconfig (key, value) VALUES ('after-broken-${kind}-' || uuid()::VARCHAR, 'yes')`);

  // The workers run again: new chat gets its summaries and embeddings.
  expect(manager.pausedForAll).toBe(false);
  const [counts] = await store.all<{ c: number; e: number }>(
    `SELECT (SELECT count(*) FROM conversations) AS c, (SELECT count(*) FROM exchanges) AS e`,
  );
  const c = Number(counts!.c);
  const e = Number(counts!.e);
  await seedChat(store, 1, 1, (_c, n) => `after a broken ${kind} ${c}.${n}`);
  manager.nudge();
  await activity.until(allProcessed(store, c + 1, e + 1), 30_000, `the workers' progress after a broken ${kind}`);
  expect(manager.status().map((s) => s.crashes)).toEqual([0, 0, 0]);

  // Nothing temporary is left: no temporary copy, no crash journal, no previous database or settings journal.
  const names = allNames();
  expect(names.filter((n) => n.includes(TEMP_MARKER))).toEqual([]);
  expect(fs.existsSync(copyJournalPath(paths))).toBe(false);
  expect(names).not.toContain(`${path.basename(paths.database)}.before-restore`);
  expect(fs.existsSync(restoreJournalPath(paths.database))).toBe(false);

  // The backup lock is free.
  const lock = await acquireBackupLock(paths.backupLock);
  await lock.release();

  // The run is recorded as failed.
  const [run] = await listBackupRuns(store, { limit: 1 });
  expect(run).toMatchObject({ kind, result: 'failed', error: expect.stringMatching(/injected fault/) as unknown });
}

describe('a backup whose supervisor breaks', { timeout: 90_000 }, () => {
  it.each([
    ['lock', 'before pausing, with only the lock taken'],
    ['hold', 'with the workers paused and the write gate shut, the database still open'],
    ['close', 'with the workers paused and the database closed'],
    ['copy', 'after the copy, with the temporary file present and the database closed'],
    ['verify', 'after the checks in the window, with the copy waiting at its temporary name'],
  ] as const)('broken on %s (%s): the memory is safe and nu-agent goes on', async (breakOn, _where) => {
    const destination = path.join(world.paths.defaultBackupDir, `broken-${breakOn}.db`);
    const outcome = await serviceBreakingOn(breakOn).run({ trigger: 'manual', destination });

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toMatchObject({ code: 'BACKUP_SUPERVISOR_BROKE' });
    expect(formatError(outcome.error)[1]).toMatch(/no backup was kept/);
    expect(fs.existsSync(destination)).toBe(false);
    await expectRecovered('backup', outcome.error);
  });

  it('broken by a cancel while the copy runs: the copy it left running is stopped and removed', async () => {
    const cancel = new AbortController();
    const destination = path.join(world.paths.defaultBackupDir, 'broken-cancel.db');
    const outcome = await serviceBreakingOn('CANCEL').run({
      trigger: 'manual',
      destination,
      signal: cancel.signal,
      onEvent: (event) => {
        if (event.type === 'transition' && event.to === 'copying') cancel.abort();
      },
    });

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toMatchObject({ code: 'BACKUP_SUPERVISOR_BROKE' });
    expect(fs.existsSync(destination)).toBe(false);
    await expectRecovered('backup', outcome.error);
  });

  it('broken once the backup was put in place: the error says the backup was kept, and it is there', async () => {
    const destination = path.join(world.paths.defaultBackupDir, 'broken-after-commit.db');
    const outcome = await serviceBreakingOn('commit').run({ trigger: 'manual', destination });

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toMatchObject({ code: 'BACKUP_SUPERVISOR_BROKE' });
    expect(formatError(outcome.error)[1]).toContain(`the backup at ${destination} was verified and kept`);
    expect(requireManifest(destination).tables.conversations?.rows).toBeGreaterThan(0);
    await expectRecovered('backup', outcome.error);
  });
});

describe('a restore whose supervisor breaks', { timeout: 90_000 }, () => {
  const restore = (breakOn: SupervisorFaults['breakOn']) =>
    serviceBreakingOn(breakOn, { timeouts: { reopenDelaysMs: [10] } }).restore({
      file: world.kept,
      manifest: requireManifest(world.kept),
      trigger: 'manual',
    });

  it.each([
    ['copy', 'before the swap, with the copy of the backup beside the live database'],
    ['replace', 'just after the swap, the previous database set aside and the restored one closed at the live name'],
    ['reopen', 'with the restored database reopened but not yet checked'],
  ] as const)('broken on %s (%s): the previous memory is in place, open and in service', async (breakOn, _where) => {
    const before = await conversationTitles();
    const outcome = await restore(breakOn);

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(await conversationTitles()).toEqual(before);
    if (breakOn === 'copy') {
      expect(outcome.error).toMatchObject({ code: 'RESTORE_SUPERVISOR_BROKE' });
      expect(outcome.error.message).toMatch(/the current database was not changed/);
      expect(outcome.rolledBack).toBe(false);
    } else {
      expect(outcome.error).toMatchObject({ code: 'RESTORE_ROLLED_BACK' });
      expect(outcome.rolledBack).toBe(true);
    }
    await expectRecovered('restore', outcome.error);
  });

  it.each([
    ['a failed step', undefined],
    ['a supervisor that breaks on it', 'replace'],
  ] as const)(
    'a swap that fails half-way, after the previous database was set aside, followed by %s: nothing of it is left',
    async (_what, breakOn) => {
      const before = await conversationTitles();
      const outcome = await serviceBreakingOn(breakOn, {
        restoreFaults: {
          beforeSwap: () => {
            throw new Error('injected: the rename failed');
          },
        },
      }).restore({ file: world.kept, manifest: requireManifest(world.kept), trigger: 'manual' });

      expect(outcome.ok).toBe(false);
      if (outcome.ok) return;
      expect(outcome.rolledBack).toBe(false);
      expect(await conversationTitles()).toEqual(before);
      if (breakOn === undefined) expect(outcome.error.message).toMatch(/injected: the rename failed/);
      else await expectRecovered('restore', outcome.error);
      // What expectRecovered checks of the files, for the failed step too.
      expect(allNames()).not.toContain(`${path.basename(world.paths.database)}.before-restore`);
      expect(fs.existsSync(restoreJournalPath(world.paths.database))).toBe(false);
      expect(allNames().filter((n) => n.includes(TEMP_MARKER))).toEqual([]);
    },
  );

  // Last: this one leaves the restored memory in place.
  it('broken after the restored database was checked: the error says the restore took effect, and it did', async () => {
    const outcome = await restore('resume');

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toMatchObject({ code: 'RESTORE_SUPERVISOR_BROKE' });
    expect(formatError(outcome.error)[1]).toMatch(/^Try: Your memory is now the backup's/);
    expect((await conversationTitles()).length).toBe(requireManifest(world.kept).tables.conversations?.rows);
    await expectRecovered('restore', outcome.error);
  });
});

async function conversationsIn(file: string): Promise<number> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM conversations`);
    return Number(reader.getRowObjectsJS()[0]?.n);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('a supervisor that breaks once the run was recorded', { timeout: 90_000 }, () => {
  it('records the run once, and the error names the backup that was kept', async () => {
    const fixture = await backupFixture(20);
    const destination = path.join(fixture.dir, 'b.db');
    const outcome = await serviceFor(fixture, { supervisorFaults: { breakOn: 'record' } }).run({
      trigger: 'manual',
      destination,
    });

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(formatError(outcome.error)[1]).toContain(`the backup at ${destination} was verified and kept`);
    expect(await listBackupRuns(fixture.store)).toMatchObject([{ kind: 'backup', result: 'success' }]);
    expect(fixture.store.isOpen).toBe(true);
    // Resumed once, before the audit: the last resort does not resume (and ping) workers already at work.
    expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    await fixture.close();
  });
});

describe('a supervisor that breaks while the database cannot be reopened', { timeout: 90_000 }, () => {
  const unopenable = {
    beforeReopen: () => {
      throw new Error('injected: the file cannot be opened');
    },
  };

  it('a backup broken with the database closed says where the intact database is, not that it is open', async () => {
    const fixture = await backupFixture(20);
    const destination = path.join(fixture.dir, 'b.db');
    const outcome = await serviceFor(fixture, {
      timeouts: { reopenDelaysMs: [10] },
      faults: unopenable,
      supervisorFaults: { breakOn: 'close' },
    }).run({ trigger: 'manual', destination });

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toMatchObject({ code: 'BACKUP_REOPEN_FAILED' });
    expect(formatError(outcome.error)[1]).toMatch(
      new RegExp(`^Try: The database is intact at ${fixture.store.path}\\. Quit nu-agent`),
    );
    expect(fixture.store.isOpen).toBe(false);
    expect(await conversationsIn(fixture.store.path)).toBe(20);
    expect(fs.existsSync(destination)).toBe(false);
    expect(fixture.deps.workers.calls.at(-1)).toBe('resumeAll');
  });

  it('a restore broken just after the swap puts the previous database back at the live name, leaves the unchecked one unopened and says where the memory is', async () => {
    const fixture = await backupFixture(30);
    const kept = path.join(fixture.dir, 'kept.db');
    const made = await serviceFor(fixture).run({ trigger: 'manual', destination: kept });
    if (!made.ok) throw made.error;
    await fillRows(fixture.store, 5, 1000);
    const service = serviceFor(fixture, {
      timeouts: { reopenDelaysMs: [10] },
      restoreFaults: unopenable,
      supervisorFaults: { breakOn: 'replace' },
    });
    const outcome = await service.restore({ file: kept, manifest: requireManifest(kept), trigger: 'manual' });

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    // Not "the current database was not changed": the user must learn that the database is closed, and where.
    expect(outcome.error).toMatchObject({ code: 'RESTORE_ROLLBACK_FAILED' });
    const [errorLine, tryLine] = formatError(outcome.error);
    expect(errorLine).toMatch(/^Error: the restore failed and the previous database could not be reopened/);
    expect(tryLine).toBe(
      `Try: Quit nu-agent (/exit). The previous database is back at ${fixture.store.path}; start nu-agent again.`,
    );
    expect(fixture.store.isOpen).toBe(false);
    // The previous memory (35 conversations, the backup has 30) is whole at the live name; nothing is beside it.
    expect(await conversationsIn(fixture.store.path)).toBe(35);
    expect(fs.readdirSync(fixture.dir).filter((n) => n.startsWith('memory.db'))).toEqual(['memory.db']);
    expect(allNames(fixture.dir).filter((n) => n.includes(TEMP_MARKER))).toEqual([]);
    // The workers are not left parked, and the lock is free.
    expect(fixture.deps.workers.calls.at(-1)).toBe('resumeAll');
    const lock = await acquireBackupLock(fixture.deps.paths.backupLock);
    await lock.release();
  });
});
