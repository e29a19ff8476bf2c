import { describe, expect, it } from 'vitest';
import { NuError } from '../src/errors.js';
import { longestInterval, nextRunAfter, parseCron, parseTimeZone } from '../src/auto-backup/schedule.js';
import {
  parseBackupDirectory,
  prepareSetting,
  defaultSettings,
  settingsFromStored,
} from '../src/auto-backup/settings.js';
import { resolveDataPaths } from '../src/paths.js';
import { tempDir } from './helpers/temp-dir.js';
import fs from 'node:fs';
import path from 'node:path';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof NuError ? err.code : `not a NuError: ${String(err)}`;
  }
  return 'no error';
};

describe('cron validation', () => {
  it('accepts five-field expressions and nicknames, normalising whitespace', () => {
    expect(parseCron('0 2 * * *')).toBe('0 2 * * *');
    expect(parseCron('  30   4 * *   1-5 ')).toBe('30 4 * * 1-5');
    expect(parseCron('@daily')).toBe('@daily');
    expect(parseCron('0 3 * * sun')).toBe('0 3 * * sun');
  });

  it('refuses wrong field counts, six-field (seconds) expressions and out-of-range values', () => {
    expect(code(() => parseCron('0 2 * *'))).toBe('AUTO_CRON_INVALID');
    expect(code(() => parseCron('* * * * * *'))).toBe('AUTO_CRON_INVALID');
    expect(code(() => parseCron('61 2 * * *'))).toBe('AUTO_CRON_INVALID');
    expect(code(() => parseCron('0 2 * * 8'))).toBe('AUTO_CRON_INVALID');
    expect(code(() => parseCron('every night'))).toBe('AUTO_CRON_INVALID');
    expect(code(() => parseCron(''))).toBe('AUTO_CRON_INVALID');
  });

  it('refuses an expression that never fires, with a hint', () => {
    expect(code(() => parseCron('0 2 30 2 *'))).toBe('AUTO_CRON_NEVER_FIRES');
    expect(code(() => parseCron('0 0 31 4 *'))).toBe('AUTO_CRON_NEVER_FIRES');
    expect(() => parseCron('0 2 30 2 *')).toThrow(
      expect.objectContaining({ hint: expect.stringMatching(/date that exists/) }),
    );
    // February 29th exists every four years: rare, but it fires.
    expect(parseCron('0 0 29 2 *')).toBe('0 0 29 2 *');
  });
});

describe('time zones', () => {
  it('accepts local and IANA names, refuses unknown ones', () => {
    expect(parseTimeZone('local')).toBe('local');
    expect(parseTimeZone('')).toBe('local');
    expect(parseTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(parseTimeZone('UTC')).toBe('UTC');
    expect(code(() => parseTimeZone('Mars/Olympus_Mons'))).toBe('AUTO_TIMEZONE_INVALID');
  });

  it('computes the next run in the given zone, across daylight saving time', () => {
    const winter = new Date('2025-01-15T00:00:00Z');
    expect(nextRunAfter('0 2 * * *', 'UTC', winter)?.toISOString()).toBe('2025-01-15T02:00:00.000Z');
    expect(nextRunAfter('0 2 * * *', 'America/New_York', winter)?.toISOString()).toBe('2025-01-15T07:00:00.000Z');
    expect(nextRunAfter('0 2 * * *', 'Asia/Kolkata', winter)?.toISOString()).toBe('2025-01-15T20:30:00.000Z');
    const summer = new Date('2025-07-15T00:00:00Z');
    expect(nextRunAfter('0 2 * * *', 'America/New_York', summer)?.toISOString()).toBe('2025-07-15T06:00:00.000Z');
    expect(nextRunAfter('0 2 * * *', 'Europe/Berlin', summer)?.toISOString()).toBe('2025-07-16T00:00:00.000Z');
  });

  it('gives the run strictly after the moment given, and the gap between runs', () => {
    const at = new Date('2025-01-15T02:00:00Z');
    expect(nextRunAfter('0 2 * * *', 'UTC', at)?.toISOString()).toBe('2025-01-16T02:00:00.000Z');
    expect(longestInterval('0 2 * * *', 'UTC', at)).toBe(24 * 3600 * 1000);
    expect(longestInterval('0 2 * * 1', 'UTC', at)).toBe(7 * 24 * 3600 * 1000);
  });
});

describe('settings', () => {
  const paths = resolveDataPaths({ NUAGENT_HOME: '/home/someone/.nuagent' });

  it('has the documented defaults', () => {
    expect(defaultSettings(paths)).toEqual({
      enabled: false,
      cron: '0 2 * * *',
      timeZone: 'local',
      retentionDays: 7,
      minKeep: 1,
      directory: '/home/someone/.nuagent/backups',
      pauseTimeoutMs: 30_000,
      resumeTimeoutMs: 60_000,
      keepRules: {},
      notifyPing: undefined,
      notifyWebhook: undefined,
      reverifyEveryDays: 0,
      reverifyMaxBytes: 2 * 1024 ** 3,
      reverifyMaxSeconds: 600,
    });
  });

  it('stores plain strings, one key per setting', () => {
    const current = defaultSettings(paths);
    expect(prepareSetting('enabled', 'on', current)).toMatchObject({ key: 'auto_backup.enabled', stored: 'true' });
    expect(prepareSetting('cron', '15 3 * * *', current)).toMatchObject({
      key: 'auto_backup.cron',
      stored: '15 3 * * *',
    });
    expect(prepareSetting('retentionDays', '14', current)).toMatchObject({
      key: 'auto_backup.retention_days',
      stored: '14',
    });
    expect(prepareSetting('pauseTimeoutMs', '45', current)).toMatchObject({
      key: 'auto_backup.pause_timeout_seconds',
      stored: '45',
    });
  });

  it('refuses values that make no sense', () => {
    const current = defaultSettings(paths);
    expect(code(() => prepareSetting('retentionDays', '-1', current))).toBe('AUTO_SETTING_INVALID');
    expect(code(() => prepareSetting('retentionDays', 'week', current))).toBe('AUTO_SETTING_INVALID');
    expect(code(() => prepareSetting('minKeep', '0', current))).toBe('AUTO_SETTING_INVALID');
    expect(code(() => prepareSetting('enabled', 'maybe', current))).toBe('AUTO_SETTING_INVALID');
  });

  it('reads back stored values, and reports (not uses) a stored value that does not parse', () => {
    const loaded = settingsFromStored(
      new Map([
        ['auto_backup.enabled', 'true'],
        ['auto_backup.cron', '"0 2 * * *"'],
        ['auto_backup.retention_days', '30'],
      ]),
      paths,
    );
    expect(loaded.settings.enabled).toBe(true);
    expect(loaded.settings.retentionDays).toBe(30);
    expect(loaded.settings.cron).toBe('0 2 * * *');
    expect(loaded.problems).toHaveLength(1);
    expect(loaded.problems[0]).toMatch(/auto_backup\.cron/);
  });

  it('accepts a backup directory that can be created, refuses one under a file', () => {
    const dir = tempDir();
    expect(parseBackupDirectory('new/deeper', dir)).toBe(path.join(dir, 'new/deeper'));
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    expect(code(() => parseBackupDirectory('file/backups', dir))).toBe('AUTO_DIR_INVALID');
    expect(code(() => parseBackupDirectory('file', dir))).toBe('AUTO_DIR_INVALID');
  });
});
