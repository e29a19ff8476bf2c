import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoBackup } from '../src/auto-backup/auto-backup.js';
import { runAutoCommand } from '../src/auto-backup/commands.js';
import { appConfigStore } from '../src/auto-backup/config-store.js';
import { retentionFor } from '../src/auto-backup/retention-adapter.js';
import { buildStatus, statusJson } from '../src/auto-backup/status.js';
import { catalogBackups } from '../src/backup/catalog.js';
import { reverifyBackups } from '../src/backup/reverify.js';
import { manifestPathFor } from '../src/backup/types.js';
import type { BackupManifest } from '../src/backup/types.js';
import { runVerifyTaskInThread } from '../src/backup/verify.js';
import type { RunVerifyTask } from '../src/backup/verify.js';
import { resolveDataPaths } from '../src/paths.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { FakeBackupService } from './helpers/fake-backup-service.js';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';
import { startReceiver } from './helpers/http-receiver.js';
import { tempDir } from './helpers/temp-dir.js';

// The auto-backup directory is shared: another database of this user backs up into it, and another local user
// can put files in it (sticky, like /tmp). A re-verification pass checks only this user's backups of this
// database; the others are never opened, counted in one line, and never reported as damaged, in the pass's
// lines, its notification or status. Real DuckDB backups verified in a real copy-engine thread; as root,
// "another user" is uid 65534 and their files are chowned to it.

const OTHER = 65534;
const asRoot = process.getuid?.() === 0;
const HERE = { kind: 'here', pid: 4242, active: true } as const;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function flipMiddleByte(file: string): void {
  const fd = fs.openSync(file, 'r+');
  const middle = Math.floor(fs.fstatSync(fd).size / 2);
  const byte = Buffer.alloc(1);
  fs.readSync(fd, byte, 0, 1, middle);
  fs.writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, middle);
  fs.closeSync(fd);
}

function rewriteManifest(file: string, change: Partial<BackupManifest>): void {
  const manifest = JSON.parse(fs.readFileSync(manifestPathFor(file), 'utf8')) as BackupManifest;
  fs.writeFileSync(manifestPathFor(file), JSON.stringify({ ...manifest, ...change }));
}

