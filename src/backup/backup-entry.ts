import type { BackupManifest } from './types.js';

// What the catalog knows about one backup it found, and what retention decides from. Types only, so the pure
// retention rules (retention.ts) and the code that reads the disk (catalog.ts) share one shape.

/**
 * - `ok`: manifest present and valid, the file beside it has the manifest's name and size. The service writes a
 *   manifest only after the copy verified, so this is a complete, verified backup: the only kind retention counts.
 * - `missing`: a manifest whose backup file is gone.
 * - `damaged`: the manifest or the file disagree (size, name, not a DuckDB file) or the manifest is unreadable.
 * - `foreign`: a database file with no manifest: nu-agent did not make it (or lost its manifest); never touched.
 * - `partial`: a temporary file of a copy in progress or left by a crash.
 */
export type BackupState = 'ok' | 'missing' | 'damaged' | 'foreign' | 'partial';

export interface BackupEntry {
  /** Absolute path of the backup file (for `missing`, where the manifest says it was). */
  path: string;
  /** Absolute path of its manifest, when there is one. */
  manifestPath?: string | undefined;
  state: BackupState;
  /** Why the state is not `ok`, in words for `/backup list`. */
  problem?: string | undefined;
  /** The manifest's createdAt: retention ages come from here, never from the file's mtime. */
  createdAt?: Date | undefined;
  /** Size on disk, when the file exists. */
  sizeBytes?: number | undefined;
  manifest?: BackupManifest | undefined;
}
