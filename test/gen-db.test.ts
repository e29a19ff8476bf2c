import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.js';
import { addConversations } from './helpers/hand-made-backup.js';
import { tempDir } from './helpers/temp-dir.js';

// `npm run gen-db -- --size N --into FILE` (the compiled bench/gen-db.js): makes a memory of about N MiB, grows
// an existing one without touching its rows, and never deletes a file.

const GEN_DB = fileURLToPath(new URL('../dist/bench/gen-db.js', import.meta.url));

function genDb(...args: string[]) {
  const run = spawnSync(process.execPath, [GEN_DB, ...args], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

async function titles(file: string): Promise<{ count: number; mine: string[] }> {
  const store = await MemoryStore.open(file);
  try {
    const [row] = await store.all<{ n: bigint }>(`SELECT count(*) AS n FROM conversations`);
    const mine = await store.all<{ title: string }>(`SELECT title FROM conversations WHERE title LIKE 'mine %'`);
    return { count: Number(row!.n), mine: mine.map((r) => r.title) };
  } finally {
    await store.close();
  }
}

describe('npm run gen-db', { timeout: 120_000 }, () => {
  it('creates a private memory of about the size asked for', () => {
    const file = path.join(tempDir(), 'memory.db');
    const run = genDb('--size', '4', '--into', file);
    expect(run.stderr).not.toContain('Error');
    expect(run.code).toBe(0);
    expect(fs.statSync(file).size).toBeGreaterThanOrEqual(4 * 2 ** 20);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('grows an existing memory, keeping its own conversations, and a chat on it afterwards gets a fresh id', async () => {
    const file = path.join(tempDir(), 'memory.db');
    await addConversations(file, 3, 'mine');
    const before = fs.statSync(file).size;
    const run = genDb('--size', '4', '--into', file);
    expect(run.stderr).not.toContain('Error');
    expect(run.code).toBe(0);
    expect(fs.statSync(file).size).toBeGreaterThan(before);
    const after = await titles(file);
    expect(after.mine).toEqual(['mine 0', 'mine 1', 'mine 2']);
    expect(after.count).toBeGreaterThan(3);
    // The sequences were moved past the generated ids: a new conversation inserts without a key conflict.
    await addConversations(file, 1, 'later');
    expect((await titles(file)).count).toBe(after.count + 1);
  });

  it('refuses a file that is not a nu-agent memory and leaves it as it was', () => {
    const dir = tempDir();
    const file = path.join(dir, 'notes.db');
    fs.writeFileSync(file, 'my notes\n');
    fs.writeFileSync(`${file}.wal`, 'not mine either\n');
    const run = genDb('--size', '4', '--into', file);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is not a DuckDB database file');
    expect(fs.readFileSync(file, 'utf8')).toBe('my notes\n');
    expect(fs.readFileSync(`${file}.wal`, 'utf8')).toBe('not mine either\n');
  });

  it('says how to use it when --size or --into is missing', () => {
    const run = genDb('--size', '4');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("required option '--into <file>'");
  });
});
