import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateBackup } from '../src/backup/validate.js';
import type { NuError } from '../src/errors.js';
import { backupFixture, recordingWorkers, serviceFor } from './helpers/backup-app.js';
import { tempDir } from './helpers/temp-dir.js';

// Refusals happen before anything is paused and create nothing on disk. A live database file is needed (the
// source must exist); a closed one is enough for validateBackup itself.

function liveDb(): { dir: string; db: string } {
  const dir = tempDir();
  const db = path.join(dir, 'memory.db');
  fs.writeFileSync(db, 'DUCK-ish bytes');
  return { dir, db };
}

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as NuError).code;
  }
  return undefined;
};

describe('backup validation', () => {
  it('refuses the live database file, also through a symlink, `..`, a linked directory or a hard link', () => {
    const { dir, db } = liveDb();
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.symlinkSync(db, path.join(dir, 'alias.db'));
    fs.symlinkSync(dir, path.join(dir, 'linkdir'));
    fs.linkSync(db, path.join(dir, 'hard.db'));
    for (const destination of [
      db,
      path.join(dir, 'alias.db'),
      `${dir}/sub/../memory.db`,
      path.join(dir, 'linkdir', 'memory.db'),
    ]) {
      expect(
        codeOf(() => validateBackup({ source: db, destination, force: true })),
        destination,
      ).toBe('BACKUP_ONTO_LIVE');
    }
    expect(codeOf(() => validateBackup({ source: db, destination: path.join(dir, 'hard.db'), force: true }))).toBe(
      'BACKUP_ONTO_LIVE',
    );
  });

  it("refuses the live database's WAL, whether or not it exists, also through a linked directory", () => {
    const { dir, db } = liveDb();
    fs.symlinkSync(dir, path.join(dir, 'linkdir'));
    expect(codeOf(() => validateBackup({ source: db, destination: `${db}.wal`, force: true }))).toBe('BACKUP_ONTO_WAL');
    fs.writeFileSync(`${db}.wal`, 'log');
    expect(
      codeOf(() =>
        validateBackup({ source: db, destination: path.join(dir, 'linkdir', 'memory.db.wal'), force: true }),
      ),
    ).toBe('BACKUP_ONTO_WAL');
    expect(codeOf(() => validateBackup({ source: db, destination: `${db}.wal.checkpoint`, force: true }))).toBe(
      'BACKUP_ONTO_WAL',
    );
  });

  it('refuses an existing file unless forced, and anything that is not a regular file', () => {
    const { dir, db } = liveDb();
    const existing = path.join(dir, 'old.db');
    fs.writeFileSync(existing, 'old backup');
    expect(codeOf(() => validateBackup({ source: db, destination: existing, force: false }))).toBe('BACKUP_EXISTS');
    expect(validateBackup({ source: db, destination: existing, force: true }).replaces).toBe(true);
    fs.mkdirSync(path.join(dir, 'a-dir'));
    fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling.db'));
    expect(codeOf(() => validateBackup({ source: db, destination: path.join(dir, 'dangling.db'), force: true }))).toBe(
      'BACKUP_NOT_A_FILE',
    );
  });

  it('refuses a missing database', () => {
    const dir = tempDir();
    expect(
      codeOf(() =>
        validateBackup({ source: path.join(dir, 'nope.db'), destination: path.join(dir, 'b.db'), force: false }),
      ),
    ).toBe('BACKUP_SOURCE_MISSING');
  });

  it('refuses a directory that cannot be created (a path under a regular file), creating nothing', () => {
    const { dir, db } = liveDb();
    fs.writeFileSync(path.join(dir, 'plain-file'), 'x');
    const destination = path.join(dir, 'plain-file', 'deeper', 'b.db');
    expect(codeOf(() => validateBackup({ source: db, destination, force: false }))).toBe('BACKUP_DIR_UNCREATABLE');
    expect(fs.readdirSync(dir).sort()).toEqual(['memory.db', 'plain-file']);
  });

  it('refuses a directory the user cannot write to (as uid 65534 when the tests run as root)', () => {
    const { dir, db } = liveDb();
    const readOnly = path.join(dir, 'read-only');
    fs.mkdirSync(readOnly, { mode: 0o555 });
    fs.chmodSync(readOnly, 0o555);
    const args = { source: db, destination: path.join(readOnly, 'b.db') };
    const nested = { source: db, destination: path.join(readOnly, 'new', 'b.db') };
    if (process.getuid?.() !== 0) {
      expect(codeOf(() => validateBackup({ ...args, force: false }))).toBe('BACKUP_DIR_UNWRITABLE');
      expect(codeOf(() => validateBackup({ ...nested, force: false }))).toBe('BACKUP_DIR_UNCREATABLE');
      return;
    }
    // Root may write anywhere: ask a real unprivileged process instead.
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(db, 0o644);
    const script = `
      import { validateBackup } from ${JSON.stringify(path.resolve('src/backup/validate.ts'))};
      for (const a of ${JSON.stringify([args, nested])}) {
        try { validateBackup({ ...a, force: false }); console.log('accepted'); }
        catch (err) { console.log(err.code); }
      }`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      cwd: process.cwd(),
      encoding: 'utf8',
      env: { ...process.env, HOME: dir },
    });
    expect(out.trim().split('\n')).toEqual(['BACKUP_DIR_UNWRITABLE', 'BACKUP_DIR_UNCREATABLE']);
    expect(fs.readdirSync(readOnly)).toEqual([]);
  });

  it('refuses when the destination has too little free space, and skips the check when it is unknown', () => {
    const { dir, db } = liveDb();
    const destination = path.join(dir, 'new', 'sub', 'b.db');
    const full = () => ({ bavail: 3, bsize: 4096 });
    expect(codeOf(() => validateBackup({ source: db, destination, force: false, statfs: full }))).toBe(
      'BACKUP_NO_SPACE',
    );
    expect(fs.existsSync(path.join(dir, 'new'))).toBe(false);
    const unknown = () => {
      throw Object.assign(new Error('not supported'), { code: 'ENOSYS' });
    };
    expect(validateBackup({ source: db, destination, force: false, statfs: unknown }).createDirectory).toBe(true);
    expect(fs.existsSync(path.join(dir, 'new'))).toBe(false);
  });

  it('a refused backup pauses no worker, writes nothing, and is recorded as refused', async () => {
    const workers = recordingWorkers();
    const fixture = await backupFixture(5, workers);
    const service = serviceFor(fixture);
    const outcome = await service.run({ trigger: 'manual', destination: fixture.store.path, force: true });
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && (outcome.error as NuError).code).toBe('BACKUP_ONTO_LIVE');
    expect(workers.calls).toEqual([]);
    const runs = await fixture.store.all<{ result: string }>('SELECT result FROM backup_runs');
    expect(runs).toEqual([{ result: 'refused' }]);
    expect(await fixture.store.all('SELECT count(*) AS n FROM conversations')).toEqual([{ n: 5 }]);
    await fixture.close();
  });
});
