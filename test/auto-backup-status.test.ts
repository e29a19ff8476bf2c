import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AutoBackup } from '../src/auto-backup/auto-backup.js';
import { runAutoCommand } from '../src/auto-backup/commands.js';
import { appConfigStore } from '../src/auto-backup/config-store.js';
import { retentionFor } from '../src/auto-backup/retention-adapter.js';
import type { RetentionPort } from '../src/auto-backup/retention-port.js';
import { buildStatus, formatStatus } from '../src/auto-backup/status.js';
import { writeManifest } from '../src/backup/manifest.js';
import type { BackupRequest, BackupTrigger } from '../src/backup/types.js';
import { resolveDataPaths } from '../src/paths.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { FakeBackupService, failure, success } from './helpers/fake-backup-service.js';
import { tempDir } from './helpers/temp-dir.js';
import { openStore } from './helpers/open-store.js';

// Status shows times in the local zone; this file reads them in UTC wherever it runs.
process.env.TZ = 'UTC';

const HERE = { kind: 'here', pid: 4242, active: true } as const;
const DAY = 24 * 3600 * 1000;

async function setup(start: Date, retention?: (paths: ReturnType<typeof resolveDataPaths>) => RetentionPort) {
  const home = tempDir();
  const paths = resolveDataPaths({ NUAGENT_HOME: home });
  const store = await openStore(paths.database, { createParentDir: true });
  const clock = { now: start };
  const backups = new FakeBackupService(() => clock.now);
  const auto = new AutoBackup({
    config: appConfigStore(store),
    backups,
    paths,
    retention: retention?.(paths) ?? fixedRetention,
    now: () => clock.now,
  });
  await auto.set('timeZone', 'UTC');
  await auto.set('enabled', 'true');
  const status = async () => formatStatus(await buildStatus(auto, HERE));
  return { paths, store, backups, clock, auto, status };
}

const fixedRetention: RetentionPort = {
  summary: async () => ({ count: 3, totalBytes: 3 * 4096 }),
  plan: async () => [
    { path: '/b/old.db', createdAt: new Date('2025-05-01T00:00:00Z'), sizeBytes: 4096, reason: 'older than 7 days' },
  ],
  apply: async () => ({ removed: [], failed: [] }),
};

const line = (lines: string[], label: string) => lines.find((l) => l.trimStart().startsWith(`${label}:`))?.trim();

