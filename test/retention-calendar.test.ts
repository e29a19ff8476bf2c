import { describe, expect, it } from 'vitest';
import { planPrune } from '../src/backup/retention.js';
import type { RetentionPolicy } from '../src/backup/retention.js';
import { isoWeek, parseKeepWithin, withinCutoff } from '../src/backup/retention-calendar.js';
import type { BackupEntry } from '../src/backup/backup-entry.js';
import type { VerificationRecord } from '../src/backup/types.js';
import { parseKeepRules, formatKeepRules } from '../src/backup/keep-rules.js';
import { parsePruneArgs } from '../src/ui/manage-args.js';

// restic's keep rules on fixed clocks, with the time zone passed to the planner: month and year ends, ISO weeks
// that straddle New Year, and both DST changes in Europe/Berlin.

function entry(name: string, iso: string, verifications?: VerificationRecord[]): BackupEntry {
  return {
    path: `/b/${name}.db`,
    state: 'ok',
    createdAt: new Date(iso),
    manifest: verifications ? ({ verifications } as unknown as BackupEntry['manifest']) : undefined,
  };
}

const names = (list: { entry: BackupEntry }[]) => list.map((p) => p.entry.path.slice(3, -3)).sort();
const plan = (entries: BackupEntry[], policy: Omit<RetentionPolicy, 'minKeep'>, now = '2030-01-01T00:00:00Z') =>
  planPrune(entries, { minKeep: 1, ...policy }, new Date(now));
const reasonOf = (p: ReturnType<typeof plan>, name: string) =>
  p.keep.find((k) => k.entry.path === `/b/${name}.db`)?.reason ?? '';

