import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import type { App, RunningApp } from '../src/app.js';
import { createApp } from '../src/app/create-app.js';
import { createBackupService } from '../src/backup/backup-service.js';
import { requireManifest } from '../src/backup/manifest.js';
import { restoreFromBackup } from '../src/backup/restore.js';
import { getRawSetting } from '../src/store/app-config.js';
import { resolveDataPaths } from '../src/paths.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { recordingWorkers } from './helpers/backup-app.js';
import { addConversations, historyOf } from './helpers/hand-made-backup.js';
import { RecordingOutput } from './helpers/recording-output.js';
import { tempDir } from './helpers/temp-dir.js';

// Restores that do not go to the end, and what they must not lose: this machine's settings when the process is
// killed after the swap, the database kept from such a restore when the next restore runs, and what the workers
// write between the safety backup and the swap.

const CHILD = path.resolve('test/fixtures/restore-child.ts');

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => undefined);
});

/** A memory with one backup of it, then more conversations and this machine's settings changed since. */
async function memoryAndOlderBackup() {
  const dir = tempDir('nuagent-restore-interrupted-');
  const home = path.join(dir, 'home');
  const paths = resolveDataPaths({ NUAGENT_HOME: home }, path.join(dir, 'memory.db'));
  await addConversations(paths.database, 3, 'before');
  const store = await MemoryStore.open(paths.database);
  const workers = recordingWorkers();
  const backup = path.join(dir, 'older.db');
  const made = await createBackupService({ store, workers, paths, version: 'test' }).run({
    trigger: 'manual',
    destination: backup,
  });
  if (!made.ok) throw made.error;
  const atBackup = await historyOf(store);
  await store.run(`INSERT INTO conversations (title) VALUES ('after the backup')`);
  await store.run(`INSERT OR REPLACE INTO appconfig (key, value) VALUES ('auto_backup.cron', '15 3 * * *')`);
  await store.run(`INSERT OR REPLACE INTO appconfig (key, value) VALUES ('debug', 'true')`);
  return { dir, home, paths, store, workers, backup, atBackup };
}

