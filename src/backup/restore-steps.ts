import fs from 'node:fs';
import path from 'node:path';
import { fileSize, realPathOf } from '../fs-facts.js';
import { asError, errnoOf, messages } from '../errors.js';
import { formatBytes } from '../format/size.js';
import { migrate } from '../store/migrate.js';
import { walPaths } from '../store/memory-store.js';
import { LATEST_SCHEMA_VERSION } from '../store/schema.js';
import {
  commitTempFile,
  fsyncDirectory,
  fsyncFile,
  removeStaleTempFiles,
  removeTempFile,
  createTempFile,
} from './durable-file.js';
import { diffTableFigures } from '../../workers/shared/table-figures.js';
import type { CopyFault } from '../../workers/shared/copy-engine-protocol.js';
import type { FactTypes } from '../../state-machines/backup-machine.js';
import { BackupRun } from './backup-steps.js';
import type { BackupDeps, StepTimeouts } from './backup-steps.js';
import { CopyEngine, CopyEngineError } from './copy-engine.js';
import { clearCopyJournal, writeCopyJournal } from './inflight.js';
import { readManifest } from './manifest.js';
import { clearRestoreJournal, replaceSettings, writeRestoreJournal } from './restore-journal.js';
import type { RestoreRequest } from './restore-types.js';
import type { StepTable } from './supervisor.js';
import type { BackupEvent, BackupManifest } from './types.js';
import type { StatFs } from './validate.js';

// The steps of a restore, run by the same supervisor as a backup (state-machines/backup-machine.ts, kind
// 'restore'). Pausing, holding, checkpointing, closing, reopening and resuming are the backup's own steps
// (a BackupRun inside this one); what differs is what moves: the verified backup is copied to a temporary file
// beside the live database, verified again there against its manifest, and renamed onto the live name
// (fsync, rename, fsync the directory), so a crash at any moment leaves either the old database or the restored
// one at that name, never a torn file.
//
// The previous database stays beside it (a hard link made before the rename, so it costs no space) until the
// restored one has been reopened and checked. If reopening or checking fails, the previous file is renamed back,
// any WAL the restored file left is removed (DuckDB would replay it into the wrong database), the previous one
// is reopened, and the step fails with "the previous database was put back". The machine then resumes as after
// any failure.

/** Fault injection for tests, through the service's options (never module mocking). */
export interface RestoreFaults {
  statfs?: StatFs | undefined;
  /** The copy engine writes this many bytes of the temporary copy, then fails like a full disk. */
  copy?: CopyFault | undefined;
  /** Runs on the temporary copy before it is verified (e.g. flips a byte). */
  afterCopy?: ((tempFile: string) => void) | undefined;
  /** Runs before the restored file is reopened; throw to make the reopen fail. */
  beforeReopenRestored?: (() => void) | undefined;
  /** Runs after the restored file was reopened, before it is checked; throw to fail the check half-way. */
  beforeCheck?: (() => Promise<void> | void) | undefined;
  /** Runs after the previous database was set aside and the journal written, just before the rename; throw to fail it. */
  beforeSwap?: (() => void) | undefined;
  /** Runs before each attempt (1, 2, …) to reopen whatever is at the live name; throw to make that attempt fail. */
  beforeReopen?: ((attempt: number) => void) | undefined;
}

/** Room kept beyond the backup's size for the filesystem's own blocks. */
const SPACE_MARGIN = 256 * 1024;

/**
 * `<db>.before-restore`, if nothing of value is at that name. A file there that is not a second name of the
 * live database is the memory from before an interrupted restore, which the start-up notice told the user to
 * keep: never replace it.
 */
export function refuseKeptPrevious(live: string): string {
  const previous = `${live}.before-restore`;
  let kept: fs.Stats;
  try {
    kept = fs.lstatSync(previous);
  } catch {
    return previous;
  }
  const current = fs.statSync(live);
  if (!kept.isFile() || kept.ino !== current.ino || kept.dev !== current.dev)
    throw messages.restoreKeptPrevious(previous);
  fs.rmSync(previous, { force: true }); // a link made by a restore that died before its swap
  return previous;
}

/** The backup to restore, as checked again just before anything is paused, and the live path it goes onto. */
export interface RestoreTarget {
  file: string;
  manifest: BackupManifest;
  live: string;
}

