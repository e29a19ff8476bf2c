// What the auto-backup remembers between runs, in appconfig beside its settings (one key each, plain strings).
// Written only after BackupService.run has returned, i.e. with the database open again and never while the file
// is being copied. A skipped run is recorded as skipped and a failed one as failed: neither touches
// last_success_at, which is what "overdue" is measured from (a skipped run counted as a success would hide
// that no backup has been made).
//
// The upload to the `remote` place has its own keys, since it happens after the run is recorded a success: it
// is recorded `sending` before the first byte leaves, and `sent` or `failed` when it ends. A `sending` read by a
// process that is not uploading means the process stopped during the upload (killed, crashed, power lost).

export type RunStatus = 'success' | 'failed' | 'skipped';
export type RemoteStatus = 'sending' | 'sent' | 'failed';

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
  /** How the last upload to the remote place went, or that it is (or was left) under way. */
  remoteStatus?: RemoteStatus | undefined;
  /** The `remote` setting the last upload went to. */
  remotePlace?: string | undefined;
  remoteStartedAt?: Date | undefined;
  remoteEndedAt?: Date | undefined;
  /** The backup as stored there (what `backup list|restore s3://…` names), after `sent`. */
  remoteUrl?: string | undefined;
  /** The stored object's key in the bucket, after `sent`. */
  remoteObjectKey?: string | undefined;
  /** Why the last upload failed; empty unless `failed`. */
  remoteError?: string | undefined;
  /** When an upload last succeeded, and what it stored: kept across failures (the remote's "overdue"). */
  remoteLastSentAt?: Date | undefined;
  remoteLastSentUrl?: string | undefined;
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
  remoteStatus: 'auto_backup.remote_status',
  remotePlace: 'auto_backup.remote_place',
  remoteStartedAt: 'auto_backup.remote_started_at',
  remoteEndedAt: 'auto_backup.remote_ended_at',
  remoteUrl: 'auto_backup.remote_url',
  remoteObjectKey: 'auto_backup.remote_object_key',
  remoteError: 'auto_backup.remote_error',
  remoteLastSentAt: 'auto_backup.remote_last_sent_at',
  remoteLastSentUrl: 'auto_backup.remote_last_sent_url',
} as const satisfies Record<keyof AutoBackupState, string>;

function date(raw: string | undefined): Date | undefined {
  if (!raw) return undefined;
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function stateFromStored(stored: ReadonlyMap<string, string>): AutoBackupState {
  const status = stored.get(STATE_KEYS.lastStatus);
  const failures = Number(stored.get(STATE_KEYS.consecutiveFailures) ?? '0');
  const remote = stored.get(STATE_KEYS.remoteStatus);
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
    remoteStatus: remote === 'sending' || remote === 'sent' || remote === 'failed' ? remote : undefined,
    remotePlace: stored.get(STATE_KEYS.remotePlace) || undefined,
    remoteStartedAt: date(stored.get(STATE_KEYS.remoteStartedAt)),
    remoteEndedAt: date(stored.get(STATE_KEYS.remoteEndedAt)),
    remoteUrl: stored.get(STATE_KEYS.remoteUrl) || undefined,
    remoteObjectKey: stored.get(STATE_KEYS.remoteObjectKey) || undefined,
    remoteError: stored.get(STATE_KEYS.remoteError) || undefined,
    remoteLastSentAt: date(stored.get(STATE_KEYS.remoteLastSentAt)),
    remoteLastSentUrl: stored.get(STATE_KEYS.remoteLastSentUrl) || undefined,
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

export type RemoteRecord =
  | { status: 'sending'; at: Date; place: string }
  | { status: 'sent'; at: Date; url: string; objectKey: string }
  | { status: 'failed'; at: Date; error: string };

/** The state after an upload starts or ends. A start clears the previous outcome, never the last success. */
export function stateAfterRemote(record: RemoteRecord): Partial<AutoBackupState> {
  switch (record.status) {
    case 'sending':
      return {
        remoteStatus: 'sending',
        remotePlace: record.place,
        remoteStartedAt: record.at,
        remoteEndedAt: undefined,
        remoteUrl: undefined,
        remoteObjectKey: undefined,
        remoteError: undefined,
      };
    case 'sent':
      return {
        remoteStatus: 'sent',
        remoteEndedAt: record.at,
        remoteUrl: record.url,
        remoteObjectKey: record.objectKey,
        remoteLastSentAt: record.at,
        remoteLastSentUrl: record.url,
      };
    case 'failed':
      return { remoteStatus: 'failed', remoteEndedAt: record.at, remoteError: record.error };
  }
}

/**
 * The last upload as a reader should take it: a `sending` left by a process that is not uploading now was
 * interrupted (only the process that holds the database can be uploading, and it is the one reading).
 */
export type RemoteOutcome = RemoteStatus | 'interrupted';

export function remoteOutcome(state: AutoBackupState, uploadingHere: boolean): RemoteOutcome | undefined {
  if (state.remoteStatus === 'sending' && !uploadingHere) return 'interrupted';
  return state.remoteStatus;
}