async function titlesIn(file: string): Promise<string[]> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll('SELECT title FROM conversations ORDER BY id');
    return reader.getRowObjectsJS().map((r) => String(r.title));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('a restore that does not finish', { timeout: 180_000 }, () => {
  it("killed after the swap: the next start puts this machine's settings back, and the next restore keeps the saved database", async () => {
    const m = await memoryAndOlderBackup();
    await m.store.close();
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, m.paths.database, m.backup], { stdio: 'pipe' });
    let childOut = '';
    child.stdout.on('data', (d: Buffer) => (childOut += d.toString()));
    child.stderr.on('data', (d: Buffer) => (childOut += d.toString()));
    const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
    expect(signal, childOut).toBe('SIGKILL');
    const previous = `${m.paths.database}.before-restore`;
    expect(fs.existsSync(previous)).toBe(true);
    const keptBefore = fs.readFileSync(previous);

    const out = new RecordingOutput();
    const app: RunningApp = await createApp({
      env: { NUAGENT_HOME: m.home },
      database: m.paths.database,
      makeOutput: () => out,
    });
    closers.push(() => app.shutdown());
    expect(await historyOf(app.store)).toEqual(m.atBackup);
    expect(await getRawSetting(app.store, 'auto_backup.cron')).toBe('15 3 * * *');
    expect(app.debug).toBe(true);
    expect(out.lines.join('\n')).toContain("this machine's settings (auto-backup, debug) were put back");
    expect(out.lines.join('\n')).toMatch(/Notice: a restore was interrupted\. .*memory\.db\.before-restore/);

    // Restoring again must not silently replace the database the notice told the user to keep.
    const again = await app.backups.restore!({
      file: m.backup,
      manifest: requireManifest(m.backup),
      trigger: 'manual',
    });
    expect(again.ok).toBe(false);
    if (again.ok) return;
    expect(again.error).toMatchObject({
      code: 'RESTORE_PREVIOUS_KEPT',
      message: expect.stringContaining(previous),
      hint: expect.stringContaining(`mv ${previous}`),
    });
    expect(fs.readFileSync(previous).equals(keptBefore)).toBe(true);
  });

  it('applies only a settings journal private to this user, written for the file now in place', async () => {
    const home = tempDir('nuagent-restore-journal-');
    const start = async () => {
      const app = await createApp({ env: { NUAGENT_HOME: home }, makeOutput: () => new RecordingOutput() });
      closers.push(() => app.shutdown());
      return app;
    };
    await (await start()).shutdown();
    const database = path.join(home, 'memory.db');
    const journal = `${database}.restore-settings.json`;
    const write = (mode: number, ino = fs.statSync(database).ino) => {
      const { dev } = fs.statSync(database);
      const settings = [{ key: 'auto_backup.cron', value: '0 4 * * *' }];
      fs.writeFileSync(
        journal,
        JSON.stringify({ format: 'nu-agent-restore-settings', restored: { dev, ino }, settings }),
      );
      fs.chmodSync(journal, mode);
    };

    write(0o644); // readable by others: anyone could have read (or, in a shared directory, planted) it
    let app = await start();
    expect(await getRawSetting(app.store, 'auto_backup.cron')).toBeUndefined();
    await app.shutdown();

    write(0o600, fs.statSync(database).ino + 1); // another file: the swap never happened
    app = await start();
    expect(await getRawSetting(app.store, 'auto_backup.cron')).toBeUndefined();
    expect(fs.existsSync(journal)).toBe(false);
    await app.shutdown();

    write(0o600);
    app = await start();
    expect(await getRawSetting(app.store, 'auto_backup.cron')).toBe('0 4 * * *');
    expect(fs.existsSync(journal)).toBe(false);
  });

  it('the workers stay paused from the safety backup to the swap: nothing they write is in neither file', async () => {
    const m = await memoryAndOlderBackup();
    closers.push(() => m.store.close());
    // A worker writes as soon as it may run again (the memory port refuses its writes while paused).
    let written = 0;
    const workers = recordingWorkers({
      resumeAll: async () => {
        written++;
        await m.store.run(`INSERT INTO conversations (title) VALUES ('written by a worker ${written}')`);
      },
    });
    const out = new RecordingOutput();
    const app = {
      version: 'test',
      paths: m.paths,
      store: m.store,
      workers,
      backups: createBackupService({ store: m.store, workers, paths: m.paths, version: 'test' }),
      out,
      session: { conversationId: undefined },
      debug: false,
    } as unknown as App;

    const result = await restoreFromBackup(app, m.backup, {
      yes: true,
      trigger: 'manual',
      signal: new AbortController().signal,
    });
    expect(result.restored).toBe(true);
    if (!result.restored) return;
    const now = await m.store.all<{ title: string }>('SELECT title FROM conversations');
    const kept = [...(await titlesIn(result.safetyBackup)), ...now.map((r) => r.title)].join('\n');
    for (let i = 1; i <= written; i++) expect(kept).toContain(`written by a worker ${i}`);
    expect(workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'pauseAll', 'waitUntilAllPaused', 'resumeAll']);
  });

  it('the workers are resumed when the restore is refused after the safety backup', async () => {
    const m = await memoryAndOlderBackup();
    closers.push(() => m.store.close());
    const app = {
      version: 'test',
      paths: m.paths,
      store: m.store,
      workers: m.workers,
      backups: createBackupService({ store: m.store, workers: m.workers, paths: m.paths, version: 'test' }),
      out: new RecordingOutput(),
      session: { conversationId: undefined },
      debug: false,
    } as unknown as App;
    m.workers.calls.length = 0;

    // Another restore, interrupted, leaves its saved database just as this one's safety backup is done.
    const refused = await restoreFromBackup(app, m.backup, {
      yes: true,
      trigger: 'manual',
      signal: new AbortController().signal,
      display: (label) => {
        if (label === 'restore') fs.writeFileSync(`${m.paths.database}.before-restore`, 'kept from an earlier restore');
        return { onEvent: () => {}, stop: () => {} };
      },
    }).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'RESTORE_PREVIOUS_KEPT' });
    expect(m.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    expect(fs.readFileSync(`${m.paths.database}.before-restore`, 'utf8')).toBe('kept from an earlier restore');
  });
});
