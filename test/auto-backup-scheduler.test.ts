import { describe, expect, it } from 'vitest';
import { formatTime } from '../src/format/time.js';
import { AutoBackup } from '../src/auto-backup/auto-backup.js';
import { appConfigStore } from '../src/auto-backup/config-store.js';
import type { PruneCandidate, RetentionPolicy, RetentionPort } from '../src/auto-backup/retention-port.js';
import { AutoBackupScheduler } from '../src/auto-backup/scheduler.js';
import { resolveDataPaths } from '../src/paths.js';
import { FakeBackupService, failure, success } from './helpers/fake-backup-service.js';
import { tempDir } from './helpers/temp-dir.js';
import { openStore } from './helpers/open-store.js';

// The scheduler against a real database (appconfig) and a fake BackupService passed through the seam, with
// time injected as a clock function. Schedules started here use February 29th, so croner's own timer, which
// runs on real time, cannot fire while a test runs; the missed runs are in the injected past.

const LEAP_DAY = '0 0 29 2 *';

class RecordingRetention implements RetentionPort {
  readonly applied: { directory: string; policy: RetentionPolicy; at: Date }[] = [];
  candidates: PruneCandidate[] = [];
  async summary() {
    return { count: 3, totalBytes: 3 * 4096 };
  }
  async plan() {
    return this.candidates;
  }
  async apply(directory: string, policy: RetentionPolicy, at: Date) {
    this.applied.push({ directory, policy, at });
    return { removed: this.candidates, failed: [] };
  }
}

async function setup(start: Date) {
  const home = tempDir();
  const paths = resolveDataPaths({ NUAGENT_HOME: home });
  const store = await openStore(paths.database, { createParentDir: true });
  const retention = new RecordingRetention();
  const clock = { now: start };
  const backups = new FakeBackupService(() => clock.now);
  const auto = new AutoBackup({ config: appConfigStore(store), backups, paths, retention, now: () => clock.now });
  const stored = async () =>
    Object.fromEntries(
      (
        await store.all<{ key: string; value: string }>(
          `SELECT key, value FROM appconfig WHERE key LIKE 'auto_backup.%' ORDER BY key`,
        )
      ).map((r) => [r.key, r.value]),
    );
  return { paths, store, backups, retention, clock, auto, stored };
}

/**
 * An enabled schedule whose run of 2024-02-29 was missed, and a backup that runs until it is cancelled (as when
 * nu-agent is closed during the catch-up); `started` resolves once that backup has begun.
 */
async function missedRunThatRunsUntilCancelled() {
  const fixture = await setup(new Date('2025-06-01T12:00:00Z'));
  await fixture.auto.set('cron', LEAP_DAY);
  await fixture.auto.set('enabled', 'true');
  await fixture.auto.recordNextRun(new Date('2024-02-29T00:00:00Z'));
  const started = new Promise<void>((resolve) => {
    fixture.backups.behaviour = (request) => {
      resolve();
      return new Promise((done) => request.signal?.addEventListener('abort', () => done(failure('cancelled'))));
    };
  });
  return { ...fixture, started };
}

describe('auto-backup settings in appconfig', () => {
  it('stores one plain string per setting and the next run when enabled', async () => {
    const { auto, stored } = await setup(new Date('2025-01-15T10:00:00Z'));
    await auto.set('timeZone', 'UTC');
    await auto.set('cron', '15 3 * * *');
    await auto.set('enabled', 'true');
    await auto.set('retentionDays', '14');
    expect(await stored()).toEqual({
      'auto_backup.cron': '15 3 * * *',
      'auto_backup.enabled': 'true',
      'auto_backup.next_run_at': '2025-01-16T03:15:00.000Z',
      'auto_backup.retention_days': '14',
      'auto_backup.timezone': 'UTC',
    });
    await auto.set('enabled', 'false');
    expect((await stored())['auto_backup.next_run_at']).toBeUndefined();
  });
});

