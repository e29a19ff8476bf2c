import fs from 'node:fs';
import type { BackupService } from '../app.js';
import type { BackupEvent } from '../backup/types.js';
import { asError, isNuError, messageOf } from '../errors.js';
import type { DataPaths } from '../paths.js';
import type { RunVerifyTask } from '../backup/verify.js';
import type { DeliveryPolicy, DeliveryResult } from '../notify/deliver.js';
import { Notifier } from '../notify/notifier.js';
import { hasRule } from '../backup/retention.js';
import type { NotifyOutcome, NotifyTargets } from '../notify/notifier.js';
import { backupReport, reverifyReport } from './notify-reports.js';
import type { AutoBackupConfigStore } from './config-store.js';
import { catalogFor, runReverifyPass, summarizeReverify } from './reverify-pass.js';
import type { ReverifyRun } from './reverify-pass.js';
import type { OffsitePort, OffsiteSent } from './offsite-port.js';
import { formatTime } from '../format/time.js';
import type { PruneCandidate, RetentionPolicy, RetentionPort } from './retention-port.js';
import { LOCAL_TIME_ZONE, nextRunAfter } from './schedule.js';
import { prepareSetting, settingsFromStored } from './settings.js';
import type { AutoBackupSettings, LoadedSettings, SettingName } from './settings.js';
import { stateAfterRemote, stateAfterRun, stateFromStored, storedFromState } from './state.js';
import type { AutoBackupState, RemoteRecord, RunRecord } from './state.js';

// One automatic backup, start to finish: refuse to overlap, run through the one BackupService (the supervisor),
// record what happened, and prune only after a success. The scheduler, the control socket, `/backup auto run`
// and `nu-agent auto-backup run` all come here, so they cannot differ in what they record.
//
// Notifications (src/notify/) go out in the background at the start and the end of a run; the run never waits
// for them. Re-verification of stored backups (reverify-pass.ts) runs after an automatic run when it is due, in
// the background; a backup that is asked for meanwhile stops it first, so the two never run at once here.
//
// Overlap: when another backup (or a restore) is running in this process, the automatic one does not wait for
// it: it is recorded as skipped with the reason and the schedule moves on to its next time. Waiting would run a
// second backup straight after the first one, and a run that waits has no natural bound.

export type AutoTrigger = 'auto' | 'external';

export type AutoRunResult =
  | {
      status: 'success';
      path: string;
      sizeBytes: number;
      durationMs: number;
      stateDurations?: Record<string, number> | undefined;
      pruned: PruneCandidate[];
      pruneError?: Error | undefined;
      recordError?: Error | undefined;
      /** The copy sent to the `remote` setting's place, or why it failed (the local backup stands either way). */
      remote?: OffsiteSent | undefined;
      remoteError?: Error | undefined;
    }
  | {
      status: 'failed';
      error: Error;
      stateDurations?: Record<string, number> | undefined;
      recordError?: Error | undefined;
    }
  | { status: 'skipped'; reason: string; recordError?: Error | undefined };

export interface RunOptions {
  trigger: AutoTrigger;
  onEvent?: ((event: BackupEvent) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Nobody is watching (a scheduled or catch-up run): a failure becomes a notice at the next prompt. */
  unattended?: boolean;
  /** Wait for a due re-verification before returning (a one-shot process, such as cron's, exits afterwards). */
  waitForReverify?: boolean | undefined;
}

export interface AutoBackupDeps {
  config: AutoBackupConfigStore;
  backups: BackupService;
  paths: DataPaths;
  /** Absent until backup management provides it; then status cannot count and nothing is pruned. */
  retention?: RetentionPort | undefined;
  /** Sends each successful automatic backup offsite when the `remote` setting names a place. */
  offsite?: OffsitePort | undefined;
  /** The clock seam: every "now" of the auto-backup comes from here. */
  now?: () => Date;
  /** Timeouts and retries of notifications (tests shorten them). */
  notifyPolicy?: DeliveryPolicy | undefined;
  /** How a backup is re-verified (a copy-engine thread by default). */
  verifyTask?: RunVerifyTask | undefined;
}

export class AutoBackup {
  readonly now: () => Date;
  readonly notifier: Notifier;
  private running: Promise<AutoRunResult> | undefined;
  private reverifying: { done: Promise<ReverifyRun>; stop: AbortController } | undefined;
  private readonly notices: string[] = [];
  private noticeListener: ((text: string) => void) | undefined;
  private readonly changeListeners: (() => void)[] = [];

