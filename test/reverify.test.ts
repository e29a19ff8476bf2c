import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoBackup } from '../src/auto-backup/auto-backup.js';
import { runAutoCommand } from '../src/auto-backup/commands.js';
import { appConfigStore } from '../src/auto-backup/config-store.js';
import { retentionFor } from '../src/auto-backup/retention-adapter.js';
import { buildStatus, formatStatus, statusJson } from '../src/auto-backup/status.js';
import { pruneBackups } from '../src/backup/prune.js';
import { catalogBackups } from '../src/backup/catalog.js';
import { reverifyBackups } from '../src/backup/reverify.js';
import type { RunVerifyTask } from '../src/backup/verify.js';
import { appendVerification, readOwnManifest } from '../src/backup/verification-history.js';
import { manifestPathFor } from '../src/backup/types.js';
import type { BackupManifest } from '../src/backup/types.js';
import { resolveDataPaths } from '../src/paths.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { FakeBackupService } from './helpers/fake-backup-service.js';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';
import { startReceiver } from './helpers/http-receiver.js';
import { tempDir } from './helpers/temp-dir.js';

// Scheduled re-verification on real backup files (real DuckDB copies with real manifests), verified in a real
// copy-engine thread, with results written into the manifests.

const HERE = { kind: 'here', pid: 4242, active: true } as const;
const DAY = 24 * 3600 * 1000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const manifestOf = (file: string) => JSON.parse(fs.readFileSync(manifestPathFor(file), 'utf8')) as BackupManifest;

async function setup(options: { verifyTask?: RunVerifyTask } = {}) {
  const home = tempDir();
  const paths = resolveDataPaths({ NUAGENT_HOME: home });
  // The backups are of the database itself: a pass checks only this database's backups.
  const source = paths.database;
  await addConversations(source, 20);
  const dir = path.join(home, 'backups');
  fs.mkdirSync(dir, { recursive: true });
  const files = { old: path.join(dir, 'b-old.db'), mid: path.join(dir, 'b-mid.db'), new: path.join(dir, 'b-new.db') };
  await handMadeBackup(source, files.old, new Date('2025-01-01T02:00:00Z'));
  await handMadeBackup(source, files.mid, new Date('2025-02-01T02:00:00Z'));
  await handMadeBackup(source, files.new, new Date('2025-03-01T02:00:00Z'));

  const store = await MemoryStore.open(paths.database, { createParentDir: true });
  const clock = { now: new Date('2025-03-02T12:00:00Z') };
  const backups = new FakeBackupService();
  const auto = new AutoBackup({
    config: appConfigStore(store),
    backups,
    paths,
    retention: retentionFor(paths),
    now: () => clock.now,
    notifyPolicy: { timeoutMs: 10_000, attempts: 1, backoffMs: [] },
    verifyTask: options.verifyTask,
  });
  cleanups.push(async () => {
    await auto.shutdown();
    await store.close();
  });
  await auto.set('timeZone', 'UTC');
  await auto.set('directory', dir);
  const command = (args: string[]) => runAutoCommand(args, { auto, scheduler: HERE, cwd: '/', trigger: 'external' });
  return { paths, dir, files, clock, auto, backups, command, status: () => buildStatus(auto, HERE) };
}

