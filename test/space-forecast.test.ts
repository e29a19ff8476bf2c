import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AutoBackup } from '../src/auto-backup/auto-backup.js';
import { appConfigStore } from '../src/auto-backup/config-store.js';
import { retentionFor } from '../src/auto-backup/retention-adapter.js';
import { forecastSpace, freeBytesAt, predictSize } from '../src/auto-backup/space-forecast.js';
import { buildStatus, formatStatus, statusJson } from '../src/auto-backup/status.js';
import type { BackupEntry } from '../src/backup/backup-entry.js';
import { resolveDataPaths } from '../src/paths.js';
import { FakeBackupService } from './helpers/fake-backup-service.js';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';
import { tempDir } from './helpers/temp-dir.js';
import { openStore } from './helpers/open-store.js';

const MiB = 1024 * 1024;
const day = (n: number) => new Date(Date.UTC(2025, 5, 1 + n, 2));

function entry(n: number, sizeBytes: number, sourcePath = '/data/memory.db'): BackupEntry {
  return {
    path: `/b/${n}.db`,
    state: 'ok',
    createdAt: day(n),
    sizeBytes,
    manifest: { sourcePath, sizeBytes } as BackupEntry['manifest'],
  };
}

describe('free-space forecast', () => {
  it('predicts the next size from the growth across the recent backups, never from shrinkage', () => {
    const points = [0, 1, 2, 3].map((n) => ({ at: day(n), sizeBytes: (10 + n) * MiB }));
    expect(predictSize(points, day(5))).toEqual({
      predictedBytes: 15 * MiB,
      growthBytesPerDay: MiB,
      newestBytes: 13 * MiB,
      basedOn: 4,
    });
    const shrinking = [0, 1].map((n) => ({ at: day(n), sizeBytes: (10 - n) * MiB }));
    expect(predictSize(shrinking, day(3))?.predictedBytes).toBe(9 * MiB);
    expect(predictSize([{ at: day(0), sizeBytes: 7 }], day(9))?.predictedBytes).toBe(7);
    expect(predictSize([], day(0))).toBeUndefined();
  });

  it('says whether the next run fits, counting only this database’s backups, and skips an unknown free space', () => {
    const entries = [entry(0, 10 * MiB), entry(1, 12 * MiB), entry(2, 500 * MiB, '/other/db.db')];
    const fits = forecastSpace(entries, '/data/memory.db', '/b', day(2), () => 100 * MiB);
    expect(fits).toMatchObject({ predictedBytes: 14 * MiB, fits: true, basedOn: 2 });
    expect(forecastSpace(entries, '/data/memory.db', '/b', day(2), () => 13 * MiB)?.fits).toBe(false);
    expect(forecastSpace(entries, '/data/memory.db', '/b', day(2), () => undefined)).toBeUndefined();
  });

  it('reads free space at the nearest existing parent of a directory not made yet', () => {
    const dir = tempDir();
    expect(freeBytesAt(path.join(dir, 'not', 'yet'))).toBeGreaterThan(0);
  });
});

describe('status with the forecast', () => {
  it('shows the free space and the predicted size, warns when it would not fit, and puts it all in the JSON', async () => {
    const home = tempDir();
    const paths = resolveDataPaths({ NUAGENT_HOME: home });
    await addConversations(paths.database, 5);
    const dir = path.join(home, 'backups');
    fs.mkdirSync(dir);
    await handMadeBackup(paths.database, path.join(dir, 'a.db'), day(0));
    await handMadeBackup(paths.database, path.join(dir, 'b.db'), day(1));
    const store = await openStore(paths.database);
    const auto = new AutoBackup({
      config: appConfigStore(store),
      backups: new FakeBackupService(),
      paths,
      retention: retentionFor(paths),
      now: () => day(1),
    });
    await auto.set('timeZone', 'UTC');
    await auto.set('directory', dir);
    await auto.set('enabled', 'true');

    const report = await buildStatus(auto, { kind: 'none' });
    expect(report.space).toMatchObject({ nextRunAt: day(2).toISOString(), fits: true, basedOn: 2 });
    const lines = formatStatus(report);
    expect(lines.find((l) => l.trim().startsWith('Free space:'))).toMatch(
      /free; next backup about .* \(growing .*\/day over 2 backups\)/,
    );
    expect(lines.some((l) => l.includes('would not fit'))).toBe(false);
    const json = statusJson(report);
    expect(json.space).toMatchObject({ freeBytes: expect.any(Number), predictedBytes: expect.any(Number), fits: true });
    expect(json).toHaveProperty('notify');
    expect(json).toHaveProperty('reverify');
    expect(json).toHaveProperty('keepRules', null);

    const full = formatStatus({ ...report, space: { ...report.space!, freeBytes: 1000, fits: false } });
    expect(full.some((l) => /WARNING: the next backup \(about .*\) would not fit: 1000 B free in /.test(l))).toBe(true);
  });
});
