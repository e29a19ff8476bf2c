import fs from 'node:fs';
import path from 'node:path';
import type { App } from '../app.js';
import { asError, errnoOf, isNuError, messages } from '../errors.js';
import type { HeldDatabase } from '../store/memory-store.js';
import { commitTempFile, createTempFile, removeStaleTempFiles, removeTempFile } from './durable-file.js';
import type { TableCounts, TableFigures } from '../../workers/shared/table-figures.js';
import type { CopyFault } from '../../workers/shared/copy-engine-protocol.js';
import type { FactTypes } from '../../state-machines/backup-machine.js';
import { acquireBackupLock } from './backup-lock.js';
import type { BackupLock } from './backup-lock.js';
import { configuredBackupDir } from './backup-dirs.js';
import { CopyEngine, CopyEngineError } from './copy-engine.js';
import { resolveDestination } from './destination.js';
import { clearCopyJournal, writeCopyJournal } from './inflight.js';
import { writeManifest } from './manifest.js';
import type { BackupEvent, BackupManifest, BackupRequest, CopyKind } from './types.js';
import type { StepTable } from './supervisor.js';
import { validateBackup } from './validate.js';
import type { StatFs, ValidatedBackup } from './validate.js';

// The steps of one backup, each the body of an invoked actor of the supervisor (state-machines/backup-machine.ts)
// and each doing exactly one thing against the App. A step receives what earlier steps produced (the destination,
// the snapshot taken in the window, the copy, the audit) as its input from the machine and returns what it
// produced (BackupFacts); the run object keeps only what must be released or removed however the run ends.
//
// Inside the pause window only what needs the live file closed: FORCE CHECKPOINT, the row count of each table
// (metadata, milliseconds), close, clone or copy (hashing the source beside a byte copy), and the cheap checks of
// `verifying`. Reading every row of the copy and re-reading its hash (`auditing`) come after resuming, while
// the copy waits at its hidden temporary name: the workers no longer wait for two full reads of the file.

export const HASH_ALGORITHM = 'xxh3-128';

export type BackupDeps = Pick<App, 'store' | 'workers' | 'paths' | 'version'>;

/** Fault injection for tests, through the service's options (never module mocking). */
export interface BackupFaults {
  statfs?: StatFs;
  /** Runs on the held, open database before FORCE CHECKPOINT; throw to fail the checkpoint. */
  beforeCheckpoint?: () => Promise<void> | void;
  /** The copy engine writes this many bytes, then fails like a full disk. */
  copy?: CopyFault;
  /** Runs on the finished temporary file before verification (e.g. flips a byte). */
  afterCopy?: (tempFile: string) => void;
  /** Runs at the start of the audit, after the workers resumed (e.g. flips a byte, or uses the live database). */
  beforeAudit?: (tempFile: string) => Promise<void> | void;
  /** Runs before each reopen attempt (1, 2, …); throw to make that attempt fail. */
  beforeReopen?: (attempt: number) => void;
}

export interface StepTimeouts {
  pauseMs: number;
  holdMs: number;
  checkpointMs: number;
  resumeMs: number;
  /** Waits before each reopen attempt after the first. */
  reopenDelaysMs: number[];
}

/** How often a reopen tries before it fails: once, then once after each delay. */
export const reopenAttempts = (timeouts: StepTimeouts): number => 1 + timeouts.reopenDelaysMs.length;

/** Checked before anything is paused: where the backup goes (`defaultName`: we chose the name). */
export type BackupTarget = ValidatedBackup & { defaultName: boolean };

/** Read from the held, quiescent database inside the window: what the copy is checked against. */
export interface WindowSnapshot {
  /** The row count of each table. */
  counts: TableCounts;
  schemaVersion: number;
  duckdbVersion: string;
  at: Date;
}

/** The copy at its temporary name. `hash` is the source's for a byte copy; a clone's is read by the audit. */
export interface CopiedFile {
  temp: string;
  bytes: number;
  hash: string | undefined;
  method: CopyKind;
}

