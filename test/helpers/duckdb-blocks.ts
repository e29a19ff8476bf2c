import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { MemoryStore } from '../../src/store/memory-store.js';
import { readDatabaseHeader } from '../../workers/shared/duckdb-file/database-header.js';
import type { DatabaseHeader } from '../../workers/shared/duckdb-file/database-header.js';
import { readFreeList } from '../../workers/shared/duckdb-file/free-list.js';

// Real DuckDB files made by the app's schema (MemoryStore runs the migrations), with primary-key index blocks and
// free blocks, and a map of which block holds what, read from DuckDB itself. For the block-checksum and start-up
// checks (workers/shared/duckdb-file/).

/**
 * A closed memory database with `rows` messages: INSERT … SELECT makes their primary-key index span several
 * blocks; a second round that is deleted again leaves free blocks behind after the checkpoint.
 */
export async function makeMemoryWithIndex(dbPath: string, rows = 60_000): Promise<void> {
  const store = await MemoryStore.open(dbPath);
  try {
    await store.run(`INSERT INTO conversations (id, title) SELECT i, 'chat ' || i FROM range(1, 1001) t(i)`);
    await store.run(
      `INSERT INTO messages (id, conversation_id, role, content)
       SELECT i, 1 + i % 1000, 'user', 'question number ' || i || repeat(' words', 1 + i % 7) FROM range(1, ${rows + 1}) t(i)`,
    );
    await store.run('CHECKPOINT');
    await store.run(
      `INSERT INTO messages (id, conversation_id, role, content)
       SELECT i, 1, 'assistant', repeat('x', 200) FROM range(${rows + 1}, ${2 * rows + 1}) t(i)`,
    );
    await store.run('CHECKPOINT');
    await store.run(`DELETE FROM messages WHERE id > ${rows}`);
    await store.run('CHECKPOINT');
  } finally {
    await store.close();
  }
}

export interface BlockMap {
  header: DatabaseHeader;
  free: number[];
  metadata: number[];
  data: number[];
  /** In use but neither table data nor metadata: the primary-key (ART) index blocks. */
  index: number[];
}

/** Which block holds what, asked of DuckDB (read-only) and of the free list. */
export async function mapBlocks(file: string): Promise<BlockMap> {
  const start = Buffer.alloc(12_288);
  const fd = fs.openSync(file, 'r');
  let free: Set<number>;
  let header: DatabaseHeader;
  try {
    fs.readSync(fd, start, 0, start.length, 0);
    const reading = readDatabaseHeader(start);
    if (reading.kind !== 'ok') throw new Error(`unexpected header: ${reading.kind}`);
    header = reading.header;
    const list = readFreeList(fd, header, () => true);
    if (!list.ok) throw new Error(list.reason);
    free = list.free;
  } finally {
    fs.closeSync(fd);
  }
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    const ids = async (sql: string) =>
      new Set((await connection.runAndReadAll(sql)).getRowObjectsJS().map((r) => Number(r.block_id)));
    const metadata = await ids('SELECT DISTINCT block_id FROM pragma_metadata_info()');
    const tables = (await connection.runAndReadAll('SELECT table_name FROM duckdb_tables()')).getRowObjectsJS();
    const data = new Set<number>();
    for (const { table_name } of tables) {
      const used = await ids(
        `SELECT DISTINCT block_id FROM pragma_storage_info('${String(table_name)}') WHERE block_id >= 0`,
      );
      for (const id of used) data.add(id);
    }
    const all = Array.from({ length: header.blockCount }, (_, i) => i);
    return {
      header,
      free: all.filter((i) => free.has(i)),
      metadata: all.filter((i) => metadata.has(i)),
      data: all.filter((i) => data.has(i)),
      index: all.filter((i) => !free.has(i) && !metadata.has(i) && !data.has(i)),
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Flips one bit of the byte at offset. */
export function flipByte(file: string, offset: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0x01;
    fs.writeSync(fd, byte, 0, 1, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Leaves a real write-ahead log beside a closed memory database, as a crash would: `count` messages, one
 * committed transaction each, that exist only in the log (no checkpoint at shutdown, none automatic).
 */
export async function leaveWalBehind(dbPath: string, count: number): Promise<void> {
  const instance = await DuckDBInstance.create(dbPath, { checkpoint_threshold: '1GB' });
  const connection = await instance.connect();
  try {
    await connection.run('PRAGMA disable_checkpoint_on_shutdown');
    for (let i = 1; i <= count; i++) {
      await connection.run(
        `INSERT INTO messages (conversation_id, role, content) VALUES (1, 'user', 'message kept only in the log ${i}')`,
      );
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  if (!fs.existsSync(`${dbPath}.wal`)) throw new Error('DuckDB left no write-ahead log');
}

/** Byte offsets of the WAL's entries (after the version entry, which is not size-prefixed). */
export function walEntryOffsets(wal: Buffer, versionEntryBytes: number): number[] {
  const offsets: number[] = [];
  for (let at = versionEntryBytes; at + 16 <= wal.length; at += 16 + Number(wal.readBigUInt64LE(at))) offsets.push(at);
  return offsets;
}