describe.runIf(asRoot)('re-verification in a shared backup directory', { timeout: 180_000 }, () => {
  it("checks only this user's backups of this database, says in one line what it skipped, and never reports the others as damaged", async () => {
    const r = await startReceiver();
    cleanups.push(() => r.close());
    const home = tempDir();
    const paths = resolveDataPaths({ NUAGENT_HOME: home });
    await addConversations(paths.database, 10);
    const otherDatabase = path.join(home, 'other.db');
    await addConversations(otherDatabase, 3);
    const dir = path.join(home, 'shared');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o1777);

    const ours = path.join(dir, 'b-ours.db');
    await handMadeBackup(paths.database, ours, new Date('2025-03-01T02:00:00Z'));
    // Another database's backup, damaged: that database's own passes report it, not this one's.
    const otherDb = path.join(dir, 'b-other-db.db');
    await handMadeBackup(otherDatabase, otherDb, new Date('2025-01-01T02:00:00Z'));
    flipMiddleByte(otherDb);
    // Another user's files and manifests naming this database: one with a verification "from the future" that
    // would make the next pass wait until then, one with a failed verification that status would report.
    const plant = async (name: string, verification: { at: string; ok: boolean }) => {
      const file = path.join(dir, name);
      await handMadeBackup(paths.database, file, new Date('2025-01-02T02:00:00Z'));
      flipMiddleByte(file);
      rewriteManifest(file, { verifications: [{ ...verification, problem: 'planted', durationMs: 1 }] });
      fs.chownSync(file, OTHER, OTHER);
      fs.chownSync(manifestPathFor(file), OTHER, OTHER);
      return file;
    };
    const planted = await plant('b-planted.db', { at: '2099-01-01T00:00:00Z', ok: true });
    const plantedDamaged = await plant('b-planted-damaged.db', { at: '2025-03-01T00:00:00Z', ok: false });
    // One of ours whose file another user replaced with their own (same name, same size, other content).
    const replaced = path.join(dir, 'b-replaced.db');
    await handMadeBackup(paths.database, replaced, new Date('2025-01-03T02:00:00Z'));
    const theirs = `${replaced}.theirs`;
    fs.copyFileSync(replaced, theirs);
    flipMiddleByte(theirs);
    fs.chownSync(theirs, OTHER, OTHER);
    fs.renameSync(theirs, replaced);
    const untouched = [planted, plantedDamaged, replaced, otherDb].map((f) =>
      fs.readFileSync(manifestPathFor(f), 'utf8'),
    );

    const store = await MemoryStore.open(paths.database);
    const clock = { now: new Date('2025-03-02T12:00:00Z') };
    const auto = new AutoBackup({
      config: appConfigStore(store),
      backups: new FakeBackupService(),
      paths,
      retention: retentionFor(paths),
      now: () => clock.now,
      notifyPolicy: { timeoutMs: 10_000, attempts: 1, backoffMs: [] },
    });
    cleanups.push(async () => {
      await auto.shutdown();
      await store.close();
    });
    await auto.set('directory', dir);
    await auto.set('reverifyEveryDays', 'weekly');
    await auto.set('notifyWebhook', `${r.url}/hook`);
    const command = (args: string[]) => runAutoCommand(args, { auto, scheduler: HERE, cwd: '/', trigger: 'external' });

    // Before any pass, status counts only the one backup of ours, and nothing damaged.
    expect(statusJson(await buildStatus(auto, HERE)).reverify).toMatchObject({ backups: 1, damaged: [] });

    const run = await command(['reverify', 'now']);
    expect(run.exitCode).toBe(0);
    expect(run.lines[0]).toBe('Re-verified 1 backup, 0 damaged; 0 left for a later pass.');
    expect(run.lines).toContain(
      'Skipped 3 backups: 2 because its file belongs to another user, 1 of another database.',
    );
    expect(run.lines.join('\n')).not.toMatch(/DAMAGED/);
    expect(
      [planted, plantedDamaged, replaced, otherDb].map((f) => fs.readFileSync(manifestPathFor(f), 'utf8')),
    ).toEqual(untouched);

    await auto.notifier.idle();
    const hook = JSON.parse(r.received.find((q) => q.path === '/hook')!.body) as Record<string, unknown>;
    expect(hook).toMatchObject({ event: 'reverify', status: 'success', checked: 1, damaged: [] });
    expect(statusJson(await buildStatus(auto, HERE)).reverify).toMatchObject({ backups: 1, damaged: [] });

    // The planted verification from 2099 does not postpone the next pass: a week later it is due and runs.
    clock.now = new Date(clock.now.getTime() + 8 * 24 * 3600 * 1000);
    await auto.run({ trigger: 'auto' });
    await auto.idle();
    const manifest = JSON.parse(fs.readFileSync(manifestPathFor(ours), 'utf8')) as BackupManifest;
    expect(manifest.verifications).toHaveLength(2);
  });
});

describe('re-verification of a backup replaced while it is read', { timeout: 120_000 }, () => {
  it('reports it neither intact nor damaged, and records nothing in its manifest', async () => {
    const home = tempDir();
    const database = path.join(home, 'memory.db');
    await addConversations(database, 5);
    const backup = path.join(home, 'b.db');
    await handMadeBackup(database, backup, new Date('2025-03-01T02:00:00Z'));
    const before = fs.readFileSync(manifestPathFor(backup), 'utf8');
    // The fault: at the moment the read starts, the file at the backup's name becomes another file (a rename
    // over it, as anyone who may write the directory can do), which the real verification then reads.
    const swapThenVerify: RunVerifyTask = (task, signal) => {
      const other = `${backup}.other`;
      fs.copyFileSync(backup, other);
      flipMiddleByte(other);
      fs.renameSync(other, backup);
      return runVerifyTaskInThread(task, signal);
    };

    const result = await reverifyBackups(
      catalogBackups([home], { exclude: [database] }),
      { maxBytes: 1e12, maxMs: 60_000 },
      { database, runTask: swapThenVerify },
    );
    expect(result).toMatchObject({
      checked: [],
      skipped: [{ path: backup, why: 'it was replaced while it was being checked' }],
      remaining: 0,
    });
    expect(fs.readFileSync(manifestPathFor(backup), 'utf8')).toBe(before);
  });
});
