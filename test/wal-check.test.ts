import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.js';
import { walkWal } from '../src/store/wal-check.js';
import { leaveWalBehind } from './helpers/duckdb-blocks.js';
import { tempDir } from './helpers/temp-dir.js';

// The WAL walk against a real log written by DuckDB 1.5.5 for the app's schema: it pins the entry format
// (sizes, checksums with their 0-7 byte remainders, the version entry, the commit marks).

async function realWal(): Promise<Buffer> {
  const db = path.join(tempDir(), 'memory.db');
  const store = await MemoryStore.open(db);
  await store.run(`INSERT INTO conversations (id, title) VALUES (1, 'chat')`);
  await store.close();
  await leaveWalBehind(db, 20);
  return fs.readFileSync(`${db}.wal`);
}

describe('walking a write-ahead log', () => {
  it('accepts a clean log and counts its committed transactions', async () => {
    const wal = await realWal();
    expect(walkWal(wal)).toEqual({
      ok: true,
      bytes: wal.length,
      commits: 20,
      replayableBytes: wal.length,
      uncommittedEntries: 0,
    });
  });

  it('finds every single flipped byte, wherever it is', async () => {
    const wal = await realWal();
    const missed: number[] = [];
    for (let at = 0; at < wal.length; at++) {
      const damaged = Buffer.from(wal);
      damaged[at] = damaged[at]! ^ 0x10;
      if (walkWal(damaged).ok) missed.push(at);
    }
    expect(missed).toEqual([]);
  });

  it('finds a log cut inside an entry, and says how much DuckDB can replay', async () => {
    const wal = await realWal();
    const walk = walkWal(wal.subarray(0, wal.length - 3));
    expect(walk.ok).toBe(false);
    expect(walk.problem).toMatch(/past the end of the log/);
    expect(walk.commits).toBe(19);
    expect(walk.replayableBytes).toBeLessThan(wal.length);
  });
});