describe('catch-up after a missed run', () => {
  it('runs exactly one backup at start-up however many runs were missed, then not again', async () => {
    const { auto, backups, stored, clock } = await setup(new Date('2025-06-01T12:00:00Z'));
    await auto.set('timeZone', 'UTC');
    await auto.set('cron', LEAP_DAY);
    await auto.set('enabled', 'true');
    // The program last ran in 2015: the runs of 2016, 2020 and 2024 were all missed.
    await auto.recordNextRun(new Date('2016-02-29T00:00:00Z'));

    const first = new AutoBackupScheduler(auto);
    expect(await first.start()).toEqual({ catchingUp: true, missedAt: new Date('2016-02-29T00:00:00Z') });
    expect((await first.whenCaughtUp())?.status).toBe('success');
    await first.stop();
    expect(backups.requests).toHaveLength(1);
    expect(backups.requests[0]).toMatchObject({ trigger: 'auto' });
    expect((await stored())['auto_backup.next_run_at']).toBe('2028-02-29T00:00:00.000Z');

    // Started again a day later: nothing was missed since.
    clock.now = new Date('2025-06-02T12:00:00Z');
    const second = new AutoBackupScheduler(auto);
    expect(await second.start()).toEqual({ catchingUp: false, missedAt: undefined });
    await second.stop();
    expect(backups.requests).toHaveLength(1);
  });

  it('does not run at start-up when enabling, or when disabled with a past run time stored', async () => {
    const { auto, backups } = await setup(new Date('2025-06-01T12:00:00Z'));
    await auto.set('cron', LEAP_DAY);
    await auto.set('enabled', 'true');
    const enabled = new AutoBackupScheduler(auto);
    expect((await enabled.start()).catchingUp).toBe(false);
    expect(enabled.active).toBe(true);
    await enabled.stop();

    await auto.recordNextRun(new Date('2024-02-29T00:00:00Z'));
    await auto.set('enabled', 'false');
    const disabled = new AutoBackupScheduler(auto);
    expect((await disabled.start()).catchingUp).toBe(false);
    expect(disabled.active).toBe(false);
    await disabled.stop();
    expect(backups.requests).toHaveLength(0);
  });

  it('keeps the missed run if the catch-up is still running when the time is written', async () => {
    const { auto, stored, started } = await missedRunThatRunsUntilCancelled();
    const scheduler = new AutoBackupScheduler(auto);
    await scheduler.start();
    await started;
    expect((await stored())['auto_backup.next_run_at']).toBe('2024-02-29T00:00:00.000Z');
    await scheduler.stop();
    expect((await scheduler.whenCaughtUp())?.status).toBe('failed');
  });

  it('a catch-up cancelled because nu-agent was closed soon after start is caught up at the next start', async () => {
    const { auto, backups, stored, started } = await missedRunThatRunsUntilCancelled();
    const closedEarly = new AutoBackupScheduler(auto);
    await closedEarly.start();
    await started;
    await closedEarly.stop();
    expect((await stored())['auto_backup.next_run_at']).toBe('2024-02-29T00:00:00.000Z');

    backups.behaviour = async (request) => success(request);
    const next = new AutoBackupScheduler(auto);
    expect(await next.start()).toEqual({ catchingUp: true, missedAt: new Date('2024-02-29T00:00:00Z') });
    expect((await next.whenCaughtUp())?.status).toBe('success');
    await next.stop();
    expect(backups.requests).toHaveLength(2);
    expect((await stored())['auto_backup.next_run_at']).toBe('2028-02-29T00:00:00.000Z');
  });
});

describe('no overlap', () => {
  it('skips a scheduled run while a manual backup runs, and records why', async () => {
    const { auto, backups, stored } = await setup(new Date('2025-06-01T02:00:00Z'));
    await auto.set('cron', LEAP_DAY);
    await auto.set('enabled', 'true');
    const scheduler = new AutoBackupScheduler(auto);
    await scheduler.start();

    const manual = backups.hold('manual');
    const result = await scheduler.tick();
    expect(result).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/another backup/) });
    expect(backups.requests.map((r) => r.trigger)).toEqual(['manual']);
    expect(await stored()).toMatchObject({
      'auto_backup.last_status': 'skipped',
      'auto_backup.last_error': 'another backup or a restore was running',
      'auto_backup.last_run_at': '2025-06-01T02:00:00.000Z',
    });
    expect((await stored())['auto_backup.last_success_at']).toBeUndefined();
    expect(auto.takeNotices()).toEqual([
      `The automatic backup at ${formatTime(new Date('2025-06-01T02:00:00Z'))} was skipped: another backup or a restore was running.`,
    ]);

    manual.finish();
    await manual.done;
    expect((await scheduler.tick()).status).toBe('success');
    expect(backups.requests.map((r) => r.trigger)).toEqual(['manual', 'auto']);
    await scheduler.stop();
  });

  it('never runs two automatic backups at once', async () => {
    const { auto, backups } = await setup(new Date('2025-06-01T02:00:00Z'));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const original = backups.behaviour;
    backups.behaviour = async (request) => {
      await gate;
      return original(request);
    };
    const first = auto.run({ trigger: 'auto' });
    const second = await auto.run({ trigger: 'external' });
    expect(second).toMatchObject({ status: 'skipped', reason: 'an automatic backup was already running' });
    release();
    expect((await first).status).toBe('success');
    expect(backups.requests).toHaveLength(1);
  });
});

