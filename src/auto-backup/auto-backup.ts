import fs from 'node:fs';
import type { BackupService } from '../app.js';
import type { BackupEvent } from '../backup/types.js';
import { isNuError, messageOf } from '../errors.js';
import type { DataPaths } from '../paths.js';
import type { AutoBackupConfigStore } from './config-store.js';
import type { PruneCandidate, RetentionPort } from './retention-port.js';
import { nextRunAfter } from './schedule.js';
import { prepareSetting, settingsFromStored } from './settings.js';
import type { AutoBackupSettings, LoadedSettings, SettingName } from './settings.js';
import { stateAfterRun, stateFromStored, storedFromState } from './state.js';
import type { AutoBackupState, RunRecord } from './state.js';

// One automatic backup, start to finish: refuse to overlap, run through the one BackupService (the supervisor),
// record what happened, and prune only after a success. The scheduler, the control socket, `/backup auto run`
// and `nu-agent auto-backup run` all come here, so they cannot differ in what they record.
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
      pruned: PruneCandidate[];
      pruneError?: Error | undefined;
      recordError?: Error | undefined;
    }
  | { status: 'failed'; error: Error; recordError?: Error | undefined }
  | { status: 'skipped'; reason: string; recordError?: Error | undefined };

export interface RunOptions {
  trigger: AutoTrigger;
  onEvent?: ((event: BackupEvent) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Nobody is watching (a scheduled or catch-up run): a failure becomes a notice at the next prompt. */
  unattended?: boolean;
}

export interface AutoBackupDeps {
  config: AutoBackupConfigStore;
  backups: BackupService;
  paths: DataPaths;
  /** Absent until backup management provides it; then status cannot count and nothing is pruned. */
  retention?: RetentionPort | undefined;
  /** The clock seam: every "now" of the auto-backup comes from here. */
  now?: () => Date;
}

export class AutoBackup {
  readonly now: () => Date;
  private running: Promise<AutoRunResult> | undefined;
  private readonly notices: string[] = [];
  private readonly changeListeners: (() => void)[] = [];

  constructor(private readonly deps: AutoBackupDeps) {
    this.now = deps.now ?? (() => new Date());
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
    this.notices.push(text);
  }

  /** Runs one automatic backup now, unless one is already running here (then it is recorded as skipped). */
  async run(options: RunOptions): Promise<AutoRunResult> {
    if (this.running) return this.skip('an automatic backup was already running', options);
    if (this.deps.backups.busy) return this.skip('another backup or a restore was running', options);
    const running = this.runExclusive(options);
    this.running = running;
    try {
      return await running;
    } finally {
      this.running = undefined;
    }
  }

  /** Waits for a run in progress, if any (shutdown). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async runExclusive(options: RunOptions): Promise<AutoRunResult> {
    const startedAt = this.now();
    let settings: AutoBackupSettings;
    try {
      settings = (await this.load()).settings;
      fs.mkdirSync(settings.directory, { recursive: true, mode: 0o700 });
    } catch (err) {
      return this.fail(err instanceof Error ? err : new Error(String(err)), startedAt, options);
    }
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
        return this.skip(outcome.error.message, options);
      }
      return this.fail(outcome.error, startedAt, options);
    }

    const recordError = await this.record({ status: 'success', at: startedAt, path: outcome.path }, settings);
    let pruned: PruneCandidate[] = [];
    let pruneError: Error | undefined;
    const retention = this.deps.retention;
    if (retention) {
      try {
        const policy = { retentionDays: settings.retentionDays, minKeep: settings.minKeep };
        const outcome = await retention.apply(settings.directory, policy, this.now());
        pruned = outcome.removed;
        if (outcome.failed.length > 0) {
          throw new Error(outcome.failed.map((f) => `${f.path}: ${f.error}`).join('; '));
        }
      } catch (err) {
        pruneError = err instanceof Error ? err : new Error(String(err));
        if (options.unattended)
          this.addNotice(`The automatic backup succeeded, but pruning old backups failed: ${messageOf(err)}`);
      }
    }
    return {
      status: 'success',
      path: outcome.path,
      sizeBytes: outcome.sizeBytes,
      durationMs: outcome.durationMs,
      pruned,
      pruneError,
      recordError,
    };
  }

  private async fail(error: Error, at: Date, options: RunOptions): Promise<AutoRunResult> {
    // Stopped because nu-agent is closing (the REPL quit soon after a catch-up started): the run is still due,
    // so the next-run time stays where it was and the next start catches it up again.
    const stillDue = options.unattended === true && options.signal?.aborted === true;
    const recordError = await this.record({ status: 'failed', at, error: messageOf(error) }, undefined, stillDue);
    if (options.unattended) {
      this.addNotice(
        `The automatic backup at ${at.toLocaleString()} failed: ${messageOf(error)}. See /backup auto status.`,
      );
    }
    return { status: 'failed', error, recordError };
  }

  private async skip(reason: string, options: RunOptions): Promise<AutoRunResult> {
    const recordError = await this.record({ status: 'skipped', at: this.now(), reason });
    if (options.unattended) this.addNotice(`An automatic backup was skipped: ${reason}.`);
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
      return err instanceof Error ? err : new Error(String(err));
    }
  }
}