/** This machine's settings (appconfig), read inside the window, carried over into the restored database. */
export interface SettingsSnapshot {
  settings: { key: string; value: string }[];
}

/** What a restore's steps hand each other through the machine (state-machines/backup-machine.ts `facts`). */
export interface RestoreFacts extends FactTypes {
  target: RestoreTarget;
  snapshot: SettingsSnapshot;
  /** The verified backup copied beside the live database. */
  copy: { temp: string };
  /** A restore verifies in full before it goes live: it is never audited afterwards. */
  audit: never;
  /** The restored file at the live name; the previous one kept beside it until check() settles it. */
  placed: { path: string };
}

/**
 * What one restore holds while it runs, for its steps and for a roll-back whatever happens: the backup's own
 * run (lock, held database, workers), the copy threads, the temporary file, the previous database kept aside.
 */
export class RestoreRun {
  private readonly base: BackupRun;
  private engine: CopyEngine | undefined;
  private temp: string | undefined;
  /** The previous database, kept beside the live name from the swap until the restored one checks out. */
  private previous: string | undefined;
  private previousWals: [from: string, to: string][] = [];
  /** The settings journal was written for this restore's swap (restore-journal.ts). */
  private journalled = false;
  /** The restored file was renamed onto the live name. */
  private swapped = false;
  /** The restored database was reopened and checked: nothing to roll back any more. */
  settled = false;
  rolledBack = false;

  constructor(
    private readonly deps: BackupDeps,
    private readonly request: RestoreRequest,
    private readonly timeouts: StepTimeouts,
    private readonly faults: RestoreFaults = {},
    private readonly emit: (event: BackupEvent) => void = () => {},
  ) {
    const reopenFault = { beforeReopen: faults.beforeReopen };
    this.base = new BackupRun(deps, { trigger: request.trigger, signal: request.signal }, timeouts, reopenFault, emit);
  }

  get warnings(): Error[] {
    return this.base.warnings;
  }

  /** Aborted when the backup lock is found lost (the service cancels the run on it). */
  get lockLost(): AbortController {
    return this.base.lockLost;
  }

  private get live(): string {
    return this.deps.store.path;
  }

  steps(): StepTable<RestoreFacts> {
    const shared = this.base.steps();
    return {
      lock: shared.lock,
      validate: async () => this.validate(),
      flush: shared.flush,
      pause: shared.pause,
      hold: shared.hold,
      checkpoint: () => this.checkpoint(),
      close: shared.close,
      copy: ({ input, signal }) => this.transfer(input.target, signal),
      verify: ({ input, signal }) => this.verify(input, signal),
      replace: async ({ input }) => this.replace(input),
      discard: () => this.discard(),
      reopen: () => this.reopen(),
      check: ({ input }) => this.check(input.snapshot),
      resume: shared.resume,
    };
  }

  /** Refuses before anything is paused: the backup changed since it was verified, is the live file, is too new. */
  private validate(): RestoreTarget {
    const { file, manifest } = this.request;
    const real = realPathOf(file);
    if ([this.live, ...walPaths(this.live)].map(realPathOf).includes(real)) throw messages.restoreOntoLive(file);
    // The file and manifest as verified (a backup renamed together with its manifest is fine, as verify says).
    const now = readManifest(file);
    const size = fileSize(file);
    const changed = !now.ok
      ? now.reason
      : now.manifest.hash.value !== manifest.hash.value
        ? 'a different manifest'
        : size !== manifest.sizeBytes
          ? `size ${size ?? 'unknown'} bytes, the manifest says ${manifest.sizeBytes}`
          : undefined;
    if (changed) throw messages.backupVerifyFailed(file, `: it changed since it was verified (${changed})`);
    if (manifest.schemaVersion > LATEST_SCHEMA_VERSION)
      throw messages.schemaTooNew(file, manifest.schemaVersion, LATEST_SCHEMA_VERSION);
    refuseKeptPrevious(this.live);
    this.checkSpace(path.dirname(this.live), manifest.sizeBytes + SPACE_MARGIN);
    return { file, manifest, live: this.live };
  }