describe('restic-style retention', () => {
  it('keeps the newest backup of each of the N newest days that have one (restic forum example)', () => {
    const entries = [
      entry('a1', '2025-05-01T08:00:00Z'),
      entry('a2', '2025-05-02T08:00:00Z'),
      entry('a3', '2025-05-02T11:00:00Z'),
      entry('a4', '2025-05-04T09:00:00Z'),
      entry('a5', '2025-05-05T10:00:00Z'),
    ];
    const p = plan(entries, { keepDaily: 4, timeZone: 'UTC' }, '2025-05-05T12:00:00Z');
    expect(names(p.keep)).toEqual(['a1', 'a3', 'a4', 'a5']);
    expect(names(p.remove)).toEqual(['a2']);
    expect(reasonOf(p, 'a3')).toMatch(/daily 2025-05-02/);
    expect(p.remove[0]?.reason).toMatch(/kept by none of --keep-daily 4/);
  });

  it('keeps the oldest backup too when a calendar rule still has room, as restic does', () => {
    const entries = [
      entry('new', '2025-05-05T10:00:00Z'),
      entry('old1', '2025-05-04T09:00:00Z'),
      entry('old2', '2025-05-04T08:00:00Z'),
    ];
    const p = plan(entries, { keepDaily: 5, timeZone: 'UTC' });
    expect(names(p.keep)).toEqual(['new', 'old1', 'old2']);
    expect(reasonOf(p, 'old2')).toMatch(/oldest, rule had room/);
  });

  it('reads days on the given zone: 23:30 UTC on 31 January is already February in Berlin', () => {
    const entries = [
      entry('feb1-late', '2025-02-01T20:00:00Z'),
      entry('jan31-2330z', '2025-01-31T23:30:00Z'),
      entry('jan31-noon', '2025-01-31T12:00:00Z'),
      entry('jan30', '2025-01-30T12:00:00Z'),
    ];
    // In UTC the 23:30 backup is the newest of 31 January; in Berlin it is 00:30 on 1 February.
    expect(names(plan(entries, { keepDaily: 2, timeZone: 'UTC' }).keep)).toEqual(['feb1-late', 'jan31-2330z']);
    expect(names(plan(entries, { keepDaily: 2, timeZone: 'Europe/Berlin' }).keep)).toEqual(['feb1-late', 'jan31-noon']);
  });

  it('counts months and years across the year end', () => {
    const entries = [
      entry('jan2', '2026-01-02T10:00:00Z'),
      entry('jan1', '2026-01-01T10:00:00Z'),
      entry('dec31', '2025-12-31T10:00:00Z'),
      entry('dec1', '2025-12-01T10:00:00Z'),
      entry('nov30', '2025-11-30T10:00:00Z'),
      entry('nov1', '2025-11-01T10:00:00Z'),
      entry('y2024', '2024-06-01T10:00:00Z'),
    ];
    const monthly = plan(entries, { keepMonthly: 3, timeZone: 'UTC' });
    expect(names(monthly.keep)).toEqual(['dec31', 'jan2', 'nov30']);
    const yearly = plan(entries, { keepYearly: 2, timeZone: 'UTC' });
    expect(names(yearly.keep)).toEqual(['dec31', 'jan2']);
    expect(reasonOf(yearly, 'dec31')).toMatch(/yearly 2025/);
    const both = plan(entries, { keepMonthly: 2, keepYearly: 3, timeZone: 'UTC' });
    // Rules are ORed; y2024 is the third year and the oldest backup.
    expect(names(both.keep)).toEqual(['dec31', 'jan2', 'y2024']);
    expect(reasonOf(both, 'dec31')).toMatch(/monthly 2025-12; yearly 2025/);
  });

  it('uses ISO weeks: 1-3 January 2021 belong to week 53 of 2020', () => {
    expect(isoWeek(2021, 1, 3)).toEqual({ isoYear: 2020, week: 53 });
    expect(isoWeek(2021, 1, 4)).toEqual({ isoYear: 2021, week: 1 });
    expect(isoWeek(2024, 12, 30)).toEqual({ isoYear: 2025, week: 1 });
    const entries = [
      entry('mon-jan4', '2021-01-04T12:00:00Z'),
      entry('sun-jan3', '2021-01-03T12:00:00Z'),
      entry('thu-dec31', '2020-12-31T12:00:00Z'),
      entry('mon-dec28', '2020-12-28T12:00:00Z'),
      entry('sun-dec27', '2020-12-27T12:00:00Z'),
    ];
    const p = plan(entries, { keepWeekly: 3, timeZone: 'UTC' });
    expect(names(p.keep)).toEqual(['mon-jan4', 'sun-dec27', 'sun-jan3']);
    expect(reasonOf(p, 'sun-jan3')).toMatch(/weekly 2020-W53/);
  });

  it('groups hours by the wall clock when DST ends: both 02:xx hours in Berlin are one hour', () => {
    // 26 October 2025: 03:00 CEST becomes 02:00 CET, so 00:xx UTC and 01:xx UTC both read 02:xx.
    const entries = [
      entry('c', '2025-10-26T01:50:00Z'),
      entry('b', '2025-10-26T01:10:00Z'),
      entry('a2', '2025-10-26T00:50:00Z'),
      entry('a1', '2025-10-26T00:10:00Z'),
      entry('z', '2025-10-25T23:10:00Z'),
    ];
    const berlin = plan(entries, { keepHourly: 2, timeZone: 'Europe/Berlin' });
    expect(names(berlin.keep)).toEqual(['c', 'z']);
    const utc = plan(entries, { keepHourly: 2, timeZone: 'UTC' });
    expect(names(utc.keep)).toEqual(['a2', 'c']);
  });

  it('keeps one day per calendar day across the spring DST change (a 23-hour day)', () => {
    const entries = [
      entry('mar31', '2025-03-31T06:00:00Z'),
      entry('mar30-late', '2025-03-30T21:30:00Z'), // 23:30 CEST, still 30 March
      entry('mar30-early', '2025-03-29T23:30:00Z'), // 00:30 CET on 30 March
      entry('mar29', '2025-03-29T22:30:00Z'), // 23:30 CET on 29 March
    ];
    const p = plan(entries, { keepDaily: 3, timeZone: 'Europe/Berlin' });
    expect(names(p.keep)).toEqual(['mar29', 'mar30-late', 'mar31']);
  });

  it('measures --keep-within from the newest backup, not from now', () => {
    const entries = [
      entry('newest', '2020-06-30T12:00:00Z'),
      entry('d20', '2020-06-10T12:00:00Z'),
      entry('d40', '2020-05-21T12:00:00Z'),
    ];
    const p = plan(entries, { keepWithin: parseKeepWithin('30d'), timeZone: 'UTC' }, '2026-01-01T00:00:00Z');
    expect(names(p.keep)).toEqual(['d20', 'newest']);
    expect(reasonOf(p, 'd20')).toMatch(/within 30d of the newest/);
  });

  it('steps back months on the calendar as Go does: 1m before 31 March is 3 March', () => {
    const newest = new Date('2025-03-31T12:00:00Z');
    expect(withinCutoff(newest, parseKeepWithin('1m')!, 'UTC').toISOString()).toBe('2025-03-03T12:00:00.000Z');
    expect(withinCutoff(newest, parseKeepWithin('1y2m')!, 'UTC').toISOString()).toBe('2024-01-31T12:00:00.000Z');
    const entries = [
      entry('newest', '2025-03-31T12:00:00Z'),
      entry('at-cutoff', '2025-03-03T12:00:00Z'),
      entry('after-cutoff', '2025-03-03T12:00:01Z'),
    ];
    expect(names(plan(entries, { keepWithin: parseKeepWithin('1m'), timeZone: 'UTC' }).keep)).toEqual([
      'after-cutoff',
      'newest',
    ]);
  });

  it('steps back days on the wall clock across DST and hours as elapsed time', () => {
    // 30 March 2025 12:00 CEST (10:00 UTC); one day back on the wall clock is 29 March 12:00 CET (11:00 UTC).
    const newest = new Date('2025-03-30T10:00:00Z');
    expect(withinCutoff(newest, parseKeepWithin('1d')!, 'Europe/Berlin').toISOString()).toBe(
      '2025-03-29T11:00:00.000Z',
    );
    expect(withinCutoff(newest, parseKeepWithin('24h')!, 'Europe/Berlin').toISOString()).toBe(
      '2025-03-29T10:00:00.000Z',
    );
  });

  it('never counts a backup that failed re-verification as the newest verified one, and never removes it', () => {
    const damaged = entry('newest-damaged', '2025-05-05T10:00:00Z', [
      { at: '2025-05-06T00:00:00Z', ok: false, problem: 'hash differs', durationMs: 5 },
    ]);
    const entries = [damaged, entry('older', '2025-05-04T10:00:00Z'), entry('oldest', '2025-05-03T10:00:00Z')];
    const p = plan(entries, { olderThanDays: 0, timeZone: 'UTC' }, '2025-06-01T00:00:00Z');
    expect(reasonOf(p, 'older')).toMatch(/newest verified backup is never removed/);
    expect(reasonOf(p, 'newest-damaged')).toMatch(/re-verification .* found it damaged \(hash differs\); not counted/);
    expect(names(p.remove)).toEqual(['oldest']);
    // A later successful re-verification makes it count again.
    damaged.manifest!.verifications!.push({ at: '2025-05-07T00:00:00Z', ok: true, durationMs: 5 });
    const again = plan(entries, { olderThanDays: 0, timeZone: 'UTC' }, '2025-06-01T00:00:00Z');
    expect(names(again.remove)).toEqual(['older', 'oldest']);
  });

  it('never plans to remove every backup for any combination of rules', () => {
    const entries = Array.from({ length: 12 }, (_, i) =>
      entry(`b${i}`, new Date(Date.UTC(2025, 0, 1 + i * 9)).toISOString()),
    );
    for (const policy of [
      { keepDaily: 1 },
      { keepWeekly: 1, keepMonthly: 1 },
      { keepWithin: parseKeepWithin('1h') },
      { keepYearly: 1, olderThanDays: 0 },
    ]) {
      const p = plan(entries, { ...policy, timeZone: 'UTC' });
      expect(p.keep.length).toBeGreaterThanOrEqual(1);
      expect(p.keep.length + p.remove.length).toBe(12);
      expect(names(p.keep)).toContain('b11');
    }
  });

  it('reads the flags of prune and the keep-rules setting the same way', () => {
    const args = parsePruneArgs(['--keep-daily', '7', '--keep-weekly=4', '--keep-within', '1y2m', '--dry-run']);
    expect(args).toMatchObject({ keepDaily: 7, keepWeekly: 4, keepWithin: { years: 1, months: 2 }, dryRun: true });
    expect(parsePruneArgs(['--keep', '3']).keepLast).toBe(3);
    expect(parseKeepRules('keep-daily=7 --keep-weekly 4 keep-within 30d')).toEqual({
      keepDaily: 7,
      keepWeekly: 4,
      keepWithin: { years: 0, months: 0, days: 30, hours: 0 },
    });
    expect(formatKeepRules(parseKeepRules('--keep-within 30d --keep-daily 7'))).toBe(
      '--keep-daily 7 --keep-within 30d',
    );
    expect(parseKeepRules('none')).toEqual({});
    expect(() => parsePruneArgs(['--keep-daily', '0'])).toThrow(/--keep-daily must be a whole number/);
    expect(() => parsePruneArgs(['--keep-within', '30x'])).toThrow(/--keep-within must be a duration/);
    expect(() => parseKeepRules('--keep-daily')).toThrow(/keep-rules must be pairs/);
    expect(() => parseKeepRules('--keep-fortnightly 2')).toThrow(/keep-rules must be pairs/);
  });
});
