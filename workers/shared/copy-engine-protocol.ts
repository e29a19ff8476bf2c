import type { MessagePort } from 'node:worker_threads';
import type { BlockCheckResult } from './duckdb-file/block-check.js';
import type { HashAlgorithm } from './file-hash.js';
import type { TableCounts, TableFigures } from './table-figures.js';

// The copy engine's protocol: the only module both the main thread (src/backup/copy-engine.ts) and the piscina
// tasks (engine.task.ts) import. Tasks return plain result objects, never throw across the thread: Comlink and
// structured cloning keep only message/name/stack of an Error (Node 20), and the main side needs the
// errno code to say what went wrong.

/** Sent by the copy task through a Comlink proxy; the task's returned value is final (a late message can follow). */
export interface ProgressSink {
  progress(copiedBytes: number, totalBytes: number): void;
}

/**
 * Cancelling: one Int32 in a SharedArrayBuffer, set by the main thread when the step's AbortSignal fires. A task
 * blocked in a synchronous loop cannot receive a message, but it can read shared memory between chunks.
 */
export const CANCEL_INDEX = 0;

/** Fault injection for tests: the copy stops with an error once this many bytes are written. */
/**
 * Faults a test injects through the copy task (the seam; never in normal runs): a disk that fills up after
 * failAtByte bytes, or a write-back that reports an error (errno code, e.g. EIO), which a real disk does only
 * when it fails.
 */
export type CopyFault = { failAtByte: number } | { writebackError: string };

export interface CopyTask {
  op: 'copy';
  source: string;
  /** Beside the destination (src/backup/durable-file.ts createTempFile); created here, removed here on failure or cancel. */
  temp: string;
  cancel: SharedArrayBuffer;
  progressPort: MessagePort;
  /** How often the destination's size is polled for progress. */
  pollMs: number;
  fault?: CopyFault | undefined;
}

export interface HashTask {
  op: 'hash';
  file: string;
  algorithm: HashAlgorithm;
  cancel: SharedArrayBuffer;
  /** Also check every DuckDB block's checksum in the same read (a copy's verification; not the live source). */
  checkBlocks?: boolean | undefined;
}

export interface VerifyTask {
  op: 'verify';
  file: string;
  expected: ExpectedContent;
  cancel: SharedArrayBuffer;
  /** False when the caller re-reads the hash in another thread meanwhile (CopyEngine.verify does). */
  checkHash?: boolean;
}

export type EngineTask = CopyTask | HashTask | VerifyTask;

export interface TaskError {
  message: string;
  code?: string | undefined;
  cancelled?: boolean;
}

/** `clone`: a reflink copy sharing the source's blocks; `kernel`: copy_file_range (bytes really copied). */
export type CopyMethod = 'clone' | 'kernel' | 'injected-fault';

export type CopyResult = { ok: true; bytes: number; method: CopyMethod; ms: number } | { ok: false; error: TaskError };
export type HashResult =
  | { ok: true; bytes: number; hash: string; blocks?: BlockCheckResult | undefined; ms: number }
  | { ok: false; error: TaskError };

// ---- a verification (verify-backup.ts), as the verify task returns it ----

export interface ExpectedContent {
  sizeBytes: number;
  /**
   * `value` undefined: a fresh reflink clone, whose source was not hashed while it was closed (the file system
   * shares its blocks); the hash read now is what the manifest records.
   */
  hash: { algorithm: string; value: string | undefined };
  /** A manifest's figures (every row compared), or a fresh copy's row counts taken from its held source. */
  tables: TableFigures | TableCounts;
}

export type CheckName = 'file' | 'size' | 'hash' | 'blocks' | 'open' | 'tables';

export interface VerifyCheck {
  name: CheckName;
  ok: boolean;
  detail: string;
}

export interface BackupVerification {
  ok: boolean;
  file: string;
  checks: VerifyCheck[];
  /** Tables whose count or row hash differ, including tables on one side only. */
  mismatchedTables: string[];
  actual: { sizeBytes?: number; hash?: string; tables?: TableFigures };
}
