// The calendar arithmetic of restic-style retention, pure: which hour, day, ISO week, month and year a moment
// falls in on a given time zone's wall clock, and the `--keep-within` cutoff (restic's Duration.PastTime: Go's
// AddDate on the wall clock, then whole hours subtracted as elapsed time). A time zone is passed in, never read
// from the clock or the environment here, so tests can walk month and year ends and DST changes in any zone.

/** restic's Duration: `1y2m7d12h` (m is months, as in restic; there are no minutes). */
export interface KeepWithin {
  years: number;
  months: number;
  days: number;
  hours: number;
}

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The machine's zone as Intl knows it (follows TZ). */
export function machineTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function wallClock(at: Date, zone: string): WallClock {
  const parts = formatterFor(zone).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? NaN);
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

/** The instant whose wall clock in `zone` reads `wall` (+ms); in a DST gap or overlap, one of the candidates. */
function instantOf(wall: WallClock, ms: number, zone: string): number {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, ms);
  let guess = asUtc;
  for (let i = 0; i < 3; i++) {
    const seen = wallClock(new Date(guess), zone);
    const seenUtc = Date.UTC(seen.year, seen.month - 1, seen.day, seen.hour, seen.minute, seen.second, ms);
    const diff = asUtc - seenUtc;
    if (diff === 0) break;
    guess += diff;
  }
  return guess;
}

/** YYYYMMDDHH, YYYYMMDD, YYYYWW (ISO week), YYYYMM and YYYY of a moment, as restic's bucket keys. */
export function bucketKeys(
  at: Date,
  zone: string,
): Record<'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly', number> {
  const w = wallClock(at, zone);
  const { isoYear, week } = isoWeek(w.year, w.month, w.day);
  return {
    hourly: w.year * 1_000_000 + w.month * 10_000 + w.day * 100 + w.hour,
    daily: w.year * 10_000 + w.month * 100 + w.day,
    weekly: isoYear * 100 + week,
    monthly: w.year * 100 + w.month,
    yearly: w.year,
  };
}

/** ISO 8601 week of a calendar date: weeks start on Monday, week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { isoYear: number; week: number } {
  const date = Date.UTC(year, month - 1, day);
  const weekday = (new Date(date).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  const thursday = new Date(date + (3 - weekday) * 86_400_000);
  const isoYear = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / (7 * 86_400_000));
  return { isoYear, week };
}

/**
 * The moment `within` before `newest`, as restic computes it: years, months and days go back on the wall
 * clock (so 1m before 31 March is "31 February", which normalises to 3 March, as Go's AddDate does), then the
 * hours go back as elapsed time. Backups strictly after it are kept.
 */
export function withinCutoff(newest: Date, within: KeepWithin, zone: string): Date {
  const w = wallClock(newest, zone);
  const ms = newest.getTime() - Math.floor(newest.getTime() / 1000) * 1000;
  const shifted = new Date(
    Date.UTC(w.year - within.years, w.month - 1 - within.months, w.day - within.days, w.hour, w.minute, w.second),
  );
  const wall: WallClock = {
    year: shifted.getUTCFullYear(),
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
    hour: shifted.getUTCHours(),
    minute: shifted.getUTCMinutes(),
    second: shifted.getUTCSeconds(),
  };
  return new Date(instantOf(wall, ms, zone) - within.hours * 3_600_000);
}

/** Parses `30d`, `1y2m`, `48h`, `1y5m7d2h` (restic's format); undefined when it is not one. */
export function parseKeepWithin(raw: string): KeepWithin | undefined {
  const text = raw.trim().toLowerCase();
  if (!/^(\d+[ymdh])+$/.test(text)) return undefined;
  const out: KeepWithin = { years: 0, months: 0, days: 0, hours: 0 };
  const units: Record<string, keyof KeepWithin> = { y: 'years', m: 'months', d: 'days', h: 'hours' };
  for (const [, n, unit] of text.matchAll(/(\d+)([ymdh])/g)) out[units[unit!]!] = Number(n);
  if (Object.values(out).every((v) => v === 0) || Object.values(out).some((v) => !Number.isSafeInteger(v)))
    return undefined;
  return out;
}

/** `1y2m`, `30d`: the form parseKeepWithin reads. */
export function formatKeepWithin(within: KeepWithin): string {
  const parts: [number, string][] = [
    [within.years, 'y'],
    [within.months, 'm'],
    [within.days, 'd'],
    [within.hours, 'h'],
  ];
  return parts
    .filter(([n]) => n !== 0)
    .map(([n, u]) => `${n}${u}`)
    .join('');
}
