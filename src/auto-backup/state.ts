// What the auto-backup remembers between runs, in appconfig beside its settings (one key each, plain strings).
// Written only after BackupService.run has returned, i.e. with the database open again and never while the file
// is being copied. A skipped run is recorded as skipped and a failed one as failed: neither touches
// last_success_at, which is what "overdue" is measured from (a skipped run counted as a success would hide
// that no backup has been made).

export type RunStatus = 'success' | 'failed' | 'skipped';

export interface AutoBackupState {
  lastRunAt?: Date | undefined;
  lastStatus?: RunStatus | undefined;
  /** The error of a failed run, or the reason a run was skipped; empty after a success. */
  lastError?: string | undefined;
  lastBackupPath?: string | undefined;
  lastSuccessAt?: Date | undefined;
  /** The next scheduled time as last computed; a value in the past at start-up means a run was missed. */
  nextRunAt?: Date | undefined;
  consecutiveFailures: number;
  /** When a notification was last sent (any channel, any result). */
  notifyLastAt?: Date | undefined;
  /** What could not be delivered that time (URLs masked); empty when everything arrived. */
  notifyLastFailure?: string | undefined;
}

export const STATE_KEYS = {
  lastRunAt: 'auto_backup.last_run_at',
  lastStatus: 'auto_backup.last_status',
  lastError: 'auto_backup.last_error',
  lastBackupPath: 'auto_backup.last_backup_path',
  lastSuccessAt: 'auto_backup.last_success_at',
  nextRunAt: 'auto_backup.next_run_at',
  consecutiveFailures: 'auto_backup.consecutive_failures',
  notifyLastAt: 'auto_backup.notify_last_at',
  notifyLastFailure: 'auto_backup.notify_last_failure',
} as const satisfies Record<keyof AutoBackupState, string>;

function date(raw: string | undefined): Date | undefined {
  if (!raw) return undefined;
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function stateFromStored(stored: ReadonlyMap<string, string>): AutoBackupState {
  const status = stored.get(STATE_KEYS.lastStatus);
  const failures = Number(stored.get(STATE_KEYS.consecutiveFailures) ?? '0');
  return {
    lastRunAt: date(stored.get(STATE_KEYS.lastRunAt)),
    lastStatus: status === 'success' || status === 'failed' || status === 'skipped' ? status : undefined,
    lastError: stored.get(STATE_KEYS.lastError) || undefined,
    lastBackupPath: stored.get(STATE_KEYS.lastBackupPath) || undefined,
    lastSuccessAt: date(stored.get(STATE_KEYS.lastSuccessAt)),
    nextRunAt: date(stored.get(STATE_KEYS.nextRunAt)),
    consecutiveFailures: Number.isSafeInteger(failures) && failures >= 0 ? failures : 0,
    notifyLastAt: date(stored.get(STATE_KEYS.notifyLastAt)),
    notifyLastFailure: stored.get(STATE_KEYS.notifyLastFailure) || undefined,
  };
}

/** The key/value pairs to write for a change of state; an empty string clears a value. */
export function storedFromState(change: Partial<AutoBackupState>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [field, key] of Object.entries(STATE_KEYS) as [keyof AutoBackupState, string][]) {
    if (!(field in change)) continue;
    const value = change[field];
    out.set(key, value instanceof Date ? value.toISOString() : value === undefined ? '' : String(value));
  }
  return out;
}

export type RunRecord =
  | { status: 'success'; at: Date; path: string }
  | { status: 'failed'; at: Date; error: string }
  | { status: 'skipped'; at: Date; reason: string };

/** The state after one run, from the state before it. */
export function stateAfterRun(before: AutoBackupState, run: RunRecord): Partial<AutoBackupState> {
  switch (run.status) {
    case 'success':
      return {
        lastRunAt: run.at,
        lastStatus: 'success',
        lastError: undefined,
        lastBackupPath: run.path,
        lastSuccessAt: run.at,
        consecutiveFailures: 0,
      };
    case 'failed':
      return {
        lastRunAt: run.at,
        lastStatus: 'failed',
        lastError: run.error,
        consecutiveFailures: before.consecutiveFailures + 1,
      };
    case 'skipped':
      return { lastRunAt: run.at, lastStatus: 'skipped', lastError: run.reason };
  }
}
