import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { FloatVector, MemoryStore } from '../src/store/memory-store.js';
import type { NuError } from '../src/errors.js';
import { LATEST_SCHEMA_VERSION, EMBEDDING_DIMENSIONS, migrations } from '../src/store/schema.js';
import { tempDir } from './helpers/temp-dir.js';

describe('MemoryStore', () => {
  it('creates a new database at the latest schema version', async () => {
    const db = path.join(tempDir(), 'memory.db');
    const store = await MemoryStore.open(db);
    const rows = await store.all<{ v: number }>('SELECT max(version) AS v FROM schema_version');
    expect(rows[0]?.v).toBe(LATEST_SCHEMA_VERSION);
    await store.close();
  });

  it('migrates a file written by an older version and keeps its rows', async () => {
    const db = path.join(tempDir(), 'old.db');
    // Build a version-1 file by hand, the way the first release would have left it.
    const instance = await DuckDBInstance.create(db);
    const c = await instance.connect();
    await c.run(
      'CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    for (const s of migrations[0]!.statements) await c.run(s);
    await c.run('INSERT INTO schema_version (version) VALUES (1)');
    await c.run(`INSERT INTO conversations (title) VALUES ('kept')`);
    c.closeSync();
    instance.closeSync();

    const store = await MemoryStore.open(db);
    const versions = await store.all<{ version: number }>('SELECT version FROM schema_version ORDER BY version');
    expect(versions.map((v) => v.version)).toEqual(migrations.map((m) => m.version));
    expect(await store.all('SELECT title FROM conversations')).toEqual([{ title: 'kept' }]);
    await store.run('INSERT INTO embeddings (kind, source_id, content, embedding, model) VALUES ($1, $2, $3, $4, $5)', [
      'exchange',
      1,
      'x',
      new FloatVector(Array.from({ length: EMBEDDING_DIMENSIONS }, () => 0.5)),
      'test',
    ]);
    await store.close();
  });

  it('releases the file on close, leaves no WAL, and reopens at the same path', async () => {
    const db = path.join(tempDir(), 'memory.db');
    const store = await MemoryStore.open(db);
    await store.run(`INSERT INTO conversations (title) VALUES ('a')`);
    const held = await store.hold(1000);
    await held.checkpoint(5000);
    await held.close();
    expect(fs.existsSync(db + '.wal')).toBe(false);
    // Another instance can now open the file: the lock was really released.
    const other = await DuckDBInstance.create(db);
    other.closeSync();
    await held.reopen();
    held.release();
    expect(await store.all('SELECT title FROM conversations')).toEqual([{ title: 'a' }]);
    await store.close();
  });

  it("a backup's close lets another process open and write the file, and the reopen sees that write", async () => {
    // The close is a DETACH from the store's long-lived instance, not the end of an instance: it must release the
    // file's lock and leave no log all the same. Within one process DuckDB's lock proves nothing
    // (measured on DuckDB 1.5.5), so another process tries.
    const db = path.join(tempDir(), 'memory.db');
    const store = await MemoryStore.open(db);
    await store.run(`INSERT INTO conversations (title) VALUES ('before')`);
    const held = await store.hold(1000);
    await held.close();
    expect(fs.existsSync(db + '.wal')).toBe(false);
    const other = `import { DuckDBInstance } from '@duckdb/node-api';
      const instance = await DuckDBInstance.create(${JSON.stringify(db)});
      const c = await instance.connect();
      await c.run("INSERT INTO conversations (title) VALUES ('from another process')");
      c.closeSync();
      instance.closeSync();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', other], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(stderr).toBe('');
    expect(code).toBe(0);
    await held.reopen();
    held.release();
    const titles = await store.all<{ title: string }>('SELECT title FROM conversations ORDER BY id');
    expect(titles.map((t) => t.title)).toEqual(['before', 'from another process']);
    await store.close();
  });

  it("a backup's flush checkpoints without holding the database: the log is empty and writes go on", async () => {
    const db = path.join(tempDir(), 'memory.db');
    const store = await MemoryStore.open(db);
    await store.run(`INSERT INTO conversations (title) VALUES ('a')`);
    expect(fs.statSync(db + '.wal', { throwIfNoEntry: false })?.size ?? 0).toBeGreaterThan(0);
    await store.flush();
    expect(fs.statSync(db + '.wal', { throwIfNoEntry: false })?.size ?? 0).toBe(0);
    expect(store.held).toBe(false);
    await store.run(`INSERT INTO conversations (title) VALUES ('b')`);
    expect(await store.all('SELECT count(*)::INTEGER AS n FROM conversations')).toEqual([{ n: 2 }]);
    await store.close();
  });

  it('makes operations wait while a backup holds the database', async () => {
    const store = await MemoryStore.open(path.join(tempDir(), 'memory.db'));
    const held = await store.hold(1000);
    let landed = false;
    const write = store.run(`INSERT INTO conversations (title) VALUES ('late')`).then(() => (landed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(landed).toBe(false);
    held.release();
    await write;
    expect(landed).toBe(true);
    await store.close();
  });

  it('refuses a file that is not a DuckDB database and leaves it unchanged', async () => {
    const db = path.join(tempDir(), 'notes.db');
    fs.writeFileSync(db, 'just some text\n'.repeat(500));
    const before = fs.readFileSync(db);
    await expect(MemoryStore.open(db)).rejects.toMatchObject({ code: 'DB_NOT_DUCKDB' });
    expect(fs.readFileSync(db)).toEqual(before);
    expect(fs.readdirSync(path.dirname(db))).toEqual(['notes.db']);
  });

  it('refuses a DuckDB file that belongs to something else', async () => {
    const db = path.join(tempDir(), 'other.db');
    const instance = await DuckDBInstance.create(db);
    const c = await instance.connect();
    await c.run('CREATE TABLE sales (id INTEGER)');
    c.closeSync();
    instance.closeSync();
    await expect(MemoryStore.open(db)).rejects.toMatchObject({ code: 'DB_FOREIGN' });
  });
});

describe('MemoryStore after a failed reopen', () => {
  it('says the database was lost, then recovers by itself once the file is free again', async () => {
    const db = path.join(tempDir(), 'memory.db');
    const store = await MemoryStore.open(db);
    await store.run(`INSERT INTO conversations (title) VALUES ('kept')`);
    const held = await store.hold(1000);
    await held.checkpoint(5000);
    await held.close();
    // Another process takes the file while it is closed, so every reopen fails on DuckDB's file lock.
    const intruder = await holdFileInAnotherProcess(db);
    try {
      await expect(held.reopen()).rejects.toMatchObject({ code: 'DB_LOCKED' });
      held.release();
      const lost = await store.all('SELECT title FROM conversations').catch((e: unknown) => e);
      expect(lost).toMatchObject({ code: 'DB_LOST' });
      expect(String((lost as NuError).hint)).toContain(db);
    } finally {
      intruder.kill('SIGKILL');
      await once(intruder, 'exit');
    }
    expect(await store.all('SELECT title FROM conversations')).toEqual([{ title: 'kept' }]);
    await store.close();
  });
});

/** A child process that opens db read-write and keeps it until killed. Resolves once it holds the lock. */
async function holdFileInAnotherProcess(db: string): Promise<ChildProcess> {
  const script = `
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(${JSON.stringify(db)});
    await instance.connect();
    process.stdout.write('holding' + String.fromCharCode(10));
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('holding') && resolve());
    child.on('exit', (code) => reject(new Error(`the holder exited early (${code})`)));
  });
  return child;
}
