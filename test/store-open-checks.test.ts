import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import type { NuError } from '../src/errors.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { leaveWalBehind, makeMemoryWithIndex, walEntryOffsets } from './helpers/duckdb-blocks.js';
import { tempDir } from './helpers/temp-dir.js';

// The store's open path against real damaged files: a memory file cut short, and write-ahead logs left by a
// "crash" (no checkpoint at shutdown) that are clean, have one flipped byte, or were cut.

const VERSION_ENTRY_BYTES = 8; // storage version 64: fields 100 (type) and 101 (version), then 0xFFFF

async function messagesIn(store: MemoryStore): Promise<number> {
  const [row] = await store.all<{ n: number }>(
    `SELECT count(*) AS n FROM messages WHERE content LIKE '%only in the log%'`,
  );
  return Number(row?.n);
}

/** A memory database with the app's schema and a WAL holding 20 committed messages. */
async function memoryWithWal(): Promise<{ db: string; wal: string }> {
  const db = path.join(tempDir(), 'memory.db');
  const store = await MemoryStore.open(db);
  await store.run(`INSERT INTO conversations (id, title) VALUES (1, 'chat')`);
  await store.close();
  await leaveWalBehind(db, 20);
  return { db, wal: `${db}.wal` };
}

const keptCopies = (db: string) => fs.readdirSync(path.dirname(db)).filter((n) => n.includes('.wal.kept-'));

describe('opening a memory file that was cut short', () => {
  it('refuses it with the blocks it misses, pointing at the backups, and changes nothing', async () => {
    const db = path.join(tempDir(), 'memory.db');
    await makeMemoryWithIndex(db);
    const half = Math.floor(fs.statSync(db).size / 2);
    fs.truncateSync(db, half);

    const error: NuError = await MemoryStore.open(db).then(
      () => expect.fail('opened a truncated database'),
      (err: NuError) => err,
    );
    expect(error.code).toBe('DB_INCOMPLETE');
    expect(error.message).toMatch(/is damaged and was not opened: the file ends at byte .* missing from the end/);
    expect(error.hint).toMatch(/nu-agent backup list.*nu-agent backup restore <file>/);
    expect(fs.statSync(db).size).toBe(half);
    expect(fs.existsSync(`${db}.wal`)).toBe(false);
  });

  it('opens a file whose trailing free blocks DuckDB cut off itself', async () => {
    const db = path.join(tempDir(), 'memory.db');
    await makeMemoryWithIndex(db);
    const store = await MemoryStore.open(db);
    await store.close();
  });
});

