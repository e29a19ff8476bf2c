import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackupService } from '../src/backup/backup-service.js';
import { requireManifest } from '../src/backup/manifest.js';
import type { BackupFailure } from '../src/backup/types.js';
import { TEMP_MARKER } from '../src/backup/durable-file.js';
import { backupFixture, serviceFor } from './helpers/backup-app.js';
import { historyOf } from './helpers/hand-made-backup.js';

// A backup lock lost while a run holds it (its directory removed by another process, here `rm -rf`, at the
// moment the copy is finished): the run must stop before anything reaches a final name or the database is
// swapped, and give the database back to the workers. The first release noticed nothing and went on.

const removeFromOutside = (lockPath: string) => execFileSync('rm', ['-rf', lockPath]);

describe('a backup lock lost during the run', { timeout: 120_000 }, () => {
  it('stops a backup before its commit, leaves nothing at the destination, and resumes the workers', async () => {
    const fixture = await backupFixture(20);
    try {
      const lockPath = fixture.deps.paths.backupLock;
      const destination = path.join(fixture.dir, 'b.db');
      const service = serviceFor(fixture, { faults: { afterCopy: () => removeFromOutside(lockPath) } });
      const outcome = await service.run({ trigger: 'manual', destination });

      expect(outcome.ok).toBe(false);
      expect((outcome as BackupFailure).error).toMatchObject({
        code: 'BACKUP_LOCK_LOST',
        message: expect.stringContaining('stopped before changing anything'),
      });
      expect(fs.existsSync(destination)).toBe(false);
      expect(
        fs.readdirSync(fixture.dir).filter((n) => n.includes(TEMP_MARKER) || n.endsWith('.manifest.json')),
      ).toEqual([]);
      expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
      await fixture.store.run(`INSERT INTO conversations (id, title) VALUES (424242, 'still writable')`);

      // Nothing of the lost lock stays held: the next backup runs.
      const next = await createBackupService(fixture.deps).run({ trigger: 'manual', destination });
      expect(next.ok).toBe(true);
    } finally {
      await fixture.close();
    }
  });

  it('stops a restore before the swap: the database stays as it was, and the workers resume', async () => {
    const fixture = await backupFixture(20);
    try {
      const file = path.join(fixture.dir, 'kept.db');
      const made = await serviceFor(fixture).run({ trigger: 'manual', destination: file });
      expect(made.ok).toBe(true);
      await fixture.store.run(`INSERT INTO conversations (id, title) VALUES (424242, 'after the backup')`);
      const current = await historyOf(fixture.store);
      fixture.deps.workers.calls.length = 0;

      const lockPath = fixture.deps.paths.backupLock;
      const service = serviceFor(fixture, { restoreFaults: { afterCopy: () => removeFromOutside(lockPath) } });
      const outcome = await service.restore!({ file, manifest: requireManifest(file), trigger: 'manual' });

      expect(outcome.ok).toBe(false);
      if (outcome.ok) return;
      expect(outcome.error).toMatchObject({ code: 'BACKUP_LOCK_LOST' });
      expect(outcome.rolledBack).toBe(false);
      expect(await historyOf(fixture.store)).toEqual(current);
      expect(fs.existsSync(`${fixture.store.path}.before-restore`)).toBe(false);
      expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    } finally {
      await fixture.close();
    }
  });
});
