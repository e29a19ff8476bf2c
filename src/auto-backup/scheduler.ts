import type { Cron } from 'croner';
import { messageOf } from '../errors.js';
import { formatTime } from '../format/time.js';
import type { AutoBackup, AutoRunResult } from './auto-backup.js';
import { scheduleJob } from './schedule.js';

// The built-in scheduler: while the REPL runs and auto-backup is enabled, a croner job (protect: a tick never
// starts while the previous one runs) calls AutoBackup.run at each scheduled time. At start-up, a next-run time
// stored in the past means the program was not running when a backup was due: that is caught up with exactly one
// run, however many ticks were missed (as systemd's Persistent=true; the stored next-run time then moves on). A
// machine that sleeps through a tick is caught up by croner itself, which fires once when it wakes.

export interface SchedulerOptions {
  /** Something to call with a line when a run finished (debug output); notices go through AutoBackup. */
  log?: (text: string) => void;
}

export class AutoBackupScheduler {
  private job: Cron | undefined;
  private started = false;
  private starting: Promise<{ catchingUp: boolean; missedAt?: Date | undefined }> | undefined;
  private catchUp: Promise<AutoRunResult> | undefined;
  private readonly abort = new AbortController();
  private rescheduling: Promise<void> = Promise.resolve();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly auto: AutoBackup,
    private readonly options: SchedulerOptions = {},
  ) {
    this.unsubscribe = auto.onChange(() => void this.reschedule());
  }

  /** When the next scheduled run is (undefined when disabled or not started). */
  get nextRun(): Date | undefined {
    return this.job?.nextRun() ?? undefined;
  }

  get active(): boolean {
    return this.job !== undefined;
  }

  /**
   * Loads the settings, catches up a missed run (in the background: the prompt does not wait for a backup) and
   * schedules the next ones. Resolves once the decision is made; `whenCaughtUp()` waits for the catch-up run.
   */
  start(): Promise<{ catchingUp: boolean; missedAt?: Date | undefined }> {
    this.starting ??= this.begin();
    return this.starting;
  }

  private async begin(): Promise<{ catchingUp: boolean; missedAt?: Date | undefined }> {
    this.started = true;
    const { settings, state } = await this.auto.load();
    const now = this.auto.now();
    const missedAt =
      settings.enabled && state.nextRunAt && state.nextRunAt.getTime() <= now.getTime() ? state.nextRunAt : undefined;
    if (missedAt) {
      this.options.log?.(`auto-backup: the run due at ${formatTime(missedAt)} was missed; running it now`);
      this.catchUp = this.tick();
    }
    // With a catch-up running, the next-run time is written when it records its result; writing it now would
    // forget the missed run if the program stopped before the catch-up finished.
    await this.reschedule(missedAt === undefined);
    return { catchingUp: missedAt !== undefined, missedAt };
  }

  /** The catch-up run started by start(), if any. */
  async whenCaughtUp(): Promise<AutoRunResult | undefined> {
    await this.starting;
    return this.catchUp;
  }

  /** One scheduled run: what croner calls at each tick (and the catch-up). */
  tick(): Promise<AutoRunResult> {
    return this.auto.run({ trigger: 'auto', unattended: true, signal: this.abort.signal }).then((result) => {
      this.options.log?.(
        `auto-backup: ${result.status}${result.status === 'failed' ? `: ${messageOf(result.error)}` : ''}`,
      );
      return result;
    });
  }

  /** Re-reads the settings and (re)creates the job to match them; called after every setting change. */
  reschedule(recordNext = true): Promise<void> {
    this.rescheduling = this.rescheduling
      .then(() => this.applySettings(recordNext))
      .catch((err) => {
        this.auto.addNotice(`Automatic backups could not be scheduled: ${messageOf(err)}`);
      });
    return this.rescheduling;
  }

  /** Stops the schedule; a run in progress is cancelled (the supervisor resumes everything) and awaited. */
  async stop(): Promise<void> {
    this.started = false;
    this.unsubscribe();
    this.job?.stop();
    this.job = undefined;
    await this.rescheduling;
    this.abort.abort();
    await this.auto.idle();
  }

  private async applySettings(recordNext: boolean): Promise<void> {
    this.job?.stop();
    this.job = undefined;
    if (!this.started) return;
    const { settings, state } = await this.auto.load();
    if (!settings.enabled) return;
    this.job = scheduleJob(settings.cron, settings.timeZone, async () => {
      await this.tick();
    });
    const next = this.auto.nextRun(settings);
    if (recordNext && next?.getTime() !== state.nextRunAt?.getTime()) await this.auto.recordNextRun(next);
  }
}