  constructor(private readonly deps: AutoBackupDeps) {
    this.now = deps.now ?? (() => new Date());
    this.notifier = new Notifier({
      policy: deps.notifyPolicy,
      now: this.now,
      record: (outcome) => this.recordNotify(outcome),
    });
  }

  get paths(): DataPaths {
    return this.deps.paths;
  }

  get retention(): RetentionPort | undefined {
    return this.deps.retention;
  }

  /** True while an automatic backup runs in this process. */
  get isRunning(): boolean {
    return this.running !== undefined;
  }

  async load(): Promise<LoadedSettings & { state: AutoBackupState }> {
    const stored = await this.deps.config.readAll();
    return { ...settingsFromStored(stored, this.deps.paths), state: stateFromStored(stored) };
  }

  async settings(): Promise<AutoBackupSettings> {
    return (await this.load()).settings;
  }

  /** Called after any setting changes (the scheduler reschedules). */
  onChange(listener: () => void): () => void {
    this.changeListeners.push(listener);
    return () => {
      const at = this.changeListeners.indexOf(listener);
      if (at >= 0) this.changeListeners.splice(at, 1);
    };
  }

  /**
   * Validates and stores one setting. Changing enabled, cron or the time zone also stores the new next run
   * time (cleared when disabled), so a run missed later is measured against the schedule now in force.
   */
  async set(name: SettingName, raw: string): Promise<{ settings: AutoBackupSettings; shown: string }> {
    const stored = await this.deps.config.readAll();
    const prepared = prepareSetting(name, raw, settingsFromStored(stored, this.paths).settings);
    const entries = new Map([[prepared.key, prepared.stored]]);
    const updated = settingsFromStored(new Map([...stored, ...entries]), this.paths).settings;
    if (name === 'enabled' || name === 'cron' || name === 'timeZone') {
      for (const [k, v] of storedFromState({ nextRunAt: this.nextRun(updated) })) entries.set(k, v);
    }
    await this.deps.config.write(entries);
    for (const listener of this.changeListeners) listener();
    return { settings: updated, shown: prepared.shown };
  }

  /** The next scheduled time after now, or undefined when disabled (or the expression never fires again). */
  nextRun(settings: AutoBackupSettings, from = this.now()): Date | undefined {
    return settings.enabled ? nextRunAfter(settings.cron, settings.timeZone, from) : undefined;
  }

  /** Stores the next run time the scheduler is waiting for. */
  async recordNextRun(next: Date | undefined): Promise<void> {
    await this.deps.config.write(storedFromState({ nextRunAt: next }));
  }

  /** Notices for the next prompt (failed unattended runs); each is returned once. */
  takeNotices(): string[] {
    return this.notices.splice(0);
  }

  addNotice(text: string): void {
    if (this.noticeListener) this.noticeListener(text);
    else this.notices.push(text);
  }

  /**
   * While set (the REPL waits at its prompt), a notice is handed over as it happens instead of waiting for the
   * next prompt; the ones kept meanwhile are handed over first.
   */
  setNoticeListener(listener: ((text: string) => void) | undefined): void {
    this.noticeListener = listener;
    if (listener) for (const text of this.takeNotices()) listener(text);
  }