/** What the audit read from the copy after resuming: its hash and every row's figures (the manifest's). */
export interface AuditedCopy {
  hash: string;
  figures: TableFigures;
}

export interface PlacedBackup {
  path: string;
  manifestPath: string;
}

/** What a backup's steps hand each other through the machine (state-machines/backup-machine.ts `facts`). */
export interface BackupFacts extends FactTypes {
  target: BackupTarget;
  snapshot: WindowSnapshot;
  copy: CopiedFile;
  audit: AuditedCopy;
  placed: PlacedBackup;
}

/**
 * What one backup holds while it runs, for its steps and for the cleanup whatever happens: the lock, the held
 * database, the copy threads, what it wrote (the temporary file, a manifest, directories). What the steps
 * produce for each other goes through the machine instead (BackupFacts).
 */
export class BackupRun {
  lock: BackupLock | undefined;
  /** Aborted when the backup lock is found lost while this run holds it (backup-lock.ts). */
  readonly lockLost = new AbortController();
  held: HeldDatabase | undefined;
  pauseRequested = false;
  readonly warnings: Error[] = [];
  private engine: CopyEngine | undefined;
  /** The temporary file this run wrote and has not yet put in place or removed. */
  private temp: string | undefined;
  private manifestWritten: string | undefined;
  /** Where commit() put the backup: from then on it is a verified backup at its final name, never removed. */
  private placedAt: string | undefined;
  private createdDirs: string[] = [];
  /** Steps the supervisor left on a cancel; cleanup waits for them before removing what they wrote. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly deps: BackupDeps,
    private readonly request: BackupRequest,
    private readonly timeouts: StepTimeouts,
    private readonly faults: BackupFaults = {},
    private readonly emit: (event: BackupEvent) => void = () => {},
  ) {}

  steps(): StepTable<BackupFacts> {
    return {
      lock: () => this.takeLock(),
      validate: () => this.validate(),
      flush: () => this.flush(),
      pause: () => this.pause(),
      hold: () => this.hold(),
      checkpoint: () => this.checkpoint(),
      close: () => this.close(),
      copy: ({ input, signal }) => this.track(this.transfer(input.target, signal)),
      verify: async ({ input }) => this.verify(input),
      discard: () => this.discard(),
      reopen: () => this.reopen(),
      check: async () => {}, // a backup has nothing to check in the reopened database
      resume: () => this.resume(),
      audit: ({ input, signal }) => this.track(this.audit(input, signal)),
      commit: async ({ input }) => this.commit(input),
    };
  }

  private async takeLock(): Promise<void> {
    this.lock = await acquireBackupLock(this.deps.paths.backupLock);
    this.lock.onLost((err) => this.lockLost.abort(err)); // the service cancels the run on this signal
  }

  private async validate(): Promise<BackupTarget> {
    const { path: destination, defaultName } = resolveDestination({
      destination: this.request.destination,
      directory: this.request.directory,
    });
    const target = validateBackup({
      source: this.deps.store.path,
      destination,
      force: this.request.force ?? false,
      statfs: this.faults.statfs,
      // Only nu-agent's own backup directories are made when missing: elsewhere a typo is refused.
      ownDirectories: [
        this.deps.paths.defaultBackupDir,
        ...(this.request.directory ? [this.request.directory] : []),
        ...(await configuredBackupDir(this.deps.store, this.deps.paths).then(
          (d) => [d],
          () => [],
        )),
      ],
      paths: this.deps.paths,
    });
    this.engine ??= CopyEngine.start(); // its threads load while the workers pause
    return { ...target, defaultName };
  }

  /**
   * A plain CHECKPOINT while the workers still run, so that the FORCE CHECKPOINT inside the pause only has what
   * was written since: a checkpoint's time grows with the write-ahead log (seconds after a busy hour, measured
   * by `npm run bench`), and this one is outside the pause window. It goes through the store's queue like any
   * operation, so it never meets another transaction on our connection. A failure only costs time later: the
   * machine goes on to pausing either way.
   */
  async flush(): Promise<void> {
    await this.deps.store.flush();
  }

