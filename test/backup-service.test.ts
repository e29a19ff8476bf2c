import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { readManifest } from '../src/backup/manifest.js';
import { nameStamp } from '../src/format/time.js';
import type { BackupEvent, BackupFailure, BackupOutcome } from '../src/backup/types.js';
import type { NuError } from '../src/errors.js';
import { listBackupRuns } from '../src/store/backup-runs.js';
import { backupFixture, fillBulk, recordingWorkers, serviceFor } from './helpers/backup-app.js';
import type { BackupFixture } from './helpers/backup-app.js';
import { clonesIn } from './helpers/reflink.js';

// The whole supervisor against real DuckDB files and real copy-engine threads; faults come in only through the
// service's seams (BackupFaults) or a WorkerControl whose functions fail.

async function countIn(file: string, table: string): Promise<number> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${table}`);
    return Number(reader.getRowObjectsJS()[0]?.n);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function liveCount(fixture: BackupFixture, table = 'conversations'): Promise<number> {
  const rows = await fixture.store.all<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]?.n);
}

/** Everything in dir except the database itself and the lock beside it. */
function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => !n.startsWith('memory.db') && n !== 'home');
}

function failed(outcome: BackupOutcome): BackupFailure & { error: NuError } {
  expect(outcome.ok).toBe(false);
  return outcome as BackupFailure & { error: NuError };
}

/** The database is open and takes writes again. */
async function expectUsable(fixture: BackupFixture): Promise<void> {
  expect(fixture.store.isOpen).toBe(true);
  expect(fixture.store.held).toBe(false);
  await fixture.store.run(`INSERT INTO appconfig (key, value) VALUES ('after-backup', 'yes')`);
}

function flipByte(file: string): void {
  const fd = fs.openSync(file, 'r+');
  const at = Math.floor(fs.fstatSync(fd).size / 2);
  const byte = Buffer.alloc(1);
  fs.readSync(fd, byte, 0, 1, at);
  byte[0] = byte[0]! ^ 0xff;
  fs.writeSync(fd, byte, 0, 1, at);
  fs.closeSync(fd);
}

// Each backup starts two copy-engine threads (about 1 s from source): room for a busy machine.
describe('backup service', { timeout: 60_000 }, () => {
  it('makes a verified copy with a manifest, pausing and resuming the workers around it', async () => {
    const fixture = await backupFixture(120);
    const events: BackupEvent[] = [];
    // Inside nu-agent's own backup directory, missing directories are made (elsewhere they are refused).
    const destination = path.join(fixture.deps.paths.defaultBackupDir, 'nested', 'b.db');
    let lateWrite: Promise<void> | undefined;
    const service = serviceFor(fixture, {
      // A write that arrives while the backup holds the database waits for it, and is not in the copy.
      faults: {
        beforeCheckpoint: () => {
          lateWrite = fixture.store.run(`INSERT INTO conversations (id, title) VALUES (100000, 'late')`);
        },
      },
    });
    const outcome = await service.run({ trigger: 'manual', destination, onEvent: (e) => events.push(e) });

    expect(outcome.ok, outcome.ok ? '' : String(outcome.error)).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.path).toBe(destination);
    expect(outcome.hashAlgorithm).toBe('xxh3-128');
    expect(outcome.hash).toMatch(/^[0-9a-f]{32}$/);
    expect(fs.statSync(destination).size).toBe(outcome.sizeBytes);
    expect(fs.statSync(destination).mode & 0o777).toBe(0o600);
    expect(await countIn(destination, 'conversations')).toBe(120);
    await lateWrite;
    expect(await liveCount(fixture)).toBe(121);

    const manifest = readManifest(destination);
    expect(manifest.ok && manifest.manifest.hash).toEqual({ algorithm: 'xxh3-128', value: outcome.hash });
    expect(manifest.ok && manifest.manifest.tables.conversations?.rows).toBe(120);
    expect(manifest.ok && manifest.manifest.tables.conversations?.hash).toMatch(/^-?\d+$/);
    expect(manifest.ok && manifest.manifest.copy).toBe(outcome.copy);
    expect(fs.readdirSync(path.dirname(destination)).sort()).toEqual(['b.db', 'b.db.manifest.json']);

    expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    expect(events.filter((e) => e.type === 'step').map((e) => e.type === 'step' && e.text)).toEqual([
      'Flushing recent writes to the database file...',
      'Pausing background workers...',
      'Checkpointing the database...',
      'Closing database connections...',
      expect.stringMatching(/^Backing up database\.\.\. \(.+\)$/),
      'Checking the copy is complete...',
      'Reopening database...',
      'Resuming background workers...',
      expect.stringMatching(/^Verifying backup\.\.\. \(every row of the (copy|clone), workers running\)$/),
    ]);
    const transitions = events.filter((e) => e.type === 'transition');
    expect(transitions.map((t) => t.type === 'transition' && t.to)).toEqual([
      'validating',
      'flushing',
      'pausing',
      'holding',
      'checkpointing',
      'closing',
      'copying',
      'verifying',
      'reopening',
      'checking',
      'resuming',
      'auditing',
      'committing',
      'recording',
      'done',
    ]);
    expect(Object.keys(outcome.stateDurations)).toContain('copying');

    await expectUsable(fixture);
    const [run] = await listBackupRuns(fixture.store);
    expect(run).toMatchObject({ result: 'success', path: destination, hash: outcome.hash, trigger: 'manual' });
    expect(run?.stateDurations.verifying).toBeGreaterThanOrEqual(0);
    expect(run?.stateDurations.auditing).toBeGreaterThanOrEqual(0);
    await fixture.close();
  });

  it('resumes workers and leaves no temporary file when the copy fails half-way', async () => {
    const fixture = await backupFixture(200);
    const destination = path.join(fixture.dir, 'b.db');
    const half = Math.floor(fixture.store.fileSize() / 2);
    const outcome = await serviceFor(fixture, { faults: { copy: { failAtByte: half } } }).run({
      trigger: 'manual',
      destination,
    });
    const { error } = failed(outcome);
    expect(error.code).toBe('BACKUP_COPY_FAILED');
    expect(error.message).toMatch(/no space left/);
    expect(error.hint).toMatch(/Free some space/);
    expect(leftovers(fixture.dir)).toEqual([]);
    expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    await expectUsable(fixture);
    expect((await listBackupRuns(fixture.store))[0]?.result).toBe('failed');
    await fixture.close();
  });

  it('fails the backup, resumes workers and leaves no temporary file when the disk reports a write-back error', async () => {
    const fixture = await backupFixture(50);
    const destination = path.join(fixture.dir, 'b.db');
    const outcome = await serviceFor(fixture, { faults: { copy: { writebackError: 'EIO' } } }).run({
      trigger: 'manual',
      destination,
    });
    const { error } = failed(outcome);
    expect(error.code).toBe('BACKUP_COPY_FAILED');
    expect(error.message).toMatch(/write-back failed/);
    expect(fs.existsSync(destination)).toBe(false);
    expect(leftovers(fixture.dir)).toEqual([]);
    expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    await expectUsable(fixture);
    expect((await listBackupRuns(fixture.store))[0]?.result).toBe('failed');
    await fixture.close();
  });

  it('aborts, naming the worker, and resumes when a worker will not pause', async () => {
    const workers = recordingWorkers({
      waitUntilAllPaused: async (ms) => {
        throw new Error(`conversation-summarizer did not pause within ${ms} ms`);
      },
    });
    const fixture = await backupFixture(10, workers);
    const outcome = await serviceFor(fixture, { timeouts: { pauseMs: 50 } }).run({
      trigger: 'manual',
      destination: path.join(fixture.dir, 'b.db'),
    });
    const { error } = failed(outcome);
    expect(error.code).toBe('BACKUP_PAUSE_FAILED');
    expect(error.message).toContain('conversation-summarizer did not pause within 50 ms');
    expect(workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    expect(leftovers(fixture.dir)).toEqual([]);
    await expectUsable(fixture);
    await fixture.close();
  });

  it('resumes and keeps the database open when the checkpoint fails', async () => {
    const fixture = await backupFixture(10);
    const outcome = await serviceFor(fixture, {
      faults: {
        beforeCheckpoint: () => {
          throw new Error('Could not checkpoint: injected');
        },
      },
    }).run({ trigger: 'manual', destination: path.join(fixture.dir, 'b.db') });
    const { error } = failed(outcome);
    expect(error.code).toBe('BACKUP_CHECKPOINT_FAILED');
    expect(Object.keys(outcome.stateDurations)).not.toContain('closing');
    expect(fixture.deps.workers.calls.at(-1)).toBe('resumeAll');
    expect(leftovers(fixture.dir)).toEqual([]);
    await expectUsable(fixture);
    await fixture.close();
  });

  it('catches a copy corrupted right after it was made in its audit, deletes it and reports failure', async () => {
    const fixture = await backupFixture(300);
    const destination = path.join(fixture.dir, 'b.db');
    const outcome = await serviceFor(fixture, { faults: { afterCopy: flipByte } }).run({
      trigger: 'manual',
      destination,
    });
    const { error } = failed(outcome);
    expect(error.code).toBe('BACKUP_COPY_UNVERIFIED');
    expect(error.message).toMatch(
      clonesIn(fixture.dir) ? /tables: reading every row failed/ : /hash: xxh3-128 [0-9a-f]{32}, expected/,
    );
    expect(fs.existsSync(destination)).toBe(false);
    expect(leftovers(fixture.dir)).toEqual([]);
    await expectUsable(fixture);
    await fixture.close();
  });

  it('catches a copy corrupted after the workers resumed in its audit, and never renames it into place', async () => {
    const fixture = await backupFixture(300);
    const destination = path.join(fixture.dir, 'b.db');
    const transitions: string[] = [];
    let duringAudit: { calls: string[]; open: boolean; held: boolean; temp: boolean } | undefined;
    const outcome = await serviceFor(fixture, {
      faults: {
        beforeAudit: async (temp) => {
          duringAudit = {
            calls: [...fixture.deps.workers.calls],
            open: fixture.store.isOpen,
            held: fixture.store.held,
            temp: fs.existsSync(temp),
          };
          // The live database takes writes while the copy is audited.
          await fixture.store.run(`INSERT INTO appconfig (key, value) VALUES ('during-audit', 'yes')`);
          flipByte(temp);
        },
      },
    }).run({
      trigger: 'manual',
      destination,
      onEvent: (e) => e.type === 'transition' && transitions.push(`${e.from}>${e.to}`),
    });
    const { error } = failed(outcome);
    expect(error.code).toBe('BACKUP_COPY_UNVERIFIED');
    // A copy's hash is compared with the source's; a clone has none from the window, and its rows show the damage.
    expect(error.message).toMatch(
      clonesIn(fixture.dir) ? /tables: reading every row failed/ : /hash: xxh3-128 [0-9a-f]{32}, expected/,
    );
    expect(duringAudit).toEqual({
      calls: ['pauseAll', 'waitUntilAllPaused', 'resumeAll'],
      open: true,
      held: false,
      temp: true,
    });
    expect(transitions).toContain('resuming>auditing');
    expect(transitions).toContain('auditing>rejecting');
    expect(transitions).not.toContain('auditing>committing');
    expect(fs.existsSync(destination)).toBe(false);
    expect(fs.existsSync(destination + '.manifest.json')).toBe(false);
    expect(leftovers(fixture.dir)).toEqual([]);
    expect(fixture.deps.workers.calls).toEqual(['pauseAll', 'waitUntilAllPaused', 'resumeAll']);
    await expectUsable(fixture);
    const [run] = await listBackupRuns(fixture.store);
    expect(run).toMatchObject({ result: 'failed', path: destination });
    expect(run?.stateDurations.auditing).toBeGreaterThanOrEqual(0);
    await fixture.close();
  });

  it('catches a copy that lost rows in its audit: the counts taken in the window must match', async () => {
    const fixture = await backupFixture(50);
    const destination = path.join(fixture.dir, 'b.db');
    const outcome = await serviceFor(fixture, {
      faults: {
        // A copy whose file is whole but lacks a commit: what a copy taken with the WAL still beside it would be.
        beforeAudit: async (temp) => {
          const instance = await DuckDBInstance.create(temp);
          const connection = await instance.connect();
          await connection.run('DELETE FROM conversations WHERE id = 1');
          await connection.run('CHECKPOINT');
          connection.closeSync();
          instance.closeSync();
        },
      },
    }).run({ trigger: 'manual', destination });
    const { error } = failed(outcome);
    expect(error.code).toBe('BACKUP_COPY_UNVERIFIED');
    expect(error.message).toMatch(/tables: figures differ for .*conversations/);
    expect(fs.existsSync(destination)).toBe(false);
    expect(leftovers(fixture.dir)).toEqual([]);
    await fixture.close();
  });

  it('retries a failed reopen with backoff and succeeds', async () => {
    const fixture = await backupFixture(20);
    const attempts: number[] = [];
    const outcome = await serviceFor(fixture, {
      timeouts: { reopenDelaysMs: [10, 20, 40] },
      faults: {
        beforeReopen: (attempt) => {
          attempts.push(attempt);
          if (attempt < 3) throw new Error(`IO Error: could not open (attempt ${attempt})`);
        },
      },
    }).run({ trigger: 'manual', destination: path.join(fixture.dir, 'b.db') });
    expect(outcome.ok).toBe(true);
    expect(attempts).toEqual([1, 2, 3]);
    await expectUsable(fixture);
    expect(await liveCount(fixture)).toBe(20);
    await fixture.close();
  });

  it('says where the intact database and the new backup are when the database cannot be reopened', async () => {
    const fixture = await backupFixture(20);
    const destination = path.join(fixture.dir, 'b.db');
    const outcome = await serviceFor(fixture, {
      timeouts: { reopenDelaysMs: [5, 5] },
      faults: {
        beforeReopen: () => {
          throw new Error('IO Error: Could not set lock on file');
        },
      },
    }).run({ trigger: 'manual', destination });
    const { error } = failed(outcome);
    expect(error.code).toBe('BACKUP_REOPEN_FAILED');
    expect(error.message).toContain('after 3 attempts');
    expect(error.hint).toContain(`The database is intact at ${fixture.store.path}`);
    expect(error.hint).toContain(`the new backup is at ${destination}`);
    expect(fixture.deps.workers.calls.at(-1)).toBe('resumeAll');
    expect(await countIn(destination, 'conversations')).toBe(20);
    expect(await countIn(fixture.store.path, 'conversations')).toBe(20);
    await fixture.close();
  });

  it('cancels during the copy: the copy stops, nothing is kept, the workers resume', async () => {
    const fixture = await backupFixture(10);
    await fillBulk(fixture.store, 100_000);
    const destination = path.join(fixture.dir, 'b.db');
    const controller = new AbortController();
    const transitions: string[] = [];
    const outcome = await serviceFor(fixture).run({
      trigger: 'manual',
      destination,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'progress') controller.abort();
        if (e.type === 'transition') transitions.push(`${e.from}>${e.to}`);
      },
    });
    const { error } = failed(outcome);
    expect(error.code).toBe('BACKUP_CANCELLED');
    expect(transitions).toContain('copying>discarding');
    expect(fs.existsSync(destination)).toBe(false);
    expect(leftovers(fixture.dir)).toEqual([]);
    expect(fixture.deps.workers.calls.at(-1)).toBe('resumeAll');
    await expectUsable(fixture);
    expect((await listBackupRuns(fixture.store))[0]?.result).toBe('cancelled');
    await fixture.close();
  });

  it('refuses a second backup while one runs in this process', async () => {
    const fixture = await backupFixture(50);
    const service = serviceFor(fixture);
    const first = service.run({ trigger: 'manual', destination: path.join(fixture.dir, 'a.db') });
    expect(service.busy).toBe(true);
    const second = await service.run({ trigger: 'manual', destination: path.join(fixture.dir, 'b.db') });
    expect(failed(second).error.code).toBe('BACKUP_RUNNING');
    expect((await first).ok).toBe(true);
    expect(service.busy).toBe(false);
    expect(fs.existsSync(path.join(fixture.dir, 'b.db'))).toBe(false);
    await fixture.close();
  });

  it('gives a backup one time: a default name, the manifest and the outcome all carry the snapshot time', async () => {
    const fixture = await backupFixture(20);
    const dir = path.join(fixture.dir, 'backups');
    fs.mkdirSync(dir);
    const service = serviceFor(fixture, {
      // The name is chosen before the pause: let the clock pass into the next second before the snapshot.
      faults: { beforeCheckpoint: () => new Promise((r) => setTimeout(r, 1005 - (Date.now() % 1000))) },
    });
    const outcome = await service.run({ trigger: 'manual', destination: `${dir}/` });
    expect(outcome.ok, outcome.ok ? '' : String(outcome.error)).toBe(true);
    if (!outcome.ok) return;
    expect(path.basename(outcome.path)).toBe(`memory-${nameStamp(outcome.snapshotAt)}.db`);
    const manifest = readManifest(outcome.path);
    expect(manifest.ok && manifest.manifest.snapshotAt).toBe(outcome.snapshotAt.toISOString());
    expect(manifest.ok && manifest.manifest.createdAt).toBe(outcome.snapshotAt.toISOString());
  });
});