  /**
   * Runs one automatic backup now, unless one is already running here (then it is recorded as skipped). A
   * re-verification in progress is stopped first; afterwards one starts in the background if it is due.
   */
  async run(options: RunOptions): Promise<AutoRunResult> {
    if (this.running) return this.skip('an automatic backup was already running', options);
    await this.stopReverify();
    if (this.running) return this.skip('an automatic backup was already running', options);
    if (this.deps.backups.busy) return this.skip('another backup or a restore was running', options);
    const running = this.runExclusive(options);
    this.running = running;
    let result: AutoRunResult;
    try {
      result = await running;
    } finally {
      this.running = undefined;
    }
    if (result.status !== 'skipped') {
      const pass = this.reverifyIfDue();
      if (options.waitForReverify) await pass;
    }
    return result;
  }

  /** Waits for a run, a re-verification and notifications in progress, if any (shutdown). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
    await this.reverifying?.done.catch(() => undefined);
    await this.notifier.idle();
  }

  /** Stops a re-verification in progress (what it finished is recorded) and waits for it. */
  async stopReverify(): Promise<void> {
    const current = this.reverifying;
    if (!current) return;
    current.stop.abort();
    await current.done.catch(() => undefined);
  }

  /**
   * Shutdown: stops a re-verification, waits for a run, then gives notifications under way one attempt's time
   * (so quitting never waits for all the retries of a service that does not answer).
   */
  async shutdown(): Promise<void> {
    await this.stopReverify();
    await this.running?.catch(() => undefined);
    await this.notifier.stop();
  }

  /** Where notifications go, from the settings (nothing when no URL is set). */
  targets(settings: AutoBackupSettings): NotifyTargets {
    return { pingUrl: settings.notifyPing, webhookUrl: settings.notifyWebhook };
  }

  /** Re-verifies now (`/backup auto reverify now`) or, with `whenDue`, only when the last pass is old enough. */
  async reverify(options: { whenDue?: boolean; signal?: AbortSignal | undefined } = {}): Promise<ReverifyRun> {
    if (this.reverifying) return { status: 'skipped', reason: 'a re-verification is already running' };
    if (this.running || this.deps.backups.busy)
      return { status: 'skipped', reason: 'a backup or a restore is running' };
    const stop = new AbortController();
    const forward = () => stop.abort();
    options.signal?.addEventListener('abort', forward, { once: true });
    const done = this.reverifyExclusive(stop.signal, options.whenDue ?? false);
    this.reverifying = { done, stop };
    try {
      return await done;
    } finally {
      this.reverifying = undefined;
      options.signal?.removeEventListener('abort', forward);
    }
  }

  private async reverifyIfDue(): Promise<void> {
    const run = await this.reverify({ whenDue: true }).catch((err: unknown) => {
      this.addNotice(`Re-verifying stored backups failed: ${messageOf(err)}`);
      return undefined;
    });
    if (run?.status === 'done' && run.result.checked.length === 0 && run.result.remaining > 0 && !run.result.stoppedBy)
      this.addNotice('Re-verification could not check any backup. See /backup auto status.');
  }

  private async reverifyExclusive(signal: AbortSignal, whenDue: boolean): Promise<ReverifyRun> {
    const settings = await this.settings();
    if (whenDue) {
      if (settings.reverifyEveryDays === 0) return { status: 'skipped', reason: 're-verification is off' };
      const summary = summarizeReverify(catalogFor(this.paths, settings.directory), settings);
      if (summary.dueAt && summary.dueAt.getTime() > this.now().getTime())
        return { status: 'skipped', reason: `not due until ${formatTime(summary.dueAt)}` };
    }
    const run = await runReverifyPass({
      paths: this.paths,
      settings,
      now: this.now,
      signal,
      runTask: this.deps.verifyTask,
    });
    if (run.status !== 'done') return run;
    const damaged = run.result.checked.filter((c) => !c.ok);
    const targets = this.targets(settings);
    const report = reverifyReport(run.result, this.paths.database);
    if (damaged.length > 0) {
      this.addNotice(`Re-verification: ${report.summary}. See /backup auto status.`);
      this.notifier.finished(targets, report);
    } else if (run.result.checked.length > 0) {
      // A good result is news for the webhook only: a ping would count as a backup at the monitoring service.
      this.notifier.finished({ webhookUrl: targets.webhookUrl }, report);
    }
    return run;
  }

