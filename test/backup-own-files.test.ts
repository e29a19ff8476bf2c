import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NuError } from '../src/errors.js';
import { backupFixture, recordingWorkers, serviceFor } from './helpers/backup-app.js';
import type { BackupFixture } from './helpers/backup-app.js';

// Destinations nu-agent must refuse before it pauses anything: its own files (a backup written onto the crash
// journal vanished; one written into the lock directory made every later backup fail with ENOTEMPTY), and paths
// the file system will refuse later anyway (too long, a symbolic link loop), which were refused only after
// pausing the workers and checkpointing.

async function refusal(fixture: BackupFixture, destination: string): Promise<string | undefined> {
  fixture.deps.workers.calls.length = 0;
  const outcome = await serviceFor(fixture).run({ trigger: 'manual', destination, force: true });
  const code = outcome.ok ? 'accepted' : (outcome.error as NuError).code;
  // Refused in validation: no worker was asked to pause.
  expect([destination, fixture.deps.workers.calls]).toEqual([destination, []]);
  return code;
}

describe('destinations that are nu-agent files or unusable paths', { timeout: 120_000 }, () => {
  it("refuses nu-agent's own files, the lock directory and anything inside it, manifests and temporary names", async () => {
    const fixture = await backupFixture(5, recordingWorkers());
    const { paths } = fixture.deps;
    const lock = paths.backupLock;
    fs.mkdirSync(paths.home, { recursive: true });
    fs.writeFileSync(paths.historyFile, '/help\n');
    const before = fs.readdirSync(fixture.dir).sort();
    for (const destination of [
      `${lock}.inflight.json`,
      `${lock}/`,
      path.join(lock, 'x.db'),
      `${paths.database}.before-restore`,
      paths.historyFile,
      paths.controlSocket,
      path.join(fixture.dir, 'other.db.manifest.json'),
      path.join(fixture.dir, '.b.db.nu-agent-tmp-1-abcdef'),
    ]) {
      expect([destination, await refusal(fixture, destination)]).toEqual([destination, 'BACKUP_ONTO_OWN_FILE']);
    }
    expect(fs.readdirSync(fixture.dir).sort()).toEqual(before);
    expect(fs.existsSync(lock)).toBe(false); // released, and empty: a later backup can take it
    expect(fs.readFileSync(paths.historyFile, 'utf8')).toBe('/help\n');
    await fixture.close();
  });

  it('refuses a path longer than PATH_MAX, a name longer than NAME_MAX and a symbolic link loop before pausing', async () => {
    const fixture = await backupFixture(5, recordingWorkers());
    const loop = path.join(fixture.dir, 'loop');
    fs.symlinkSync(loop, loop);
    const a = path.join(fixture.dir, 'a');
    fs.symlinkSync(path.join(fixture.dir, 'b'), a);
    fs.symlinkSync(a, path.join(fixture.dir, 'b'));
    for (const destination of [
      path.join(fixture.dir, ...Array.from({ length: 40 }, () => 'd'.repeat(120)), 'b.db'),
      path.join(fixture.dir, `${'n'.repeat(300)}.db`),
      path.join(loop, 'b.db'),
      path.join(a, 'deeper', 'b.db'),
    ]) {
      expect(await refusal(fixture, destination)).toBe('BACKUP_PATH_UNUSABLE');
    }
    await fixture.close();
  });
});