describe('auto-backup status', () => {
  it('after a success: the schedule, the next run, the last result, the backups and the next prune', async () => {
    const { auto, clock, status, backups } = await setup(new Date('2025-06-01T02:00:00Z'));
    backups.behaviour = async (request) => success(request, 'memory-2025-06-01-020000.db');
    await auto.run({ trigger: 'auto' });
    clock.now = new Date('2025-06-01T03:00:00Z');
    const lines = await status();
    expect(lines[0]).toBe('Auto-backup: enabled');
    expect(lines.filter((l) => l.includes('WARNING'))).toEqual([]);
    expect(line(lines, 'Schedule')).toMatch(/^Schedule:\s+0 2 \* \* \* \(UTC\)$/);
    expect(line(lines, 'Next run')).toMatch(/2025-06-02 02:00:00 \+00:00 \(in 23 h\)$/);
    expect(line(lines, 'Scheduler')).toMatch(/running in nu-agent \(pid 4242\)/);
    expect(line(lines, 'Retention')).toMatch(/7 days, keep at least 1$/);
    expect(line(lines, 'Timeouts')).toMatch(/pause 30 s, resume 60 s$/);
    expect(line(lines, 'Last run')).toMatch(/2025-06-01 02:00:00 \+00:00 \(1 h ago\), success$/);
    expect(line(lines, 'Last success')).toMatch(/2025-06-01 02:00:00 \+00:00 \(1 h ago\)$/);
    expect(line(lines, 'Last backup')).toMatch(/backups\/memory-2025-06-01-020000\.db$/);
    expect(line(lines, 'Consecutive failures')).toMatch(/0$/);
    expect(line(lines, 'Backups')).toMatch(/3, 12\.0 KiB in total$/);
    expect(line(lines, 'Next prune removes')).toMatch(/1 backup, 4\.0 KiB$/);
    expect(lines).toContain('    /b/old.db (older than 7 days)');
  });

  it('just enabled: no warning, the first run is due (it warns once that run is missed)', async () => {
    const { clock, status } = await setup(new Date('2025-06-01T03:00:00Z'));
    const lines = await status();
    expect(lines.filter((l) => l.includes('WARNING'))).toEqual([]);
    expect(line(lines, 'Last success')).toBe(
      'Last success:         none yet: the first run is due 2025-06-02 02:00:00 +00:00 (in 23 h)',
    );
    clock.now = new Date('2025-06-02T03:00:00Z');
    expect(await status()).toContain('  WARNING: no automatic backup has succeeded yet');
  });

  it('after a failure: the error, the count of failures, and warnings', async () => {
    const { auto, clock, status, backups } = await setup(new Date('2025-06-01T02:00:00Z'));
    backups.behaviour = async () => failure('not enough free space in /backups');
    await auto.run({ trigger: 'auto' });
    clock.now = new Date('2025-06-01T02:10:00Z');
    const lines = await status();
    expect(line(lines, 'Last run')).toMatch(/\(10 min ago\), failed: not enough free space in \/backups$/);
    expect(line(lines, 'Last success')).toMatch(/never$/);
    expect(line(lines, 'Consecutive failures')).toMatch(/1$/);
    expect(lines).toContain('  WARNING: the last automatic backup failed');
    expect(lines).toContain('  WARNING: no automatic backup has succeeded yet');
  });

  it('the last run shows the snapshot time of the backup it made, and its start time only when it failed', async () => {
    const { auto, clock, status, backups, paths } = await setup(new Date('2025-06-01T02:00:00Z'));
    // The workers take a while to pause: the snapshot is taken 90 s after the run started.
    backups.behaviour = async (request) => {
      clock.now = new Date('2025-06-01T02:01:30Z');
      return success(request, 'memory-2025-06-01-020130.db');
    };
    await auto.run({ trigger: 'auto' });
    clock.now = new Date('2025-06-01T03:00:00Z');
    let lines = await status();
    expect(line(lines, 'Last run')).toMatch(/ 2025-06-01 02:01:30 \+00:00 \(58 min ago\), success$/);
    expect(line(lines, 'Last success')).toMatch(/ 2025-06-01 02:01:30 \+00:00 \(58 min ago\)$/);
    const json = (await runAutoCommand(['status'], { auto, scheduler: HERE, cwd: paths.home, trigger: 'external' }))
      .data as Record<string, unknown>;
    expect(json).toMatchObject({ lastRunAt: '2025-06-01T02:01:30.000Z', lastSuccessAt: '2025-06-01T02:01:30.000Z' });

    backups.behaviour = async () => {
      clock.now = new Date('2025-06-01T03:01:30Z');
      return failure('disk full');
    };
    await auto.run({ trigger: 'auto' });
    lines = await status();
    expect(line(lines, 'Last run')).toMatch(/ 2025-06-01 03:00:00 \+00:00 \(1 min ago\), failed: disk full$/);
    expect(line(lines, 'Last success')).toMatch(/ 2025-06-01 02:01:30 \+00:00 \(1 h ago\)$/);
  });

  it('calls out a long time without a successful backup', async () => {
    const { auto, clock, status, backups } = await setup(new Date('2025-06-01T02:00:00Z'));
    await auto.run({ trigger: 'auto' });
    backups.behaviour = async () => failure('disk full');
    for (let day = 1; day <= 3; day++) {
      clock.now = new Date(Date.parse('2025-06-01T02:00:00Z') + day * DAY);
      await auto.run({ trigger: 'auto' });
    }
    clock.now = new Date(Date.parse('2025-06-04T02:00:00Z') + 3600 * 1000);
    const lines = await status();
    expect(lines).toContain(
      '  WARNING: no successful automatic backup for 3 d 1 h; the schedule expects one every 1 d',
    );
    expect(lines).toContain('  WARNING: the last 3 automatic backups failed');
  });

  it('says where the scheduler is when no nu-agent is running, and gives the same facts as JSON', async () => {
    const { auto } = await setup(new Date('2025-06-01T02:00:00Z'));
    const result = await runAutoCommand(['status'], {
      auto,
      scheduler: { kind: 'none' },
      cwd: '/',
      trigger: 'external',
    });
    expect(line(result.lines, 'Scheduler')).toMatch(/no nu-agent is running.*"0 2 \* \* \* nu-agent auto-backup run"/);
    expect(result.data).toMatchObject({ enabled: true, cron: '0 2 * * *', timeZone: 'UTC', lastStatus: null });
  });

  it('refuses an empty backup directory instead of taking it for the working directory', async () => {
    const { auto, paths } = await setup(new Date('2025-06-01T02:00:00Z'));
    const ctx = { auto, scheduler: { kind: 'none' } as const, cwd: tempDir(), trigger: 'external' as const };
    for (const empty of ['', '  ']) {
      await expect(runAutoCommand(['dir', empty], ctx)).rejects.toMatchObject({ code: 'AUTO_DIR_INVALID' });
    }
    expect((await auto.settings()).directory).toBe(paths.defaultBackupDir);
  });
});

