import { isNuError, messageOf } from '../errors.js';
import { formatBytes } from '../format/size.js';
import { formatTime } from '../format/time.js';
import type { BackupOutcome, BackupSuccess } from '../backup/types.js';

// How a finished backup reads, the same in the REPL and for `nu-agent backup`: path, size, the snapshot time
// (when the copy was taken, not when the line was printed), the duration and the hash, and a JSON form for
// scripts.

export function formatBackupSuccess(outcome: BackupSuccess): string[] {
  return [
    '',
    'Backup created successfully:',
    `  Path: ${outcome.path}`,
    `  Size: ${formatBytes(outcome.sizeBytes)}`,
    `  Time: ${formatTime(outcome.snapshotAt)}`,
    `  Took: ${formatSeconds(outcome.durationMs)}`,
    `  Hash: ${outcome.hashAlgorithm} ${outcome.hash}`,
    `  Copy: ${outcome.copy === 'cloned' ? 'cloned (the file system shares the blocks until either side changes)' : 'copied'}`,
  ];
}

export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

const errorJson = (err: Error) => ({
  code: isNuError(err) ? err.code : undefined,
  message: messageOf(err),
  hint: isNuError(err) ? err.hint : undefined,
});

export function backupOutcomeJson(outcome: BackupOutcome) {
  const warnings = (outcome.warnings ?? []).map(errorJson);
  if (!outcome.ok)
    return { ok: false, error: errorJson(outcome.error), stateDurations: outcome.stateDurations, warnings };
  return {
    ok: true,
    path: outcome.path,
    manifestPath: outcome.manifestPath,
    sizeBytes: outcome.sizeBytes,
    hash: { algorithm: outcome.hashAlgorithm, value: outcome.hash },
    copy: outcome.copy,
    snapshotAt: outcome.snapshotAt.toISOString(),
    durationMs: outcome.durationMs,
    stateDurations: outcome.stateDurations,
    warnings,
  };
}
