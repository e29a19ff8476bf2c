import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackupService } from '../src/backup/backup-service.js';
import type { BackupFailure } from '../src/backup/types.js';
import type { NuError } from '../src/errors.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { TEMP_MARKER } from '../src/backup/durable-file.js';
import { backupFixture, fillBulk } from './helpers/backup-app.js';

// Backups across processes: a real second process holding the lock, and a real process killed with SIGKILL in
// the middle of its copy (test/fixtures/backup-child.ts).

const CHILD = path.resolve('test/fixtures/backup-child.ts');

function startChild(
  args: string[],
  home?: string,
): { child: ChildProcess; lines: string[]; waitFor(line: string): Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NUAGENT_HOME: home ?? process.env.NUAGENT_HOME },
  });
  const lines: string[] = [];
  const waiters: { line: string; resolve: () => void }[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.filter((w) => line.startsWith(w.line))) w.resolve();
    }
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child,
    lines,
    waitFor: (line) =>
      new Promise<void>((resolve, reject) => {
        if (lines.some((l) => l.startsWith(line))) return resolve();
        waiters.push({ line, resolve });
        void exited.then(() => reject(new Error(`child exited before "${line}": ${lines.join('|')} ${stderr}`)));
      }),
  };
}

const exitOf = (child: ChildProcess) =>
  new Promise<NodeJS.Signals | number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode ?? child.exitCode);
    else child.on('exit', (code, signal) => resolve(signal ?? code));
  });

// Spawned processes run from source (tsx): slow to start on a busy two-core machine.
describe('backups across processes', { timeout: 120_000 }, () => {
  it('refuses a backup while another process holds the lock, naming it', async () => {
    const fixture = await backupFixture(5);
    const other = startChild(['hold-lock', fixture.store.path]);
    try {
      await other.waitFor('locked');
      const outcome = await createBackupService(fixture.deps).run({
        trigger: 'manual',
        destination: path.join(fixture.dir, 'b.db'),
      });
      expect(outcome.ok).toBe(false);
      const error = (outcome as BackupFailure).error as NuError;
      expect(error.code).toBe('BACKUP_RUNNING');
      expect(error.message).toContain(`process ${other.child.pid}`);
      expect(fixture.deps.workers.calls).toEqual([]);
      expect(fs.existsSync(path.join(fixture.dir, 'b.db'))).toBe(false);
    } finally {
      other.child.kill('SIGKILL');
      await exitOf(other.child);
      await fixture.close();
    }
  });

  it('SIGKILL during the copy leaves nothing at the destination, the database whole, and no stuck lock', async () => {
    const fixture = await backupFixture(40);
    await fillBulk(fixture.store, 100_000);
    const rows = await fixture.store.all<{ c: number; m: number }>(
      'SELECT (SELECT count(*) FROM conversations) AS c, (SELECT count(*) FROM messages) AS m',
    );
    await fixture.store.close();
    const destination = path.join(fixture.dir, 'out', 'b.db');
    fs.mkdirSync(path.dirname(destination));

    const child = startChild(['backup', fixture.store.path, destination], fixture.deps.paths.home);
    await child.waitFor('progress');
    child.child.kill('SIGKILL');
    expect(await exitOf(child.child)).toBe('SIGKILL');
    expect(child.lines).not.toContain('done true');

    expect(fs.existsSync(destination)).toBe(false);
    expect(fs.existsSync(`${destination}.manifest.json`)).toBe(false);
    // The database was closed cleanly before the copy: it opens with every row, and no WAL.
    expect(fs.existsSync(`${fixture.store.path}.wal`)).toBe(false);
    const store = await MemoryStore.open(fixture.store.path);
    try {
      expect(
        await store.all('SELECT (SELECT count(*) FROM conversations) AS c, (SELECT count(*) FROM messages) AS m'),
      ).toEqual(rows);
      // Start-up of the next nu-agent removes the dead process's temporary file…
      expect(fs.readdirSync(path.dirname(destination))).toEqual([expect.stringContaining(TEMP_MARKER)]);
      const service = createBackupService({ ...fixture.deps, store });
      expect(fs.readdirSync(path.dirname(destination))).toEqual([]);
      // …and the dead process's lock is taken over at once.
      const outcome = await service.run({ trigger: 'manual', destination });
      expect(outcome.ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});