describe('retention through backup management', () => {
  // Real backup files with manifests, found by src/backup/catalog.ts and planned by src/backup/retention.ts.
  async function makeBackups(
    dir: string,
    source: string,
    specs: { name: string; ageDays: number; trigger: BackupTrigger }[],
    now: Date,
    sourcePath = source,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    for (const spec of specs) {
      const file = path.join(dir, spec.name);
      fs.copyFileSync(source, file);
      const createdAt = new Date(now.getTime() - spec.ageDays * DAY).toISOString();
      writeManifest(file, {
        format: 'nu-agent-backup',
        formatVersion: 1,
        appVersion: 'test',
        duckdbVersion: 'test',
        createdAt,
        snapshotAt: createdAt,
        sourcePath,
        fileName: spec.name,
        sizeBytes: fs.statSync(file).size,
        hash: { algorithm: 'xxh3-128', value: '00' },
        schemaVersion: 3,
        tables: {} as never,
        trigger: spec.trigger,
      });
    }
  }

  it('counts every backup, but prunes only old automatic ones and only after a success', async () => {
    const now = new Date('2025-06-20T02:00:00Z');
    const source = path.join(tempDir(), 'source.db');
    await (await MemoryStore.open(source)).close();
    const { auto, paths, status, backups } = await setup(now, retentionFor);
    const dir = paths.defaultBackupDir;
    await makeBackups(
      dir,
      source,
      [
        { name: 'auto-1.db', ageDays: 1, trigger: 'auto' },
        { name: 'auto-10.db', ageDays: 10, trigger: 'auto' },
        { name: 'external-12.db', ageDays: 12, trigger: 'external' },
        { name: 'manual-30.db', ageDays: 30, trigger: 'manual' },
      ],
      now,
      paths.database,
    );
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a backup');
    const size = fs.statSync(source).size;

    const before = await status();
    expect(line(before, 'Backups')).toMatch(new RegExp(`^Backups:\\s+4, `));
    expect(line(before, 'Next prune removes')).toMatch(/2 backups/);
    expect(before.some((l) => l.includes('auto-10.db'))).toBe(true);
    expect(before.some((l) => l.includes('external-12.db'))).toBe(true);
    expect(before.some((l) => l.includes('manual-30.db'))).toBe(false);

    backups.behaviour = async () => failure();
    await auto.run({ trigger: 'auto' });
    expect(fs.existsSync(path.join(dir, 'auto-10.db'))).toBe(true);

    backups.behaviour = async (request: BackupRequest) => {
      await makeBackups(dir, source, [{ name: 'auto-new.db', ageDays: 0, trigger: 'auto' }], now, paths.database);
      return { ...success(request, 'auto-new.db'), sizeBytes: size };
    };
    const result = await auto.run({ trigger: 'auto' });
    expect(result.status === 'success' && result.pruned.map((p) => path.basename(p.path)).sort()).toEqual([
      'auto-10.db',
      'external-12.db',
    ]);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'auto-1.db',
      'auto-1.db.manifest.json',
      'auto-new.db',
      'auto-new.db.manifest.json',
      'manual-30.db',
      'manual-30.db.manifest.json',
      'notes.txt',
    ]);
  });

  it("two databases sharing one NUAGENT_HOME: one's status and retention never count or remove the other's backups", async () => {
    const now = new Date('2025-06-20T02:00:00Z');
    const source = path.join(tempDir(), 'source.db');
    await (await MemoryStore.open(source)).close();
    const { auto, paths, status, backups } = await setup(now, retentionFor);
    const other = path.join(path.dirname(source), 'other.db'); // `nu-agent --database other.db`, same home
    const dir = paths.defaultBackupDir;
    await makeBackups(dir, source, [{ name: 'mine-10.db', ageDays: 10, trigger: 'auto' }], now, paths.database);
    await makeBackups(
      dir,
      source,
      [
        { name: 'other-20.db', ageDays: 20, trigger: 'auto' },
        { name: 'other-30.db', ageDays: 30, trigger: 'auto' },
      ],
      now,
      other,
    );
    const before = await status();
    expect(line(before, 'Backups')).toMatch(/^Backups:\s+1, /);
    expect(before.some((l) => l.includes('other-'))).toBe(false);

    backups.behaviour = async (request: BackupRequest) => {
      await makeBackups(dir, source, [{ name: 'mine-new.db', ageDays: 0, trigger: 'auto' }], now, paths.database);
      return success(request, 'mine-new.db');
    };
    const result = await auto.run({ trigger: 'auto' });
    expect(result.status === 'success' && result.pruned.map((p) => path.basename(p.path))).toEqual(['mine-10.db']);
    for (const name of ['other-20.db', 'other-30.db']) expect(fs.existsSync(path.join(dir, name))).toBe(true);
  });
});