// Each pass starts a copy-engine pool and opens DuckDB copies: slow on a loaded machine, so a longer limit.
describe('scheduled re-verification', { timeout: 180_000 }, () => {
  it('checks the oldest verification first, records each result in the manifest (0600), and stops at the size bound', async () => {
    const { auto, files, clock, command } = await setup();
    const size = fs.statSync(files.old).size;
    await auto.set('reverifyMaxBytes', String(size + 1));

    const first = await command(['reverify', 'now']);
    expect(first.exitCode).toBe(0);
    expect(first.lines[0]).toMatch(
      /^Re-verified 1 backup, 0 damaged; 2 left for a later pass \(the size bound was reached\)\.$/,
    );
    expect(manifestOf(files.old).verifications).toEqual([
      { at: clock.now.toISOString(), ok: true, durationMs: expect.any(Number) },
    ]);
    expect(manifestOf(files.mid).verifications).toBeUndefined();
    expect(fs.statSync(manifestPathFor(files.old)).mode & 0o777).toBe(0o600);

    // b-old was verified just now; of the others, b-mid's verification (its creation) is the oldest.
    clock.now = new Date(clock.now.getTime() + DAY);
    await command(['reverify', 'now']);
    expect(manifestOf(files.mid).verifications).toHaveLength(1);
    expect(manifestOf(files.new).verifications).toBeUndefined();
    expect(manifestOf(files.old).verifications).toHaveLength(1);
  });

  it('a flipped byte: recorded as damaged, the failure notification goes out, status counts it, retention never counts it', async () => {
    const r = await startReceiver();
    cleanups.push(() => r.close());
    const { auto, files, dir, command, status } = await setup();
    await auto.set('notifyPing', `${r.url}/ping-check-uuid-0001`);
    await auto.set('notifyWebhook', `${r.url}/hook`);
    await auto.set('reverifyEveryDays', 'weekly');
    const fd = fs.openSync(files.new, 'r+');
    const middle = Math.floor(fs.statSync(files.new).size / 2);
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, middle);
    fs.writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, middle);
    fs.closeSync(fd);

    const run = await command(['reverify', 'now']);
    expect(run.exitCode).toBe(1);
    expect(run.error?.message).toMatch(/re-verification found 1 damaged backup/);
    expect(run.lines.join('\n')).toMatch(/DAMAGED {2}.*b-new\.db: hash: /);
    const record = manifestOf(files.new).verifications?.at(-1);
    expect(record).toMatchObject({ ok: false, problem: expect.stringMatching(/^hash: /) });
    expect(auto.takeNotices().join('\n')).toMatch(/re-verification found 1 damaged backup: .*b-new\.db/);

    await auto.notifier.idle();
    const fail = r.received.find((q) => q.path === '/ping-check-uuid-0001/fail');
    expect(fail?.body).toMatch(/re-verification found 1 damaged backup/);
    const hook = JSON.parse(r.received.find((q) => q.path === '/hook')!.body) as Record<string, unknown>;
    expect(hook).toMatchObject({ event: 'reverify', status: 'damaged', ok: false, checked: 3 });

    const report = await status();
    const lines = formatStatus(report);
    expect(lines.find((l) => l.trim().startsWith('Re-verify:'))).toMatch(
      /weekly \(at most 2\.0 GiB or 10 min per pass\): 3 backups, last re-verified 0 s ago, 1 damaged$/,
    );
    expect(lines.some((l) => /WARNING: re-verification found 1 damaged backup/.test(l))).toBe(true);
    expect(statusJson(report).reverify).toMatchObject({ everyDays: 7, backups: 3, damaged: [{ path: files.new }] });

    // `/backup list` flags it, although its size and header still look right.
    const listed = catalogBackups([dir]).find((e) => e.path === files.new);
    expect(listed).toMatchObject({
      state: 'damaged',
      problem: expect.stringMatching(/^re-verification on .* failed: hash: /),
    });

    // The damaged backup is the newest file, but b-mid is the newest verified one; the damaged one stays.
    const plan = pruneBackups({ directories: [dir], policy: { keepLast: 1, minKeep: 1 }, dryRun: true });
    const reason = (file: string) => plan.plan.keep.find((k) => k.entry.path === file)?.reason;
    expect(reason(files.mid)).toMatch(/newest verified backup is never removed/);
    expect(reason(files.new)).toMatch(/found it damaged .*; not counted, not removed/);
    expect(plan.removed.map((p) => p.entry.path)).toEqual([files.old]);

    // The next pass leaves the damaged one alone (it stays damaged until the user acts).
    const again = await command(['reverify', 'now']);
    expect(again.lines.join('\n')).not.toMatch(/b-new/);
  });

  it('runs after an automatic backup only when due', async () => {
    const { auto, files, clock } = await setup();
    await auto.set('reverifyEveryDays', 'weekly');
    const verifications = () => (manifestOf(files.old).verifications ?? []).length;

    await auto.run({ trigger: 'auto' });
    await auto.idle();
    expect(verifications()).toBe(1);

    clock.now = new Date(clock.now.getTime() + 2 * DAY);
    await auto.run({ trigger: 'auto' });
    await auto.idle();
    expect(verifications()).toBe(1);

    clock.now = new Date(clock.now.getTime() + 6 * DAY);
    await auto.run({ trigger: 'auto' });
    await auto.idle();
    expect(verifications()).toBe(2);

    await auto.set('reverifyEveryDays', 'off');
    clock.now = new Date(clock.now.getTime() + 30 * DAY);
    await auto.run({ trigger: 'auto' });
    await auto.idle();
    expect(verifications()).toBe(2);
  });

  it('a backup asked for during a re-verification stops it first, and nothing half-checked is recorded', async () => {
    let started!: () => void;
    const checking = new Promise<void>((resolve) => (started = resolve));
    // A verification that lasts until it is cancelled: a large backup, as far as the pass can tell.
    const endless: RunVerifyTask = (_task, signal) =>
      new Promise((_resolve, reject) => {
        started();
        signal?.addEventListener('abort', () => reject(new Error('cancelled')), { once: true });
      });
    const { auto, backups, files } = await setup({ verifyTask: endless });
    const before = fs.readFileSync(manifestPathFor(files.old), 'utf8');
    const pass = auto.reverify();
    await checking;
    const run = await auto.run({ trigger: 'auto' });
    expect(run.status).toBe('success');
    expect(backups.requests).toHaveLength(1);
    const done = await pass;
    expect(done).toMatchObject({ status: 'done', result: { checked: [], stoppedBy: 'cancelled' } });
    expect(fs.readFileSync(manifestPathFor(files.old), 'utf8')).toBe(before);
  });

  it('stops at the time bound without recording the check it cut short', async () => {
    const { files, dir, paths } = await setup();
    const endless: RunVerifyTask = (_task, signal) =>
      new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('timed out'))));
    const result = await reverifyBackups(
      catalogBackups([dir]),
      { maxBytes: 1e12, maxMs: 50 },
      {
        database: paths.database,
        runTask: endless,
      },
    );
    expect(result).toMatchObject({ checked: [], remaining: 3, stoppedBy: 'time' });
    expect(manifestOf(files.old).verifications).toBeUndefined();
  });
});