describe('opening a memory file with a write-ahead log', () => {
  it('replays a clean log silently and removes its copy afterwards', async () => {
    const { db, wal } = await memoryWithWal();
    const notices: string[] = [];
    const store = await MemoryStore.open(db, { onNotice: (line) => notices.push(line) });
    try {
      expect(await messagesIn(store)).toBe(20);
    } finally {
      await store.close();
    }
    expect(notices).toEqual([]);
    expect(keptCopies(db)).toEqual([]);
    expect(fs.readdirSync(path.dirname(db)).sort()).toEqual(['memory.db']);
    expect(fs.existsSync(wal)).toBe(false);
  });

  it('warns about a log with a flipped size byte, which DuckDB replays only up to, and keeps the log and the database as they were', async () => {
    const { db, wal } = await memoryWithWal();
    const original = fs.readFileSync(wal);
    const entries = walEntryOffsets(original, VERSION_ENTRY_BYTES);
    const damaged = Buffer.from(original);
    // A high byte of the size of an entry half-way: DuckDB takes it for a torn log and stops without an error.
    const at = entries[Math.floor(entries.length / 2)]!;
    damaged[at + 4] = damaged[at + 4]! ^ 0x01;
    fs.writeFileSync(wal, damaged);
    const databaseBefore = fs.readFileSync(db);

    const notices: string[] = [];
    const store = await MemoryStore.open(db, { onNotice: (line) => notices.push(line) });
    let recovered: number;
    try {
      recovered = await messagesIn(store);
    } finally {
      await store.close();
    }
    // What DuckDB alone does: part of the committed messages are gone and the log is deleted.
    expect(recovered).toBeLessThan(20);
    expect(fs.existsSync(wal)).toBe(false);

    const [dbCopy] = fs.readdirSync(path.dirname(db)).filter((n) => /^memory\.db\.kept-/.test(n));
    expect(dbCopy).toBeDefined();
    expect(fs.readFileSync(path.join(path.dirname(db), dbCopy!)).equals(databaseBefore)).toBe(true);
    expect(fs.statSync(path.join(path.dirname(db), dbCopy!)).mode & 0o777).toBe(0o600);
    const [copy] = keptCopies(db);
    expect(copy).toBeDefined();
    const kept = path.join(path.dirname(db), copy!);
    expect(fs.readFileSync(kept).equals(damaged)).toBe(true);
    expect(fs.statSync(kept).mode & 0o777).toBe(0o600);
    const text = notices.join('\n');
    expect(text).toMatch(new RegExp(`^Warning: the write-ahead log of .* was damaged: the entry at byte ${at} claims`));
    expect(text).toContain(`${recovered} committed transactions`);
    expect(text).toContain(
      `kept at ${kept}, and the database as it was before the replay at ${path.join(path.dirname(db), dbCopy!)}`,
    );
    expect(text).toMatch(/Try: .*nu-agent backup list/);
  });

  it('warns about a log cut in half and keeps it; a later damaged log gets its own copy', async () => {
    const { db, wal } = await memoryWithWal();
    const first = fs.readFileSync(wal);
    // Half-way plus a few bytes: a cut that falls exactly after a commit leaves a shorter but whole log, which
    // no walk can tell from one that was never longer (the 20 transactions here are of nearly equal size).
    fs.truncateSync(wal, Math.floor(first.length / 2) + 7);
    const notices: string[] = [];
    await (await MemoryStore.open(db, { onNotice: (line) => notices.push(line) })).close();
    expect(notices[0]).toMatch(/^Warning: the write-ahead log .* was damaged/);
    expect(keptCopies(db)).toHaveLength(1);

    // Again: another crash, another damaged log. The first copy stays as it was.
    const keptFirst = fs.readFileSync(path.join(path.dirname(db), keptCopies(db)[0]!));
    await leaveWalBehind(db, 4);
    const second = fs.readFileSync(wal);
    fs.writeFileSync(wal, second.subarray(0, second.length - 3));
    await (await MemoryStore.open(db, { onNotice: () => undefined })).close();
    const copies = keptCopies(db).sort();
    expect(copies).toHaveLength(2);
    const contents = copies.map((n) => fs.readFileSync(path.join(path.dirname(db), n)));
    expect(contents.some((c) => c.equals(keptFirst))).toBe(true);
  });

  it('says so when a log ends with a transaction that never committed, and DuckDB leaves it out', async () => {
    const { db, wal } = await memoryWithWal();
    const bytes = fs.readFileSync(wal);
    const entries = walEntryOffsets(bytes, VERSION_ENTRY_BYTES);
    // Drop the last commit mark (WAL_FLUSH): the last transaction's entries are whole but never committed.
    fs.writeFileSync(wal, bytes.subarray(0, entries.at(-1)));
    const notices: string[] = [];
    const store = await MemoryStore.open(db, { onNotice: (line) => notices.push(line) });
    try {
      expect(await messagesIn(store)).toBe(19);
    } finally {
      await store.close();
    }
    expect(notices.join('\n')).toMatch(/^Note: the write-ahead log .* never committed .* 19 committed transactions/);
  });
});

describe('what DuckDB does without the check', () => {
  it('replays a log with a flipped size byte only up to the damage, without an error', async () => {
    const { db, wal } = await memoryWithWal();
    const bytes = fs.readFileSync(wal);
    const at = walEntryOffsets(bytes, VERSION_ENTRY_BYTES)[40]!;
    bytes[at + 4] = bytes[at + 4]! ^ 0x01;
    fs.writeFileSync(wal, bytes);
    const instance = await DuckDBInstance.create(db);
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM messages`);
      expect(Number(reader.getRowObjectsJS()[0]?.n)).toBeLessThan(20);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
    expect(fs.existsSync(wal)).toBe(false);
  });
});

describe('a write-ahead log someone else put beside the memory', () => {
  const asRoot = process.getuid?.() === 0;

  it.runIf(asRoot)('is refused, not replayed, when another user owns it', async () => {
    const { db, wal } = await memoryWithWal();
    fs.chownSync(wal, 65534, 65534);
    const before = fs.readFileSync(wal);

    const error: NuError = await MemoryStore.open(db).then(
      () => expect.fail('replayed a log owned by another user'),
      (err: NuError) => err,
    );
    expect(error.code).toBe('DB_FOREIGN_LOG');
    expect(error.message).toMatch(/owned by user 65534, not a write-ahead log nu-agent wrote/);
    expect(error.hint).toMatch(/mv .*memory\.db\.wal .*\.foreign/);
    expect(fs.readFileSync(wal).equals(before)).toBe(true);
    expect(keptCopies(db)).toEqual([]);
  });

  it('is refused when it is a symbolic link to a log elsewhere', async () => {
    const { db, wal } = await memoryWithWal();
    const elsewhere = path.join(tempDir(), 'planted.wal');
    fs.renameSync(wal, elsewhere);
    fs.symlinkSync(elsewhere, wal);

    const error: NuError = await MemoryStore.open(db).then(
      () => expect.fail('followed a link to a log'),
      (err: NuError) => err,
    );
    expect(error.code).toBe('DB_FOREIGN_LOG');
    expect(error.message).toMatch(/is a symbolic link/);
  });
});