  private async pause(): Promise<void> {
    this.pauseRequested = true;
    try {
      await this.deps.workers.pauseAll();
      await this.deps.workers.waitUntilAllPaused(this.request.pauseTimeoutMs ?? this.timeouts.pauseMs);
    } catch (err) {
      throw messages.backupPauseFailed(err);
    }
  }

  private async hold(): Promise<void> {
    try {
      this.held = await this.deps.store.hold(this.timeouts.holdMs);
    } catch (err) {
      throw isNuError(err) ? err : messages.backupHoldFailed(err);
    }
  }

  private async checkpoint(): Promise<WindowSnapshot> {
    const held = this.requireHeld();
    try {
      await this.faults.beforeCheckpoint?.();
      await held.checkpoint(this.timeouts.checkpointMs);
      const counts = await held.tableCounts();
      const [version] = await held.all<{ v: number | null; d: string }>(
        `SELECT (SELECT max(version) FROM schema_version) AS v, version() AS d`,
      );
      return {
        counts,
        schemaVersion: Number(version?.v ?? 0),
        duckdbVersion: String(version?.d ?? 'unknown'),
        at: new Date(),
      };
    } catch (err) {
      throw messages.backupCheckpointFailed(held.path, err);
    }
  }

  private async close(): Promise<void> {
    await this.requireHeld().close(); // rejects with walRemains if a WAL is left beside the file
  }

  private async transfer(target: BackupTarget, signal: AbortSignal): Promise<CopiedFile> {
    const destination = target.destination;
    this.makeDirectory(target, path.dirname(destination));
    removeStaleTempFiles(path.dirname(destination));
    const temp = createTempFile(destination);
    this.temp = temp;
    writeCopyJournal(this.deps.paths, { temp, destination });
    this.engine ??= CopyEngine.start();
    // The hash of the source runs beside the copy; if either fails, the other is stopped.
    const local = new AbortController();
    const stop = () => local.abort();
    signal.addEventListener('abort', stop, { once: true });
    let copied: CopiedFile;
    try {
      // Both settle before this step does, so nothing still writes the temporary file once it is removed.
      const [copy, hashed] = await Promise.allSettled([
        this.engine
          .copy({
            source: this.deps.store.path,
            temp,
            signal: local.signal,
            fault: this.faults.copy,
            onProgress: (copiedBytes, totalBytes) => this.emit({ type: 'progress', copiedBytes, totalBytes }),
          })
          .then(
            (copy) => {
              // A clone shares the source's blocks: nothing to hash while the file is closed (the audit hashes it).
              if (copy.method === 'clone') stop();
              return copy;
            },
            (err: unknown) => {
              stop();
              throw err;
            },
          ),
        this.engine.hashBesideCopy(this.deps.store.path, HASH_ALGORITHM, local.signal).catch((err: unknown) => {
          stop();
          throw err;
        }),
      ]);
      // The cause, not the cancel it caused in the other task.
      const failures = [copy, hashed].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      const cause = failures.find((f) => !(f instanceof CopyEngineError && f.cancelled)) ?? failures[0];
      if (copy.status === 'rejected') throw cause;
      if (copy.value.method === 'clone') {
        copied = { temp, bytes: copy.value.bytes, hash: undefined, method: 'cloned' };
      } else {
        if (cause !== undefined || hashed.status === 'rejected') throw cause;
        const hash = hashed.value;
        if (hash.bytes !== copy.value.bytes)
          throw new Error(`read ${hash.bytes} bytes to hash, copied ${copy.value.bytes}`);
        copied = { temp, bytes: copy.value.bytes, hash: hash.hash, method: 'copied' };
      }
    } catch (err) {
      removeTempFile(temp);
      if (err instanceof CopyEngineError && err.cancelled) throw err;
      throw messages.backupCopyFailed(destination, err, errnoOf(err) === 'ENOSPC');
    } finally {
      signal.removeEventListener('abort', stop);
    }
    this.faults.afterCopy?.(temp);
    return copied;
  }

