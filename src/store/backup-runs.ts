import type { SqlRunner } from './memory-store.js';

// The backup_runs table (schema.ts, migration 3): one row per backup or restore run, written after the run by
// the supervisor's recording step, read by status displays and auto-backup.

export type BackupRunResult = 'success' | 'failed' | 'cancelled' | 'refused';

export interface BackupRunRecord {
  trigger: string;
  kind: 'backup' | 'restore';
  startedAt: Date;
  finishedAt: Date;
  result: BackupRunResult;
  path?: string | undefined;
  sizeBytes?: number | undefined;
  hashAlgorithm?: string | undefined;
  hash?: string | undefined;
  /** Milliseconds spent in each supervisor state. */
  stateDurations: Record<string, number>;
  error?: string | undefined;
}

export interface BackupRunRow extends BackupRunRecord {
  id: number;
}

export async function recordBackupRun(db: SqlRunner, run: BackupRunRecord): Promise<void> {
  await db.run(
    `INSERT INTO backup_runs (trigger, kind, started_at, finished_at, result, path, size_bytes, hash_algorithm, hash,
                              state_durations, error)
     VALUES ($1, $2, $3::TIMESTAMPTZ, $4::TIMESTAMPTZ, $5, $6, $7, $8, $9, $10, $11)`,
    [
      run.trigger,
      run.kind,
      run.startedAt.toISOString(),
      run.finishedAt.toISOString(),
      run.result,
      run.path ?? null,
      run.sizeBytes ?? null,
      run.hashAlgorithm ?? null,
      run.hash ?? null,
      JSON.stringify(run.stateDurations),
      run.error ?? null,
    ],
  );
}

interface RawRow {
  id: number;
  trigger: string;
  kind: string;
  started_ms: number;
  finished_ms: number;
  result: string;
  path: string | null;
  size_bytes: number | null;
  hash_algorithm: string | null;
  hash: string | null;
  state_durations: string | null;
  error: string | null;
}

/** The most recent runs first. */
export async function listBackupRuns(
  db: SqlRunner,
  options: { limit?: number; kind?: 'backup' | 'restore' } = {},
): Promise<BackupRunRow[]> {
  const where = options.kind ? `WHERE kind = $2` : '';
  const params: (string | number)[] = [options.limit ?? 20];
  if (options.kind) params.push(options.kind);
  const rows = await db.all<RawRow & Record<string, unknown>>(
    `SELECT id, trigger, kind, epoch_ms(started_at) AS started_ms, epoch_ms(finished_at) AS finished_ms, result, path,
            size_bytes, hash_algorithm, hash, state_durations, error
       FROM backup_runs ${where} ORDER BY started_at DESC, id DESC LIMIT $1`,
    params,
  );
  return rows.map(fromRow);
}

function fromRow(r: RawRow): BackupRunRow {
  return {
    id: Number(r.id),
    trigger: r.trigger,
    kind: r.kind === 'restore' ? 'restore' : 'backup',
    startedAt: new Date(Number(r.started_ms)),
    finishedAt: new Date(Number(r.finished_ms)),
    result: r.result as BackupRunResult,
    path: r.path ?? undefined,
    sizeBytes: r.size_bytes === null ? undefined : Number(r.size_bytes),
    hashAlgorithm: r.hash_algorithm ?? undefined,
    hash: r.hash ?? undefined,
    stateDurations: parseDurations(r.state_durations),
    error: r.error ?? undefined,
  };
}

function parseDurations(text: string | null): Record<string, number> {
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, number>) : {};
  } catch {
    return {};
  }
}

/**
 * Every file this database recorded as a backup it made, wherever it was written, most recent first (what
 * `backup list` adds to the directories it scans). A path made again later counts once.
 */
export async function recordedBackupPaths(db: SqlRunner, limit = 1000): Promise<string[]> {
  const rows = await db.all<{ path: string }>(
    `SELECT path FROM backup_runs
      WHERE kind = 'backup' AND result = 'success' AND path IS NOT NULL
      GROUP BY path ORDER BY max(finished_at) DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => String(r.path));
}