  private async runExclusive(options: RunOptions): Promise<AutoRunResult> {
    const startedAt = this.now();
    let settings: AutoBackupSettings | undefined;
    try {
      settings = (await this.load()).settings;
      fs.mkdirSync(settings.directory, { recursive: true, mode: 0o700 });
    } catch (err) {
      const failed = await this.fail(asError(err), startedAt, options);
      // The settings may be what failed to load; the URLs are then unknown and nothing is sent.
      if (settings) this.notifyEnd(this.targets(settings), failed, options);
      return failed;
    }
    const targets = this.targets(settings);
    const start = this.notifier.started(targets);
    const outcome = await this.deps.backups.run({
      trigger: options.trigger,
      directory: settings.directory,
      signal: options.signal,
      onEvent: options.onEvent,
      pauseTimeoutMs: settings.pauseTimeoutMs,
      resumeTimeoutMs: settings.resumeTimeoutMs,
    });
    if (!outcome.ok) {
      // The service's own guard (another backup started between our check and the call, or in another
      // process holding the backup lock) means the same as the check above: skipped, not failed.
      if (isNuError(outcome.error) && outcome.error.code === 'BACKUP_RUNNING') {
        const skipped = await this.skip(outcome.error.message, options);
        this.notifyEnd(targets, skipped, options, start);
        return skipped;
      }
      const failed = await this.fail(outcome.error, startedAt, options, outcome.stateDurations);
      this.notifyEnd(targets, failed, options, start);
      return failed;
    }

    // A backup is known by its snapshot time everywhere (its name, its manifest, list): the record says the same.
    let recordError = await this.record({ status: 'success', at: outcome.snapshotAt, path: outcome.path }, settings);
    let pruned: PruneCandidate[] = [];
    let pruneError: Error | undefined;
    const retention = this.deps.retention;
    if (retention) {
      try {
        const outcome = await retention.apply(settings.directory, retentionPolicyOf(settings), this.now());
        pruned = outcome.removed;
        if (outcome.failed.length > 0) {
          throw new Error(outcome.failed.map((f) => `${f.path}: ${f.error}`).join('; '));
        }
      } catch (err) {
        pruneError = asError(err);
        if (options.unattended)
          this.addNotice(`The automatic backup succeeded, but pruning old backups failed: ${messageOf(err)}`);
      }
    }
    const offsite = settings.remote && this.deps.offsite ? await this.sendOffsite(outcome.path, settings, options) : {};
    recordError ??= offsite.recordError;
    const result: AutoRunResult = {
      status: 'success',
      path: outcome.path,
      sizeBytes: outcome.sizeBytes,
      durationMs: outcome.durationMs,
      stateDurations: outcome.stateDurations,
      pruned,
      pruneError,
      recordError,
      ...offsite,
    };
    this.notifyEnd(targets, result, options, start);
    return result;
  }

  private async sendOffsite(
    file: string,
    settings: AutoBackupSettings,
    options: RunOptions,
  ): Promise<{ remote?: OffsiteSent; remoteError?: Error; recordError?: Error }> {
    // Recorded before the first byte leaves: if this process dies during the upload, status can still tell.
    const started = await this.recordRemote({ status: 'sending', at: this.now(), place: settings.remote });
    options.onEvent?.({ type: 'step', text: `Sending the backup offsite to ${settings.remote}...` });
    try {
      const policy = retentionPolicyOf(settings);
      const remote = await this.deps.offsite!.send(file, settings.remote, {
        policy,
        now: this.now(),
        signal: options.signal,
        onEvent: options.onEvent,
      });
      const ended = await this.recordRemote({
        status: 'sent',
        at: this.now(),
        url: remote.url,
        objectKey: remote.objectKey,
      });
      return { remote, recordError: started ?? ended };
    } catch (err) {
      const remoteError = asError(err);
      const ended = await this.recordRemote({ status: 'failed', at: this.now(), error: messageOf(err) });
      if (options.unattended)
        this.addNotice(
          `The automatic backup succeeded, but sending it to ${settings.remote} failed: ${messageOf(err)}`,
        );
      return { remoteError, recordError: started ?? ended };
    }
  }

