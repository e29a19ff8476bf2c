import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTableFigures } from '../workers/shared/table-figures.js';
import { checkFileBlocks, checkFileLength } from '../workers/shared/duckdb-file/block-check.js';
import { duckdbChecksum, duckdbChecksumReference, readBuffer } from '../workers/shared/duckdb-file/checksum.js';
import { blockOffset } from '../workers/shared/duckdb-file/database-header.js';
import { tempDir } from './helpers/temp-dir.js';
import { flipByte, makeMemoryWithIndex, mapBlocks } from './helpers/duckdb-blocks.js';
import type { BlockMap } from './helpers/duckdb-blocks.js';

// DuckDB's own block checksums, recomputed over real files made by the app's schema. The format is DuckDB's, not
// an API: these tests pin it (1.5.5, storage version 64, 256 KiB blocks).

let source: string;
let map: BlockMap;
let figures: string;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-blocks-'));
  source = path.join(dir, 'memory.db');
  await makeMemoryWithIndex(source);
  map = await mapBlocks(source);
  figures = await fullRowRead(source);
  return () => fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** What `backup verify` checked before the block check: a read-only open and every row of every table. */
async function fullRowRead(file: string): Promise<string> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    return JSON.stringify(await readTableFigures(connection));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function copyOfSource(): string {
  const file = path.join(tempDir(), 'copy.db');
  fs.copyFileSync(source, file);
  return file;
}

describe("DuckDB's checksum", () => {
  it('is computed in WebAssembly exactly as the word-by-word definition, at any length and in any memory', () => {
    const random = crypto.randomBytes(4 * 1024 * 1024 + 24 + 5);
    for (const length of [0, 1, 7, 8, 9, 31, 32, 33, 4088, 262_136, random.length]) {
      const bytes = random.subarray(0, length);
      expect(duckdbChecksum(bytes)).toBe(duckdbChecksumReference(bytes));
    }
    const inWasm = readBuffer().subarray(0, 262_136);
    inWasm.set(random.subarray(0, inWasm.length));
    expect(duckdbChecksum(inWasm)).toBe(duckdbChecksumReference(random.subarray(0, inWasm.length)));
  });

  it('leaves the bytes read into its memory alone while it checksums bytes from elsewhere', () => {
    const read = readBuffer();
    crypto.randomFillSync(read);
    const before = Buffer.from(read);
    duckdbChecksum(crypto.randomBytes(300_000));
    expect(Buffer.from(read).equals(before)).toBe(true);
  });

  it('matches the checksum DuckDB stored in every block in use of a real file', () => {
    const bytes = fs.readFileSync(source);
    for (const id of [...map.metadata, ...map.data, ...map.index]) {
      const at = blockOffset(id);
      expect(duckdbChecksum(bytes.subarray(at + 8, at + 262_144))).toBe(bytes.readBigUInt64LE(at));
    }
  });
});

describe('checking every block of a database file', () => {
  it('passes a clean memory database, with free blocks and with trailing free blocks cut off the file', () => {
    expect(map.index.length).toBeGreaterThan(0);
    expect(map.free.length).toBeGreaterThan(0);
    // DuckDB cut trailing free blocks after writing the header: the file is shorter than the header's count.
    expect(fs.statSync(source).size).toBeLessThan(blockOffset(map.header.blockCount));
    const result = checkFileBlocks(source);
    expect(result).toMatchObject({ ok: true, damaged: [] });
    expect(checkFileLength(source)).toEqual({ ok: true });
  });

  it('fails a flipped byte in each primary-key index block, which the full-row read passes, and names the block', async () => {
    for (const id of map.index) {
      const file = copyOfSource();
      flipByte(file, blockOffset(id) + 8 + 1000);
      expect(await fullRowRead(file)).toBe(figures);
      const result = checkFileBlocks(file);
      expect(result.ok).toBe(false);
      expect(result.damaged).toEqual([id]);
      expect(result.detail).toContain(`block ${id} at byte ${blockOffset(id).toLocaleString('en-US')}`);
    }
  });

  it('fails a flipped byte in a metadata block and in a data block', () => {
    for (const id of [map.metadata.at(-1)!, map.data[0]!]) {
      const file = copyOfSource();
      flipByte(file, blockOffset(id) + 200_000);
      const result = checkFileBlocks(file);
      expect(result.ok).toBe(false);
      expect(result.damaged).toContain(id);
    }
  });

  it('raises no alarm for a flipped byte in a free block: DuckDB never reads it again', () => {
    const size = fs.statSync(source).size;
    const inFile = map.free.filter((id) => blockOffset(id + 1) <= size);
    expect(inFile.length).toBeGreaterThan(0);
    const file = copyOfSource();
    flipByte(file, blockOffset(inFile[0]!) + 5000);
    expect(checkFileBlocks(file)).toMatchObject({ ok: true });
  });

  it('fails a file cut short of a block in use, in the full check and in the length check', () => {
    const lastInUse = Math.max(...map.data, ...map.index, ...map.metadata);
    const file = copyOfSource();
    fs.truncateSync(file, blockOffset(lastInUse) + 4096);
    const result = checkFileBlocks(file);
    expect(result.ok).toBe(false);
    expect(result.damaged).toContain(lastInUse);
    expect(result.detail).toMatch(/missing from the end/);
    const length = checkFileLength(file);
    expect(length.ok).toBe(false);
    expect(!length.ok && length.detail).toContain(`block ${lastInUse}`);
  });

  it('fails a damaged file header', () => {
    const file = copyOfSource();
    flipByte(file, 4096 + 100);
    expect(checkFileBlocks(file)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/database header .* checksum/),
    });
  });

  it('refuses to judge an encrypted file, another block size, an unknown version, or a file that is not DuckDB', () => {
    const rewrite = (edit: (bytes: Buffer) => void) => {
      const file = copyOfSource();
      const bytes = fs.readFileSync(file);
      edit(bytes);
      // Valid checksums again, so only the format itself is unknown.
      for (const at of [0, 4096, 8192]) bytes.writeBigUInt64LE(duckdbChecksum(bytes.subarray(at + 8, at + 4096)), at);
      fs.writeFileSync(file, bytes);
      return checkFileBlocks(file);
    };
    expect(rewrite((b) => b.writeBigUInt64LE(1n, 20))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/encrypted/),
    });
    expect(
      rewrite((b) => {
        b.writeBigUInt64LE(16_384n, 4096 + 40);
        b.writeBigUInt64LE(16_384n, 8192 + 40);
      }),
    ).toMatchObject({ ok: false, detail: expect.stringMatching(/block size 16384/) });
    expect(rewrite((b) => b.writeBigUInt64LE(99n, 12))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/storage version 99/),
    });
    const text = path.join(tempDir(), 'notes.db');
    fs.writeFileSync(text, 'just some text, not a database\n'.repeat(1000));
    expect(checkFileBlocks(text)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/not a DuckDB database file/),
    });
  });
});