describe('retention', () => {
  it('applies retention after a successful automatic backup only', async () => {
    const { auto, backups, retention, paths } = await setup(new Date('2025-06-01T02:00:00Z'));
    await auto.set('retentionDays', '3');
    await auto.set('minKeep', '2');

    backups.behaviour = async () => failure();
    expect((await auto.run({ trigger: 'auto' })).status).toBe('failed');
    expect(retention.applied).toHaveLength(0);

    const manual = backups.hold('manual');
    expect((await auto.run({ trigger: 'auto' })).status).toBe('skipped');
    manual.finish();
    await manual.done;
    expect(retention.applied).toHaveLength(0);

    backups.behaviour = async (request) => success(request);
    retention.candidates = [
      { path: '/b/old.db', createdAt: new Date('2025-05-01T00:00:00Z'), sizeBytes: 10, reason: 'older than 3 days' },
    ];
    const result = await auto.run({ trigger: 'auto' });
    expect(result).toMatchObject({ status: 'success', pruned: retention.candidates });
    expect(retention.applied).toEqual([
      {
        directory: paths.defaultBackupDir,
        policy: { retentionDays: 3, minKeep: 2 },
        at: new Date('2025-06-01T02:00:00Z'),
      },
    ]);
  });

  it('reports a failed prune without turning the backup into a failure', async () => {
    const { auto, retention, stored } = await setup(new Date('2025-06-01T02:00:00Z'));
    retention.apply = async () => {
      throw new Error('EACCES: permission denied');
    };
    const result = await auto.run({ trigger: 'auto', unattended: true });
    expect(result).toMatchObject({ status: 'success', pruneError: expect.any(Error) });
    expect((await stored())['auto_backup.last_status']).toBe('success');
    expect(auto.takeNotices()).toEqual([
      'The automatic backup succeeded, but pruning old backups failed: EACCES: permission denied',
    ]);
  });
});

describe('recording results', () => {
  it('counts failures until a success, keeps the last success, and passes the timeouts and directory on', async () => {
    const { auto, backups, stored, clock, paths } = await setup(new Date('2025-06-01T02:00:00Z'));
    await auto.set('pauseTimeoutMs', '12');
    expect((await auto.run({ trigger: 'auto' })).status).toBe('success');
    expect(backups.requests[0]).toMatchObject({
      trigger: 'auto',
      directory: paths.defaultBackupDir,
      pauseTimeoutMs: 12_000,
      resumeTimeoutMs: 60_000,
    });

    backups.behaviour = async () => failure('disk full');
    clock.now = new Date('2025-06-02T02:00:00Z');
    await auto.run({ trigger: 'auto', unattended: true });
    clock.now = new Date('2025-06-03T02:00:00Z');
    await auto.run({ trigger: 'auto', unattended: true });
    expect(await stored()).toMatchObject({
      'auto_backup.last_status': 'failed',
      'auto_backup.last_error': 'disk full',
      'auto_backup.consecutive_failures': '2',
      'auto_backup.last_success_at': '2025-06-01T02:00:00.000Z',
      'auto_backup.last_run_at': '2025-06-03T02:00:00.000Z',
    });
    const notices = auto.takeNotices();
    expect(notices).toHaveLength(2);
    expect(notices[1]).toMatch(/failed: disk full/);
    expect(auto.takeNotices()).toEqual([]);

    backups.behaviour = async (request) => success(request);
    await auto.run({ trigger: 'auto' });
    expect(await stored()).toMatchObject({
      'auto_backup.last_status': 'success',
      'auto_backup.consecutive_failures': '0',
    });
    expect((await stored())['auto_backup.last_error']).toBeUndefined();
  });
});