  private checkSpace(dir: string, need: number): void {
    let have: number;
    try {
      const s = (this.faults.statfs ?? fs.statfsSync)(dir);
      have = Number(s.bavail) * Number(s.bsize);
    } catch {
      return; // an unknown figure skips the check; it never means zero
    }
    if (Number.isFinite(have) && have < need) throw messages.restoreNoSpace(dir, formatBytes(need), formatBytes(have));
  }

  /** Only the checkpoint: the previous database's figures are not needed, so its rows are not read during the pause. */
  private async checkpoint(): Promise<SettingsSnapshot> {
    const held = this.base.held;
    if (!held) throw new Error('the database is not held');
    try {
      await held.checkpoint(this.timeouts.checkpointMs);
      return {
        settings: await held.all<{ key: string; value: string }>('SELECT key, value FROM appconfig ORDER BY key'),
      };
    } catch (err) {
      throw messages.backupCheckpointFailed(held.path, err);
    }
  }

  /** The backup to a temporary file beside the live database: same directory, so the rename is atomic. */
  private async transfer({ file, live }: RestoreTarget, signal: AbortSignal): Promise<RestoreFacts['copy']> {
    // Leftovers of a restore that crashed here earlier go first; this one is noted in the crash journal, so the
    // next start removes its temporary file if this process dies during the copy (inflight.ts).
    removeStaleTempFiles(path.dirname(live));
    const temp = createTempFile(live);
    this.temp = temp;
    writeCopyJournal(this.deps.paths, { temp, destination: live });
    this.engine ??= CopyEngine.start();
    try {
      await this.engine.copy({
        source: file,
        temp,
        signal,
        fault: this.faults.copy,
        onProgress: (copiedBytes, totalBytes) => this.emit({ type: 'progress', copiedBytes, totalBytes }),
      });
    } catch (err) {
      removeTempFile(temp);
      this.temp = undefined;
      if (err instanceof CopyEngineError && err.cancelled) throw err;
      throw messages.backupCopyFailed(temp, err, errnoOf(err) === 'ENOSPC');
    }
    this.faults.afterCopy?.(temp);
    return { temp };
  }

  /** The copy against the manifest, as read back from this disk: the file that will become the live one. */
  private async verify({ target, copy }: Pick<RestoreFacts, 'target' | 'copy'>, signal: AbortSignal): Promise<void> {
    const { manifest } = target;
    this.engine ??= CopyEngine.start();
    const verdict = await this.engine.verify(
      copy.temp,
      { sizeBytes: manifest.sizeBytes, hash: manifest.hash, tables: manifest.tables },
      signal,
    );
    if (!verdict.ok) {
      const failed = verdict.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      throw messages.backupVerifyFailed(target.file, ` once copied beside the database (${failed.join('; ')})`);
    }
  }

  /** Keeps the previous file under a second name, moves its WAL (if any) with it, renames the copy onto the live name. */
  private replace({ target, snapshot, copy }: Pick<RestoreFacts, 'target' | 'snapshot' | 'copy'>): { path: string } {
    const { live } = target;
    this.base.lock?.assertHeld(); // never swap the database once another process may own it
    const previous = refuseKeptPrevious(live);
    try {
      fs.linkSync(live, previous);
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') throw messages.restoreKeptPrevious(previous);
      // No hard links on this filesystem: a real copy, made durable like any other.
      fs.copyFileSync(live, previous, fs.constants.COPYFILE_EXCL);
      fsyncFile(previous);
    }
    this.previous = previous;
    for (const wal of walPaths(live)) {
      if (!fs.existsSync(wal)) continue;
      const aside = previous + wal.slice(live.length);
      fs.renameSync(wal, aside);
      this.previousWals.push([aside, wal]);
    }
    // This machine's settings, for the next start to apply should this process die before check() does.
    writeRestoreJournal(live, copy.temp, snapshot.settings);
    this.journalled = true;
    this.faults.beforeSwap?.();
    commitTempFile(copy.temp, live);
    this.temp = undefined;
    this.swapped = true;
    clearCopyJournal(this.deps.paths);
    return { path: live };
  }

  /** After a failure or cancel before the restored file is in place: removes the copy; the live file is untouched. */
  private async discard(): Promise<void> {
    if (this.temp) removeTempFile(this.temp);
    this.temp = undefined;
    if (this.journalled && !this.swapped) this.clearJournal();
    clearCopyJournal(this.deps.paths);
    if (!this.swapped) this.forgetPrevious();
  }

