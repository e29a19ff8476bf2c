import type { BackupEvent, BackupManifest, BackupTrigger } from './types.js';

// The contract between whoever asks for a restore (`/backup restore`, `nu-agent backup restore`) and the
// BackupService that runs it through the same supervisor as a backup (src/backup/restore-service.ts).

export interface RestoreRequest {
  /** The backup, already verified against its manifest by the caller (src/backup/restore.ts). */
  file: string;
  /** What the user calls the backup when `file` is a temporary copy of it (restore.ts): errors name this. */
  shownAs?: string | undefined;
  manifest: BackupManifest;
  trigger: BackupTrigger;
  signal?: AbortSignal | undefined;
  onEvent?: ((event: BackupEvent) => void) | undefined;
}

export interface RestoreSuccess {
  ok: true;
  file: string;
  durationMs: number;
  stateDurations: Record<string, number>;
  warnings: Error[];
}

export interface RestoreFailure {
  ok: false;
  error: Error;
  /** The restored file had been put in place, failed, and the previous database is back and open. */
  rolledBack: boolean;
  stateDurations: Record<string, number>;
  warnings: Error[];
}

export type RestoreOutcome = RestoreSuccess | RestoreFailure;