  /**
   * What must hold before the database reopens, all known already (no file is read): the copy is complete, the
   * source hash was taken while the file was closed (or the copy is a clone). What the copy holds is proven by
   * the audit after resuming.
   */
  private verify({ target, copy }: Pick<BackupFacts, 'target' | 'snapshot' | 'copy'>): void {
    const problems: string[] = [];
    const size = fs.statSync(copy.temp).size;
    const source = this.deps.store.fileSize();
    if (size !== copy.bytes || size !== source) problems.push(`size: ${size} bytes, the database has ${source}`);
    if (copy.method === 'copied' && !copy.hash) problems.push('hash: the source was not hashed');
    if (problems.length > 0) throw messages.backupCopyUnverified(target.destination, problems.join('; '));
  }

  /**
   * After resuming, with the workers running: the copy's hash re-read (against the source hash; a clone's is
   * read here and recorded) and every row of every table read, the counts compared with those taken in the
   * window. The figures read become the manifest's. The copy stays at its temporary name until this passes.
   */
  private async audit(
    { target, snapshot, copy }: Pick<BackupFacts, 'target' | 'snapshot' | 'copy'>,
    signal: AbortSignal,
  ): Promise<AuditedCopy> {
    await this.faults.beforeAudit?.(copy.temp);
    this.engine ??= CopyEngine.start();
    const verdict = await this.engine.verify(
      copy.temp,
      { sizeBytes: copy.bytes, hash: { algorithm: HASH_ALGORITHM, value: copy.hash }, tables: snapshot.counts },
      signal,
    );
    if (!verdict.ok || !verdict.actual.hash || !verdict.actual.tables) {
      const details = verdict.checks
        .filter((c) => !c.ok)
        .map((c) => `${c.name}: ${c.detail}`)
        .join('; ');
      throw messages.backupCopyUnverified(target.destination, details || 'the copy could not be read in full');
    }
    return { hash: verdict.actual.hash, figures: verdict.actual.tables };
  }

  /** Manifest first, then the rename: a full disk stops us before an old backup at that name is replaced. */
  private commit({ target, snapshot, copy, audit }: Omit<BackupFacts, 'placed'>): PlacedBackup {
    this.lock?.assertHeld(); // nothing reaches a final name once another process may own this database
    const destination = finalName(target, snapshot.at);
    const manifest: BackupManifest = {
      format: 'nu-agent-backup',
      formatVersion: 1,
      appVersion: this.deps.version,
      duckdbVersion: snapshot.duckdbVersion,
      // One time per backup: created is the snapshot's time, the moment whose content the file holds.
      createdAt: snapshot.at.toISOString(),
      snapshotAt: snapshot.at.toISOString(),
      sourcePath: this.deps.store.path,
      fileName: path.basename(destination),
      sizeBytes: copy.bytes,
      hash: { algorithm: HASH_ALGORITHM, value: audit.hash },
      copy: copy.method,
      schemaVersion: snapshot.schemaVersion,
      tables: audit.figures,
      trigger: this.request.trigger,
    };
    let manifestPath: string;
    try {
      manifestPath = writeManifest(destination, manifest);
      this.manifestWritten = manifestPath;
      commitTempFile(copy.temp, destination);
    } catch (err) {
      // Renamed but the directory could not be synced: that file is ours and unconfirmed, so it goes too.
      if (!fs.existsSync(copy.temp) && fs.existsSync(destination)) fs.rmSync(destination, { force: true });
      throw messages.backupCommitFailed(destination, err);
    }
    this.temp = undefined;
    this.placedAt = destination;
    clearCopyJournal(this.deps.paths);
    return { path: destination, manifestPath };
  }