describe('verification history', () => {
  it('never rewrites a manifest it did not write: a link, another user’s file, or one changed meanwhile', async () => {
    const { files } = await setup();
    const record = { at: '2025-03-03T00:00:00Z', ok: true, durationMs: 1 };
    const file = manifestPathFor(files.mid);
    const before = (readOwnManifest(files.mid) as { text: string }).text;

    expect(appendVerification(files.mid, before.replace('"test"', '"other"'), record)).toMatch(
      /changed while the backup was being checked/,
    );

    fs.chownSync(file, 12345, 12345);
    expect(appendVerification(files.mid, before, record)).toMatch(/belongs to another user/);
    fs.chownSync(file, process.getuid!(), process.getgid!());

    const real = `${file}.real`;
    fs.renameSync(file, real);
    fs.symlinkSync(real, file);
    expect(appendVerification(files.mid, before, record)).toMatch(/not a regular file/);
    expect(fs.readFileSync(real, 'utf8')).toBe(before);
    fs.rmSync(file);
    fs.renameSync(real, file);

    expect(appendVerification(files.mid, before, record)).toBeUndefined();
    expect(manifestOf(files.mid).verifications).toEqual([record]);
    expect(fs.readdirSync(path.dirname(file)).filter((n) => n.includes('nu-agent-tmp'))).toEqual([]);
  });
});
