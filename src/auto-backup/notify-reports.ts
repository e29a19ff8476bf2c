import type { ReverifyResult } from '../backup/reverify.js';
import { messageOf } from '../errors.js';
import type { NotifyReport } from '../notify/notifier.js';
import { formatBytes } from '../format/size.js';
import type { AutoRunResult, AutoTrigger } from './auto-backup.js';

// What a notification says about an automatic run or a re-verification pass: the webhook's fields and the one
// line a ping carries. Pure, so what monitoring receives is decided in one place.

export function backupReport(result: AutoRunResult, trigger: AutoTrigger, database: string): NotifyReport {
  const base = { event: 'backup' as const, trigger, database };
  switch (result.status) {
    case 'success': {
      const made = `${result.path} (${formatBytes(result.sizeBytes)}, ${result.durationMs} ms)`;
      const pruning = result.pruneError ? `; pruning old backups failed: ${messageOf(result.pruneError)}` : '';
      const local = {
        ...base,
        path: result.path,
        sizeBytes: result.sizeBytes,
        durationMs: result.durationMs,
        stateDurations: result.stateDurations,
      };
      // The job the user configured includes the copy off the machine: a local backup alone is not "ok" to
      // monitoring, or a check would stay green while nothing reaches the remote.
      if (result.remoteError)
        return {
          ...local,
          status: 'offsite-failed',
          error: result.remoteError,
          remoteError: result.remoteError,
          summary: `backup ok locally; offsite upload FAILED: ${messageOf(result.remoteError)} (local: ${made})${pruning}`,
        };
      return {
        ...local,
        status: 'success',
        error: result.pruneError,
        remote: result.remote?.url,
        summary: `backup ok: ${made}${result.remote ? `; sent offsite: ${result.remote.url}` : ''}${pruning}`,
      };
    }
    case 'failed':
      return {
        ...base,
        status: 'failed',
        stateDurations: result.stateDurations,
        error: result.error,
        summary: `backup FAILED: ${messageOf(result.error)}`,
      };
    case 'skipped':
      return { ...base, status: 'skipped', summary: `backup skipped: ${result.reason}` };
  }
}

export function reverifyReport(result: ReverifyResult, database: string): NotifyReport {
  const damaged = result.checked.filter((c) => !c.ok);
  const n = result.checked.length;
  return {
    event: 'reverify',
    status: damaged.length > 0 ? 'damaged' : 'success',
    database,
    checked: n,
    damaged: damaged.map((d) => ({ path: d.path, problem: d.problem ?? 'damaged' })),
    summary:
      damaged.length > 0
        ? `re-verification found ${damaged.length} damaged backup${damaged.length === 1 ? '' : 's'}: ` +
          damaged.map((d) => `${d.path} (${d.problem})`).join('; ')
        : `re-verified ${n} backup${n === 1 ? '' : 's'}, all intact`,
  };
}
