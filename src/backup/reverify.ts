import type { BackupEntry } from './backup-entry.js';
import { failedReverification } from './retention.js';
import { appendVerification, readOwnManifest } from './verification-history.js';
import { CopyEngine } from './copy-engine.js';
import { isEncrypted } from './types.js';
import { verifyBackup } from './verify.js';
import type { RunVerifyTask, VerifyOutcome } from './verify.js';

// Scheduled re-verification: proof that old backups still restore. Each pass takes the backups whose last
// verification is oldest (the check when the backup was made counts as the first), re-reads each one in a
// copy-engine thread exactly as `/backup verify` does (the whole-file hash, then a read-only open reading every
// row), and appends the result to the backup's manifest. It reads backup files only: the database stays open
// and the workers keep working. A pass is bounded by bytes and by time; what it does not reach is first in line
// next time.

export interface ReverifyLimits {
  maxBytes: number;
  maxMs: number;
}

export interface ReverifyCheck {
  path: string;
  ok: boolean;
  problem?: string | undefined;
  durationMs: number;
  /** Why the result could not be written to the manifest, if it could not. */
  notRecorded?: string | undefined;
}

export interface ReverifyResult {
  checked: ReverifyCheck[];
  /** Backups left for a later pass. */
  remaining: number;
  /** Why the pass stopped before the end of the list. */
  stoppedBy?: 'bytes' | 'time' | 'cancelled' | undefined;
}

export interface ReverifyOptions {
  now?: () => Date;
  signal?: AbortSignal | undefined;
  /** The verification runner (a copy-engine thread by default). */
  runTask?: RunVerifyTask | undefined;
}

/** When a backup was last known good or bad: its last re-verification, else its creation (verified then). */
export function lastVerifiedAt(entry: BackupEntry): Date | undefined {
  const last = entry.manifest?.verifications?.at(-1)?.at;
  const at = last ? new Date(last) : entry.createdAt;
  return at && !Number.isNaN(at.getTime()) ? at : undefined;
}

/** The order of a pass: intact backups only (a damaged one stays damaged), oldest verification first. */
export function reverifyOrder(entries: readonly BackupEntry[]): BackupEntry[] {
  return (
    entries
      // An encrypted backup is left alone: the key to read it is not meant to be on this machine.
      .filter((e) => e.state === 'ok' && !isEncrypted(e.manifest) && lastVerifiedAt(e) && !failedReverification(e))
      .sort((a, b) => lastVerifiedAt(a)!.getTime() - lastVerifiedAt(b)!.getTime() || (a.path < b.path ? -1 : 1))
  );
}

export async function reverifyBackups(
  entries: readonly BackupEntry[],
  limits: ReverifyLimits,
  options: ReverifyOptions = {},
): Promise<ReverifyResult> {
  // One copy-engine pool for the whole pass, started only if there is something to check.
  let engine: CopyEngine | undefined;
  const runTask: RunVerifyTask =
    options.runTask ??
    ((task, signal) => {
      engine ??= CopyEngine.start();
      return engine.verify(task.file, task.expected, signal);
    });
  try {
    return await pass(entries, limits, runTask, options);
  } finally {
    await engine?.destroy();
  }
}

async function pass(
  entries: readonly BackupEntry[],
  limits: ReverifyLimits,
  runTask: RunVerifyTask,
  options: ReverifyOptions,
): Promise<ReverifyResult> {
  const now = options.now ?? (() => new Date());
  const order = reverifyOrder(entries);
  const started = Date.now();
  const checked: ReverifyCheck[] = [];
  let bytes = 0;
  let stoppedBy: ReverifyResult['stoppedBy'];
  for (const entry of order) {
    const size = entry.sizeBytes ?? 0;
    const left = limits.maxMs - (Date.now() - started);
    // At least one backup per pass, however large: otherwise one big backup would never be checked.
    if (checked.length > 0 && bytes + size > limits.maxBytes) {
      stoppedBy = 'bytes';
      break;
    }
    if (left <= 0) {
      stoppedBy = 'time';
      break;
    }
    if (options.signal?.aborted) {
      stoppedBy = 'cancelled';
      break;
    }
    const before = readOwnManifest(entry.path);
    if ('refused' in before) continue;
    const timeout = AbortSignal.timeout(left);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const t0 = Date.now();
    let outcome: VerifyOutcome;
    try {
      outcome = await verifyBackup(entry.path, { signal, runTask });
    } catch (err) {
      outcome = { ok: false, file: entry.path, manifestProblem: (err as Error).message, notes: [] };
    }
    if (!outcome.ok && signal.aborted) {
      // A check cut short proves nothing either way: nothing is recorded.
      stoppedBy = options.signal?.aborted ? 'cancelled' : 'time';
      break;
    }
    const durationMs = Date.now() - t0;
    bytes += size;
    const problem = outcome.ok ? undefined : problemOf(outcome);
    const notRecorded = appendVerification(entry.path, before.text, {
      at: now().toISOString(),
      ok: outcome.ok,
      ...(problem ? { problem } : {}),
      durationMs,
    });
    checked.push({ path: entry.path, ok: outcome.ok, problem, durationMs, notRecorded });
  }
  return { checked, remaining: order.length - checked.length, stoppedBy };
}

function problemOf(outcome: VerifyOutcome): string {
  if (outcome.manifestProblem) return outcome.manifestProblem;
  const failed = outcome.verification?.checks.filter((c) => !c.ok) ?? [];
  return failed.map((c) => `${c.name}: ${c.detail}`).join('; ') || 'verification failed';
}
