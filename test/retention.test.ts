import { describe, expect, it } from 'vitest';
import { planPrune } from '../src/backup/retention.js';
import type { BackupEntry, BackupState } from '../src/backup/backup-entry.js';
import { NuError } from '../src/errors.js';

const now = new Date('2025-06-30T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 24 * 60 * 60 * 1000);

function entry(name: string, ageDays: number | undefined, state: BackupState = 'ok'): BackupEntry {
  return {
    path: `/backups/${name}.db`,
    state,
    createdAt: ageDays === undefined ? undefined : daysAgo(ageDays),
  };
}

const names = (list: { entry: BackupEntry }[]) => list.map((p) => p.entry.path.replace(/^\/backups\/|\.db$/g, ''));

describe('planPrune', () => {
  it('keeps the newest N and removes the rest with --keep', () => {
    const entries = [entry('d', 3), entry('a', 0), entry('c', 2), entry('b', 1)];
    const plan = planPrune(entries, { keepLast: 2, minKeep: 1 }, now);
    expect(names(plan.remove).sort()).toEqual(['c', 'd']);
    expect(names(plan.keep).sort()).toEqual(['a', 'b']);
    expect(plan.remove[0]?.reason).toMatch(/not among the newest 2/);
  });

  it('removes only backups older than the window with --older-than, ageing from createdAt', () => {
    const entries = [entry('new', 1), entry('mid', 9.9), entry('old', 10.1), entry('older', 40)];
    const plan = planPrune(entries, { olderThanDays: 10, minKeep: 1 }, now);
    expect(names(plan.remove).sort()).toEqual(['old', 'older']);
    expect(plan.keep.find((k) => k.entry.path.includes('mid'))?.reason).toMatch(/younger than 10 days/);
  });

  it('ORs the rules: a backup goes only if neither --keep nor --older-than keeps it', () => {
    const entries = [entry('a', 0), entry('b', 20), entry('c', 30), entry('d', 1)];
    const plan = planPrune(entries, { keepLast: 3, olderThanDays: 5, minKeep: 1 }, now);
    // a, d are young; a, d, b are the newest three; only c is both beyond 3 and older than 5 days.
    expect(names(plan.remove)).toEqual(['c']);
  });

  it('never removes the newest verified backup, even when every backup is older than the window', () => {
    const entries = [entry('a', 50), entry('b', 60), entry('c', 70)];
    const plan = planPrune(entries, { olderThanDays: 0, minKeep: 1 }, now);
    expect(names(plan.keep)).toEqual(['a']);
    expect(plan.keep[0]?.reason).toMatch(/newest verified backup is never removed/);
    expect(names(plan.remove).sort()).toEqual(['b', 'c']);
  });

  it('honours the minKeep floor and treats a floor below 1 as 1', () => {
    const entries = [entry('a', 50), entry('b', 60), entry('c', 70), entry('d', 80)];
    expect(names(planPrune(entries, { olderThanDays: 1, minKeep: 3 }, now).remove)).toEqual(['d']);
    expect(names(planPrune(entries, { olderThanDays: 1, minKeep: 0 }, now).keep)).toEqual(['a']);
  });

  it('ignores foreign, damaged, missing and partial files: never removed, never counted as the newest', () => {
    const entries = [
      entry('foreign', 0, 'foreign'),
      entry('damaged', 0.5, 'damaged'),
      entry('missing', 0.2, 'missing'),
      entry('partial', 0.1, 'partial'),
      entry('good-new', 5),
      entry('good-old', 6),
    ];
    const plan = planPrune(entries, { keepLast: 1, minKeep: 1 }, now);
    // The newest verified backup is good-new, although four unusable files are newer.
    expect(names(plan.remove)).toEqual(['good-old']);
    expect(names(plan.keep).sort()).toEqual(['damaged', 'foreign', 'good-new', 'missing', 'partial']);
    expect(plan.keep.find((k) => k.entry.state === 'foreign')?.reason).toMatch(/not made by nu-agent/);
  });

  it('removes nothing when the only backups are not verified', () => {
    const plan = planPrune(
      [entry('x', 90, 'damaged'), entry('y', 90, 'foreign')],
      { olderThanDays: 1, minKeep: 1 },
      now,
    );
    expect(plan.remove).toEqual([]);
    expect(plan.keep).toHaveLength(2);
  });

  it('does not count an ok entry without a creation time and keeps it', () => {
    const plan = planPrune(
      [entry('a', 1), entry('b', 2), entry('notime', undefined)],
      { keepLast: 1, minKeep: 1 },
      now,
    );
    expect(names(plan.remove)).toEqual(['b']);
    expect(plan.keep.find((k) => k.entry.path.includes('notime'))?.reason).toMatch(/no valid creation time/);
  });

  it('keeps backups dated in the future', () => {
    const plan = planPrune([entry('a', -3), entry('b', -2), entry('c', 10)], { keepLast: 1, minKeep: 1 }, now);
    expect(names(plan.remove)).toEqual(['c']);
    expect(plan.keep.find((k) => k.entry.path.includes('/b.'))?.reason).toMatch(/future/);
  });

  it('orders equal creation times by path, whatever order the directory listed them in', () => {
    const same = [entry('b', 1), entry('a', 1), entry('c', 1)];
    const first = planPrune(same, { keepLast: 1, minKeep: 1 }, now);
    const second = planPrune([...same].reverse(), { keepLast: 1, minKeep: 1 }, now);
    expect(names(first.keep)).toEqual(['a']);
    expect(names(second.keep)).toEqual(['a']);
  });

  it('never plans to remove every verified backup, for any policy', () => {
    for (let n = 1; n <= 6; n++) {
      const entries = Array.from({ length: n }, (_, i) => entry(`b${i}`, i * 7 + 0.5));
      for (const policy of [
        { keepLast: 1, minKeep: 1 },
        { olderThanDays: 0, minKeep: 1 },
        { olderThanDays: 0, keepLast: 1, minKeep: -5 },
      ]) {
        const plan = planPrune(entries, policy, now);
        expect(plan.keep.length).toBeGreaterThanOrEqual(1);
        expect(plan.remove.length + plan.keep.length).toBe(n);
      }
    }
  });

  it('refuses an empty policy, --keep 0 and a negative age', () => {
    const entries = [entry('a', 1)];
    expect(() => planPrune(entries, { minKeep: 1 }, now)).toThrow(/prune needs a rule/);
    expect(() => planPrune(entries, { keepLast: 0, minKeep: 1 }, now)).toThrow(/at least 1/);
    expect(() => planPrune(entries, { keepLast: 1.5, minKeep: 1 }, now)).toThrow(/whole number/);
    expect(() => planPrune(entries, { olderThanDays: -1, minKeep: 1 }, now)).toThrow(NuError);
  });
});
