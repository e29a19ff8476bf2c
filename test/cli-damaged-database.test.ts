import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { handMadeBackup } from './helpers/hand-made-backup.js';
import { flipByte, leaveWalBehind, makeMemoryWithIndex, mapBlocks, walEntryOffsets } from './helpers/duckdb-blocks.js';
import { blockOffset } from '../workers/shared/duckdb-file/database-header.js';
import { runCli, withoutWaitLines } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';
import { MemoryStore } from '../src/store/memory-store.js';

// The spawned CLI on a damaged memory file: refused at start-up with a way out that works, and a damaged
// write-ahead log reported loudly with the copy kept.

describe('nu-agent on a damaged memory file', { timeout: 120_000 }, () => {
  it('refuses a file cut to half its size; the Try line (backup list, move aside, restore) brings the memory back', async () => {
    const dir = tempDir();
    const home = path.join(dir, 'home');
    const db = path.join(dir, 'memory.db');
    await makeMemoryWithIndex(db, 20_000);
    fs.mkdirSync(path.join(dir, 'backups'));
    const backup = path.join(dir, 'backups', 'memory-good.db');
    await handMadeBackup(db, backup);
    fs.truncateSync(db, Math.floor(fs.statSync(db).size / 2));
    const env = { NUAGENT_HOME: home };

    const start = await runCli(['--database', db], '/info\n', { env });
    expect(start.code).toBe(1);
    expect(start.stdout).toBe('');
    const [error, hint] = start.stderr.trimEnd().split('\n');
    expect(error).toMatch(new RegExp(`^Error: ${db} is damaged and was not opened: the file ends at byte`));
    expect(hint).toMatch(/^Try: `nu-agent backup list` shows your backups; move the damaged file aside/);
    expect(fs.readdirSync(dir).sort()).toEqual(['backups', 'memory.db']);

    const list = await runCli(['--database', db, 'backup', 'list', path.join(dir, 'backups')], '', { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('memory-good.db');

    fs.renameSync(db, `${db}.damaged`);
    const restore = await runCli(['--database', db, 'backup', 'restore', backup, '--yes'], '', { env });
    expect(withoutWaitLines(restore.stderr)).toBe('');
    expect(restore.code).toBe(0);
    const info = await runCli(['--database', db], '/info\n', { env });
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/messages\s+20[,.]?000/);
  });

  it('refuses to restore a backup whose index block is damaged, although every row of it reads, and changes nothing', async () => {
    const dir = tempDir();
    const env = { NUAGENT_HOME: path.join(dir, 'home') };
    const source = path.join(dir, 'source.db');
    await makeMemoryWithIndex(source, 20_000);
    const { index } = await mapBlocks(source);
    flipByte(source, blockOffset(index[0]!) + 4000);
    const backup = path.join(dir, 'b.db');
    await handMadeBackup(source, backup); // made from the damaged file: its hash and rows match the manifest
    const db = path.join(dir, 'memory.db');
    await (await MemoryStore.open(db)).close();
    const before = fs.readFileSync(db);

    const run = await runCli(['--database', db, 'backup', 'restore', backup, '--yes'], '', { env });
    expect(run.code).toBe(3);
    expect(run.stdout + run.stderr).toContain(`a block fails DuckDB's checksum: block ${index[0]} at byte`);
    expect(run.stdout + run.stderr).not.toMatch(/^Restored/m);
    expect(fs.readFileSync(db).equals(before)).toBe(true);
  });

  it('warns on stderr about a damaged write-ahead log, keeps its copy, and carries on', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'memory.db');
    const store = await MemoryStore.open(db);
    await store.run(`INSERT INTO conversations (id, title) VALUES (1, 'chat')`);
    await store.close();
    await leaveWalBehind(db, 20);
    const wal = fs.readFileSync(`${db}.wal`);
    const at = walEntryOffsets(wal, 8)[30]!;
    wal[at + 4] = wal[at + 4]! ^ 0x01;
    fs.writeFileSync(`${db}.wal`, wal);

    const run = await runCli(['--database', db], '/info\n', { env: { NUAGENT_HOME: path.join(dir, 'home') } });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^Warning: the write-ahead log of .* was damaged: the entry at byte \d+ claims/m);
    expect(run.stderr).toMatch(/Try: .*nu-agent backup list/);
    const kept = fs.readdirSync(dir).filter((n) => n.startsWith('memory.db.wal.kept-'));
    expect(kept).toHaveLength(1);
    expect(run.stderr).toContain(path.join(dir, kept[0]!));
  });
});