  /** Writes where the upload stands; a failure to write is returned (the upload goes on regardless). */
  private async recordRemote(record: RemoteRecord): Promise<Error | undefined> {
    try {
      await this.deps.config.write(storedFromState(stateAfterRemote(record)));
      return undefined;
    } catch (err) {
      return asError(err);
    }
  }

  /** The end of a run, to the configured URLs (in the background). */
  private notifyEnd(
    targets: NotifyTargets,
    result: AutoRunResult,
    options: RunOptions,
    start?: Promise<DeliveryResult | undefined>,
  ): void {
    this.notifier.finished(targets, backupReport(result, options.trigger, this.paths.database), start);
  }

  /** Remembers how the last notification went, for status (after the run: never while a backup holds the file). */
  private async recordNotify(outcome: NotifyOutcome): Promise<void> {
    const failures = outcome.results
      .filter((r) => !r.ok)
      .map(
        (r) =>
          `${r.channel} ${r.target}: ${r.error ?? 'not delivered'} (${r.attempts} attempt${r.attempts === 1 ? '' : 's'})`,
      );
    await this.deps.config.write(
      storedFromState({ notifyLastAt: outcome.at, notifyLastFailure: failures.join('; ') || undefined }),
    );
  }

  private async fail(
    error: Error,
    at: Date,
    options: RunOptions,
    stateDurations?: Record<string, number>,
  ): Promise<AutoRunResult> {
    // Stopped because nu-agent is closing (the REPL quit soon after a catch-up started): the run is still due,
    // so the next-run time stays where it was and the next start catches it up again.
    const stillDue = options.unattended === true && options.signal?.aborted === true;
    const recordError = await this.record({ status: 'failed', at, error: messageOf(error) }, undefined, stillDue);
    if (options.unattended) {
      this.addNotice(`The automatic backup at ${formatTime(at)} failed: ${messageOf(error)}. See /backup auto status.`);
    }
    return { status: 'failed', error, stateDurations, recordError };
  }

  private async skip(reason: string, options: RunOptions): Promise<AutoRunResult> {
    const recordError = await this.record({ status: 'skipped', at: this.now(), reason });
    if (options.unattended) this.addNotice(`The automatic backup at ${formatTime(this.now())} was skipped: ${reason}.`);
    return { status: 'skipped', reason, recordError };
  }

  /** Writes the run's result and the next run time in one transaction; a failure to write is returned. */
  private async record(run: RunRecord, known?: AutoBackupSettings, stillDue = false): Promise<Error | undefined> {
    try {
      const loaded = await this.load();
      const settings = known ?? loaded.settings;
      const nextRunAt = stillDue ? loaded.state.nextRunAt : this.nextRun(settings);
      const change = { ...stateAfterRun(loaded.state, run), nextRunAt };
      await this.deps.config.write(storedFromState(change));
      return undefined;
    } catch (err) {
      return asError(err);
    }
  }
}

/** The auto-backup's retention as the port's policy: the restic rules if any, on the schedule's calendar. */
export function retentionPolicyOf(settings: AutoBackupSettings): RetentionPolicy {
  const policy: RetentionPolicy = { retentionDays: settings.retentionDays, minKeep: settings.minKeep };
  if (hasRule(settings.keepRules)) policy.rules = settings.keepRules;
  if (settings.timeZone !== LOCAL_TIME_ZONE) policy.timeZone = settings.timeZone;
  return policy;
}