  private async reopen(): Promise<void> {
    if (!this.swapped) return this.base.reopen(); // the previous database never left its place
    try {
      this.faults.beforeReopenRestored?.();
      await this.base.reopen();
    } catch (err) {
      await this.rollBack(err, () => this.base.reopen());
    }
  }

  /** The reopened database holds exactly the backup's rows; then it is brought to this version's schema. */
  private async check({ settings }: SettingsSnapshot): Promise<void> {
    if (!this.swapped) return;
    const held = this.base.held;
    if (!held) throw new Error('the database is not held');
    try {
      await this.faults.beforeCheck?.();
      const differ = diffTableFigures(this.request.manifest.tables, await held.tableFigures());
      if (differ.length > 0)
        throw messages.restoreMismatch(this.request.shownAs ?? this.request.file, `tables ${differ.join(', ')}`);
      await migrate(held, this.live, true);
      await replaceSettings(held, settings);
      this.clearJournal();
    } catch (err) {
      await held.close().catch(() => undefined); // a WAL it leaves is removed by the roll-back
      await this.rollBack(err, () => this.base.reopen());
    }
    this.settled = true;
    this.forgetPrevious();
  }

  /**
   * A restore brings back the memory (conversations, exchanges, summaries, embeddings, run history), not the
   * settings of the machine it runs on: the auto-backup schedule, its directory and last-run state, debug. Those
   * are put back as they were just before the restore (in check(), or at the next start if this process dies
   * after the swap: restore-journal.ts), so restoring last week's memory does not silently revert the schedule
   * (or make the scheduler believe an old run was its last).
   */
  private clearJournal(): void {
    clearRestoreJournal(this.live);
    this.journalled = false;
  }

  /** Puts the previous database back at the live name and reopens it; always throws, saying what happened. */
  private async rollBack(cause: unknown, reopenShared: () => Promise<void>): Promise<never> {
    const previous = this.previous;
    if (!previous) throw cause;
    try {
      this.emit({ type: 'step', text: 'Restore failed; putting the previous database back...' });
      for (const wal of walPaths(this.live)) fs.rmSync(wal, { force: true });
      fs.renameSync(previous, this.live);
      for (const [aside, wal] of this.previousWals) fs.renameSync(aside, wal);
      fsyncDirectory(path.dirname(this.live));
      this.clearJournal(); // its settings are the previous database's own
      this.previous = undefined;
      this.previousWals = [];
      await reopenShared();
    } catch (err) {
      throw messages.restoreRollbackFailed(this.live, this.previous ?? this.live, undefined, err);
    }
    this.rolledBack = true;
    throw messages.restoreRolledBack(this.request.shownAs ?? this.request.file, cause);
  }

  private forgetPrevious(): void {
    if (this.previous) fs.rmSync(this.previous, { force: true });
    for (const [aside] of this.previousWals) fs.rmSync(aside, { force: true });
    this.previous = undefined;
    this.previousWals = [];
  }

  /**
   * If the supervisor itself broke. Before the swap: what a discard removes (the copy, the journals, the second
   * name of the live file), and the live database, never moved, reopened. After it, until the restored database
   * checked out: the previous database back at the live name and reopened. If that fails, the database stays
   * closed (the file at the live name may be the unchecked one) and the roll-back's error, which says where the
   * previous database is, is the one the user reads.
   */
  async emergencyCleanup(): Promise<Error | undefined> {
    if (!this.swapped) await this.discard().catch(() => undefined);
    if (!this.swapped || this.settled || this.rolledBack) return this.base.emergencyCleanup();
    const held = this.base.held;
    if (held?.isOpen) await held.close().catch(() => undefined); // a WAL it leaves is removed by the roll-back
    const failed = await this.rollBack(new Error('the supervisor stopped'), () => this.base.reopen()).catch(
      (err: unknown) => (this.rolledBack ? undefined : asError(err)),
    );
    const base = await this.base.emergencyCleanup(failed === undefined);
    return failed ?? base;
  }

  async finish(): Promise<void> {
    await this.engine?.destroy().catch(() => undefined);
    this.engine = undefined;
    await this.base.finish();
  }
}
