import { Cron } from 'croner';
import { messageOf, messages } from '../errors.js';

// Cron and time-zone rules of the auto-backup, all pure: given an expression, a zone and a moment, when is the
// next run. The scheduler, status, and the commands that change the schedule all ask here, so what status
// shows is what the scheduler will do.

/** Stored as the time-zone setting when the user wants the machine's own zone (resolved at each use). */
export const LOCAL_TIME_ZONE = 'local';

const NICKNAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly'];

/** The machine's zone, e.g. "Europe/Berlin" (what `local` means right now). */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The IANA name to hand croner, or undefined for the machine's zone. */
function zoneOption(timeZone: string): string | undefined {
  return timeZone === LOCAL_TIME_ZONE ? undefined : timeZone;
}

/** "local" or a canonical IANA zone name; anything else is refused with a hint. */
export function parseTimeZone(raw: string): string {
  const text = raw.trim();
  if (text === '' || text.toLowerCase() === LOCAL_TIME_ZONE) return LOCAL_TIME_ZONE;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: text }).resolvedOptions().timeZone;
  } catch {
    throw messages.autoBackupTimeZoneInvalid(text);
  }
}

/**
 * Checks a cron expression: five fields (minute hour day-of-month month day-of-week) or a nickname such as
 * @daily, accepted by croner, and firing at least once. A six-field expression (seconds) is refused: a backup
 * schedule to the second is always a mistake. Returns the expression with its whitespace normalised.
 */
export function parseCron(raw: string, timeZone: string = LOCAL_TIME_ZONE): string {
  const expr = raw.trim().split(/\s+/).join(' ');
  const fields = expr.split(' ').length;
  if (expr === '' || (!NICKNAMES.includes(expr.toLowerCase()) && fields !== 5)) {
    throw messages.autoBackupCronInvalid(raw, `expected five fields, found ${expr === '' ? 0 : fields}`);
  }
  let job: Cron;
  try {
    job = new Cron(expr, { paused: true, timezone: zoneOption(timeZone) });
  } catch (err) {
    throw messages.autoBackupCronInvalid(raw, messageOf(err).replace(/^CronPattern: /, ''));
  }
  try {
    if (job.nextRun() === null) throw messages.autoBackupCronNeverFires(expr);
  } finally {
    job.stop();
  }
  return expr;
}

/** The first run strictly after `from`, or undefined if the expression never fires again. */
export function nextRunAfter(cron: string, timeZone: string, from: Date): Date | undefined {
  const job = new Cron(cron, { paused: true, timezone: zoneOption(timeZone) });
  try {
    return job.nextRun(from) ?? undefined;
  } finally {
    job.stop();
  }
}

/**
 * The longest gap between consecutive runs over the next few runs after `from`: "a day" for 0 2 * * *, "a week"
 * for a weekly schedule. Status calls a backup overdue when the last success is older than twice this.
 */
export function longestInterval(cron: string, timeZone: string, from: Date, runs = 8): number | undefined {
  const job = new Cron(cron, { paused: true, timezone: zoneOption(timeZone) });
  try {
    const times = job.nextRuns(runs, from).map((d) => d.getTime());
    let longest: number | undefined;
    for (let i = 1; i < times.length; i++) longest = Math.max(longest ?? 0, times[i]! - times[i - 1]!);
    return longest;
  } finally {
    job.stop();
  }
}

/** Starts a live croner job that calls onTick at each run; protect keeps a tick from starting while one runs. */
export function scheduleJob(cron: string, timeZone: string, onTick: () => Promise<void>): Cron {
  return new Cron(cron, { timezone: zoneOption(timeZone), protect: true, unref: true, catch: true }, onTick);
}
