import fs from 'node:fs';
import path from 'node:path';
import type { BackupEntry } from '../backup/backup-entry.js';
import { isBackupOf } from '../backup/prune.js';

// Will the next scheduled backup fit? The next copy is about as large as the newest backup plus the growth
// seen across the recent ones (from their manifests' sizes and times, never from the live file: the database
// may be held by a backup right now). The backup writes a whole temporary copy before retention frees anything,
// so the free space must hold the whole predicted size. Free space comes from statfs; an unknown figure skips
// the check, it never means zero (a wrong zero would warn of a full disk that is not).

const DAY_MS = 24 * 60 * 60 * 1000;
/** How many of the newest backups the growth is measured over. */
const WINDOW = 10;

export interface SizePoint {
  at: Date;
  sizeBytes: number;
}

export interface SpaceForecast {
  nextRunAt: string;
  freeBytes: number;
  newestBytes: number;
  /** Bytes per day across the recent backups; never negative (a shrinking database is not counted on). */
  growthBytesPerDay: number;
  predictedBytes: number;
  /** How many backups the growth was measured over. */
  basedOn: number;
  fits: boolean;
}

/** The predicted size of a backup taken at `at`, from the newest points; undefined without any point. */
export function predictSize(
  points: readonly SizePoint[],
  at: Date,
): { predictedBytes: number; growthBytesPerDay: number; newestBytes: number; basedOn: number } | undefined {
  const recent = [...points].sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, WINDOW);
  const newest = recent[0];
  if (!newest) return undefined;
  const oldest = recent[recent.length - 1]!;
  const days = (newest.at.getTime() - oldest.at.getTime()) / DAY_MS;
  const growth = days > 0 ? Math.max(0, (newest.sizeBytes - oldest.sizeBytes) / days) : 0;
  const ahead = Math.max(0, (at.getTime() - newest.at.getTime()) / DAY_MS);
  return {
    predictedBytes: Math.round(newest.sizeBytes + growth * ahead),
    growthBytesPerDay: Math.round(growth),
    newestBytes: newest.sizeBytes,
    basedOn: recent.length,
  };
}

/** Free bytes for an unprivileged writer at dir (or its nearest existing parent); undefined when unknown. */
export function freeBytesAt(dir: string): number | undefined {
  let probe = path.resolve(dir);
  for (;;) {
    try {
      const stats = fs.statfsSync(probe);
      return stats.bavail * stats.bsize;
    } catch (err) {
      const parent = path.dirname(probe);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === probe) return undefined;
      probe = parent;
    }
  }
}

/** The forecast for the next run into `directory`, from this database's backups found there. */
export function forecastSpace(
  entries: readonly BackupEntry[],
  database: string,
  directory: string,
  nextRunAt: Date,
  freeBytes: (dir: string) => number | undefined = freeBytesAt,
): SpaceForecast | undefined {
  const points = entries
    .filter((e) => e.state === 'ok' && e.createdAt && e.manifest && isBackupOf(e.manifest, database))
    .map((e) => ({ at: e.createdAt!, sizeBytes: e.manifest!.sizeBytes }));
  const predicted = predictSize(points, nextRunAt);
  const free = freeBytes(directory);
  if (!predicted || free === undefined) return undefined;
  return { nextRunAt: nextRunAt.toISOString(), freeBytes: free, ...predicted, fits: predicted.predictedBytes <= free };
}
