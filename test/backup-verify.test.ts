import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatVerifyOutcome, verifyBackup } from '../src/backup/verify.js';
import { manifestPathFor } from '../src/backup/types.js';
import { tempDir } from './helpers/temp-dir.js';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';
import { flipByte, makeMemoryWithIndex, mapBlocks } from './helpers/duckdb-blocks.js';
import { hashFile } from '../workers/shared/file-hash.js';
import { blockOffset } from '../workers/shared/duckdb-file/database-header.js';

// Each test verifies in a real piscina thread, against a real DuckDB file and the manifest beside it.
let source: string;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-verify-src-'));
  source = path.join(dir, 'memory.db');
  await addConversations(source, 200);
  return () => fs.rmSync(dir, { recursive: true, force: true });
});

const failed = (outcome: Awaited<ReturnType<typeof verifyBackup>>) =>
  (outcome.verification?.checks ?? []).filter((c) => !c.ok).map((c) => c.name);

describe('verifying a backup', () => {
  it('passes an intact backup, also after it was copied elsewhere with its manifest', async () => {
    const file = path.join(tempDir(), 'b.db');
    await handMadeBackup(source, file);
    const elsewhere = path.join(tempDir(), 'b.db');
    fs.copyFileSync(file, elsewhere);
    fs.copyFileSync(manifestPathFor(file), manifestPathFor(elsewhere));

    const outcome = await verifyBackup(elsewhere);
    expect(outcome.ok).toBe(true);
    expect(failed(outcome)).toEqual([]);
    expect(outcome.verification?.checks.map((c) => c.name)).toEqual(['size', 'hash', 'blocks', 'open', 'tables']);
    expect(formatVerifyOutcome(outcome).at(-1)).toMatch(/^Verdict: OK/);
  });

  it('catches one flipped byte', async () => {
    const file = path.join(tempDir(), 'b.db');
    await handMadeBackup(source, file);
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    const byte = Buffer.alloc(1);
    const at = Math.floor(size / 2);
    fs.readSync(fd, byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0x01;
    fs.writeSync(fd, byte, 0, 1, at);
    fs.closeSync(fd);

    const outcome = await verifyBackup(file);
    expect(outcome.ok).toBe(false);
    expect(failed(outcome)).toContain('hash');
    expect(formatVerifyOutcome(outcome).at(-1)).toMatch(/^Verdict: FAILED/);
  });

  it.each([
    ['to a third', (size: number) => Math.floor(size / 3)],
    ['to its first block', () => 1000],
  ])('catches a file truncated %s', async (_label, newSize) => {
    const file = path.join(tempDir(), 'b.db');
    await handMadeBackup(source, file);
    fs.truncateSync(file, newSize(fs.statSync(file).size));

    const outcome = await verifyBackup(file);
    expect(outcome.ok).toBe(false);
    const failures = failed(outcome);
    expect(failures.slice(0, 3)).toEqual(['size', 'hash', 'blocks']);
    // Depending on where the cut falls, DuckDB refuses to open it or fails while reading every row.
    expect(failures.some((name) => name === 'open' || name === 'tables')).toBe(true);
  });

  it('fails a backup whose index block is damaged although every row reads and matches, naming the block', async () => {
    const withIndex = path.join(tempDir(), 'memory.db');
    await makeMemoryWithIndex(withIndex);
    const { index } = await mapBlocks(withIndex);
    const file = path.join(tempDir(), 'b.db');
    const manifest = await handMadeBackup(withIndex, file);
    flipByte(file, blockOffset(index[0]!) + 4000);
    // The manifest describes the damaged file, as when the live database already had the bad block when it was
    // backed up: only DuckDB's own block checksum can tell.
    const { hash } = hashFile(file, 'xxh3-64');
    fs.writeFileSync(
      manifestPathFor(file),
      JSON.stringify({ ...manifest, hash: { algorithm: 'xxh3-64', value: hash } }),
    );

    const outcome = await verifyBackup(file);
    expect(failed(outcome)).toEqual(['blocks']);
    const lines = formatVerifyOutcome(outcome);
    expect(lines.join('\n')).toMatch(/tables\s+ok\s+.*every row read and matching/);
    expect(lines.join('\n')).toContain(`blocks    FAILED  a block fails DuckDB's checksum: block ${index[0]} at byte`);
    expect(lines.at(-1)).toMatch(/^Verdict: FAILED/);
  });

  it('catches rows that differ from the manifest figures', async () => {
    const file = path.join(tempDir(), 'b.db');
    const manifest = await handMadeBackup(source, file);
    manifest.tables.messages = { rows: 1, hash: '1' };
    fs.writeFileSync(manifestPathFor(file), JSON.stringify(manifest));

    const outcome = await verifyBackup(file);
    expect(failed(outcome)).toEqual(['tables']);
    expect(outcome.verification?.mismatchedTables).toEqual(['messages']);
  });

  it('fails a file without a manifest, saying so, without opening it', async () => {
    const file = path.join(tempDir(), 'stray.db');
    fs.copyFileSync(source, file);
    const outcome = await verifyBackup(file);
    expect(outcome.ok).toBe(false);
    expect(outcome.manifestProblem).toMatch(/^no manifest/);
    expect(outcome.verification).toBeUndefined();
  });

  it('notes a renamed backup and still verifies its contents', async () => {
    const dir = tempDir();
    await handMadeBackup(source, path.join(dir, 'a.db'));
    fs.renameSync(path.join(dir, 'a.db'), path.join(dir, 'renamed.db'));
    fs.renameSync(manifestPathFor(path.join(dir, 'a.db')), manifestPathFor(path.join(dir, 'renamed.db')));
    const outcome = await verifyBackup(path.join(dir, 'renamed.db'));
    expect(outcome.ok).toBe(true);
    expect(outcome.notes.join()).toMatch(/written for a\.db/);
  });

  it('refuses a path with no file', async () => {
    await expect(verifyBackup(path.join(tempDir(), 'nothing.db'))).rejects.toThrow(/no backup at/);
  });
});