  /** After a failure or cancel: waits for the step that was left, then removes what this run wrote. */
  private async discard(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    if (this.temp) removeTempFile(this.temp);
    this.temp = undefined;
    if (this.manifestWritten && !this.placedAt) fs.rmSync(this.manifestWritten, { force: true });
    for (const dir of this.createdDirs.reverse()) rmdirIfEmpty(dir);
    this.createdDirs = [];
    clearCopyJournal(this.deps.paths);
  }

  /** Opens the live file again (with retries); a restore also uses it to reopen after its swap or roll-back. */
  async reopen(): Promise<void> {
    const held = this.requireHeld();
    const delays = [0, ...this.timeouts.reopenDelaysMs];
    let last: unknown;
    for (let attempt = 1; attempt <= delays.length; attempt++) {
      if (delays[attempt - 1]) await sleep(delays[attempt - 1]!);
      try {
        this.faults.beforeReopen?.(attempt);
        await held.reopen();
        return;
      } catch (err) {
        last = err;
      }
    }
    // A backup reopens before its commit, so no backup is in place yet to name (the service names it later).
    throw messages.backupReopenFailed(held.path, undefined, reopenAttempts(this.timeouts), last);
  }

  /** Opens the gate and resumes the workers; a worker that does not come back is a warning, not a failed backup. */
  private async resume(): Promise<void> {
    this.held?.release();
    this.held = undefined;
    if (!this.pauseRequested || this.request.keepWorkersPaused) return;
    try {
      await this.deps.workers.resumeAll(this.request.resumeTimeoutMs ?? this.timeouts.resumeMs);
    } catch (err) {
      this.warnings.push(messages.backupResumeFailed(err));
    } finally {
      // Resumed once is enough: a last resort after this must not ping workers at work (a slow answer recycles one).
      this.pauseRequested = false;
    }
  }

  /** The backup this run put in place, if it got that far (the machine may have broken before it kept the fact). */
  get kept(): string | undefined {
    return this.placedAt;
  }

  get liveFilePath(): string {
    return this.deps.store.path;
  }

  /** The size of the database file now (after the checkpoint it holds everything). */
  liveFileBytes(): number {
    return this.deps.store.fileSize();
  }

  /**
   * Last resort if the supervisor itself broke: never leave the gate shut or the workers parked. Resolves to the
   * reopen's failure if the database could not be opened again (the error the user must read), and leaves it
   * closed when told not to reopen it (a restore whose previous database could not be put back).
   */
  async emergencyCleanup(reopen = true): Promise<Error | undefined> {
    await this.discard().catch(() => undefined);
    let atRisk: Error | undefined;
    if (reopen && this.held && !this.held.isOpen) {
      atRisk = await this.reopen().then(
        () => undefined,
        (err: unknown) => asError(err),
      );
    }
    await this.resume().catch(() => undefined);
    return atRisk;
  }

  /** Releases what the run holds besides the database: the lock and the copy threads. */
  async finish(): Promise<void> {
    await this.engine?.destroy().catch(() => undefined);
    this.engine = undefined;
    await this.lock?.release();
    this.lock = undefined;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  private makeDirectory(target: BackupTarget, dir: string): void {
    if (!target.createDirectory || fs.existsSync(dir)) return;
    const missing: string[] = [];
    for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.createdDirs.push(...missing);
  }

  private requireHeld(): HeldDatabase {
    if (!this.held) throw new Error('the database is not held');
    return this.held;
  }
}

function rmdirIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty (someone else's files) or already gone
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A backup has one time, its snapshot's: a name we chose before the pause is chosen again from that
 * time, in the same directory (where the temporary copy is), so the name, the manifest and every listing agree.
 */
function finalName(target: BackupTarget, snapshotAt: Date): string {
  if (!target.defaultName) return target.destination;
  return resolveDestination({ directory: path.dirname(target.destination), now: snapshotAt }).path;
}
