import type { TableFigures } from '../../workers/copy-engine/table-figures.js';

// The contract between whoever asks for a backup (the /backup command, `nu-agent backup`, the scheduler, the
// control socket) and the service that runs it through the supervisor machine.

export type BackupTrigger = 'manual' | 'cli' | 'auto' | 'external';

export interface BackupRequest {
  /** As typed by the user (quotes already removed); undefined means the default name in the working directory. */
  destination?: string | undefined;
  /** Directory the default name goes into when destination is undefined (auto-backup's backup directory). */
  directory?: string | undefined;
  force?: boolean;
  trigger: BackupTrigger;
  /** Cancels the backup (Ctrl-C, a timeout): the supervisor takes its path back through reopening and resuming. */
  signal?: AbortSignal | undefined;
  /** Step lines, progress and (in debug mode) state transitions, for whoever shows them. */
  onEvent?: ((event: BackupEvent) => void) | undefined;
  /** How long to wait for the workers to pause; the service's default when undefined (auto-backup sets it). */
  pauseTimeoutMs?: number | undefined;
  /** How long to wait for the workers to resume and answer a health check; the service's default when undefined. */
  resumeTimeoutMs?: number | undefined;
  /**
   * Leave the workers paused at the end (the database is released as usual): a restore's safety backup, so
   * that nothing is written between its snapshot and the swap (restore.ts resumes them).
   */
  keepWorkersPaused?: boolean | undefined;
  /**
   * The path the run is recorded under when the copy is only a step (an s3:// URL, or the .age file of an
   * encrypted local backup): the record names where the backup ends up, not its private staging copy.
   */
  recordAs?: string | undefined;
}

export type CopyKind = 'cloned' | 'copied';

export type BackupEvent =
  | { type: 'step'; text: string }
  | { type: 'progress'; copiedBytes: number; totalBytes: number }
  | { type: 'transition'; from: string; to: string; at: Date; msInPrevious: number };

export interface BackupSuccess {
  ok: true;
  path: string;
  manifestPath: string;
  sizeBytes: number;
  hashAlgorithm: string;
  hash: string;
  /** `cloned`: a reflink clone sharing the database file's blocks (XFS, btrfs, APFS); `copied`: bytes copied. */
  copy: CopyKind;
  snapshotAt: Date;
  durationMs: number;
  stateDurations: Record<string, number>;
  /** Things that went wrong without spoiling the backup (a worker that did not come back, a run not recorded). */
  warnings?: Error[] | undefined;
}

export interface BackupFailure {
  ok: false;
  /** The error to show (a NuError with a hint where we know what to do). */
  error: Error;
  /** Where things stand when it matters, e.g. the database could not be reopened. */
  stateDurations: Record<string, number>;
  /** Further errors after the first (a failed resume after a failed copy). */
  warnings?: Error[] | undefined;
}

export type BackupOutcome = BackupSuccess | BackupFailure;

/** The JSON manifest written beside every backup (`<backup>.manifest.json`). */
export interface BackupManifest {
  format: 'nu-agent-backup';
  formatVersion: 1;
  appVersion: string;
  duckdbVersion: string;
  createdAt: string;
  snapshotAt: string;
  sourcePath: string;
  fileName: string;
  sizeBytes: number;
  hash: { algorithm: string; value: string };
  /** How the file was made (absent in manifests written before clones were told apart). */
  copy?: CopyKind;
  schemaVersion: number;
  tables: TableFigures;
  trigger: BackupTrigger;
  /**
   * An age-encrypted backup (`--encrypt`, src/offsite/): the file on disk is `stored.key` (`<fileName>.age`)
   * beside the manifest, and sizeBytes/hash above are the plaintext's. Absent (or null) for a plain backup.
   */
  encryption?: { format: 'age'; mode: 'x25519' | 'scrypt'; recipients: number } | null | undefined;
  stored?: { key: string; sizeBytes: number; hash: { algorithm: 'sha256'; value: string } } | undefined;
  /** Re-verifications after the backup was made (scheduled or by hand), oldest first; absent until the first. */
  verifications?: VerificationRecord[] | undefined;
}

/** One re-verification of a stored backup: the hash re-read and a read-only open reading every row. */
export interface VerificationRecord {
  at: string;
  ok: boolean;
  /** What failed, in words; absent when ok. */
  problem?: string | undefined;
  durationMs: number;
}

export const MANIFEST_SUFFIX = '.manifest.json';
/** The suffix of an age-encrypted backup's file, as the `age` tool names its output. */
export const AGE_SUFFIX = '.age';

/** True when the manifest describes an age-encrypted backup (its file is `stored.key`, not `fileName`). */
export const isEncrypted = (m: BackupManifest | undefined): boolean => Boolean(m?.encryption && m.stored);
export const manifestPathFor = (backupPath: string) => backupPath + MANIFEST_SUFFIX;
