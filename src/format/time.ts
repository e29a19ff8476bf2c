// How a moment or a span of time reads for a person, in one place so that every command shows the same moment
// the same way: `2025-11-22 14:03:07 +01:00`, the local wall time with its offset from UTC (a line copied from
// another machine, or read after a daylight-saving change, stays unambiguous). Scripts get ISO 8601 in UTC
// (`toISOString`) from --json; nothing here is for them.

const pad = (n: number) => String(n).padStart(2, '0');

/** `2025-11-22 14:03:07 +01:00` in the local zone (the TZ environment variable, else the system's). */
export function formatTime(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${datePart(date, '-')} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** `14:03:07.123`, local: the time of day on a debug line, where the date would only be noise. */
export function formatClock(date: Date): string {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** `2025-10-30-143022`, local time: the stamp in the default backup names (no `:`, sorts by time). */
export function nameStamp(date: Date): string {
  return `${datePart(date, '-')}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

function datePart(date: Date, sep: string): string {
  return `${date.getFullYear()}${sep}${pad(date.getMonth() + 1)}${sep}${pad(date.getDate())}`;
}

/** A time left or taken, to the second: `4 s`, `2 min 05 s`, `1 h 03 min`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

/** A coarse span, its two largest units: "3 d 4 h", "5 h 2 min", "40 s" (the sign is dropped). */
export function formatSpan(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return `${m} min`;
  return `${s} s`;
}
