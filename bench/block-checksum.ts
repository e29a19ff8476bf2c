import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { CopyEngine } from '../src/backup/copy-engine.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { checkFileBlocks } from '../workers/shared/duckdb-file/block-check.js';
import { duckdbChecksum, readBuffer } from '../workers/shared/duckdb-file/checksum.js';
import { BLOCK_BYTES, HEADERS_BYTES, HEADER_BYTES, NO_BLOCK } from '../workers/shared/duckdb-file/database-header.js';
import { median } from './reference-copies.js';

// What checking every DuckDB block's checksum costs a copy's verification (workers/shared/duckdb-file/block-check.ts):
// the copy engine's hash pass (XXH3-128, as a backup re-reads its copy) with and without the block check folded
// into the same read, and the block check alone with its own read. The file has the headers of a real memory
// database and `sizeMiB` of random blocks, each with its valid checksum (the cost is per byte, not per kind of
// block; random bytes stand for DuckDB's compressed columns). It is read once first, so the page cache holds it,
// as it holds a copy just written.
//
//   node dist/bench/block-checksum.js [sizeMiB=1024] [reps=5]

export interface BlockChecksumBenchOptions {
  sizeMiB: number;
  reps: number;
  dir: string;
  log?: (line: string) => void;
}

export interface BlockChecksumReport {
  sizeMiB: number;
  blocks: number;
  /** Medians, milliseconds. */
  hashMs: number;
  hashAndBlocksMs: number;
  blocksAloneMs: number;
  /** What the block check adds to the hash pass, per GiB. */
  addedMsPerGiB: number;
  /** The checksum arithmetic alone over 1 GiB already in memory (no read, no hash). */
  arithmeticMsPerGiB: number;
}

export async function benchBlockChecksum(options: BlockChecksumBenchOptions): Promise<BlockChecksumReport> {
  const log = options.log ?? (() => {});
  const file = path.join(options.dir, `block-checksum-${options.sizeMiB}.db`);
  const blocks = await writeDatabaseShapedFile(file, options.sizeMiB, options.dir);
  void fs.readFileSync(file).length;
  const engine = CopyEngine.start();
  const samples = { hash: [] as number[], both: [] as number[], alone: [] as number[], arithmetic: [] as number[] };
  try {
    await engine.hash(file, 'xxh3-64', undefined, { checkBlocks: true }); // threads loaded before timing
    for (let rep = 0; rep < options.reps; rep++) {
      let start = performance.now();
      await engine.hash(file, 'xxh3-128');
      samples.hash.push(performance.now() - start);
      start = performance.now();
      const { blocks: result } = await engine.hash(file, 'xxh3-128', undefined, { checkBlocks: true });
      samples.both.push(performance.now() - start);
      if (!result?.ok) throw new Error(`the bench file failed its block check: ${result?.detail}`);
      start = performance.now();
      checkFileBlocks(file);
      samples.alone.push(performance.now() - start);
      samples.arithmetic.push(arithmeticPerGiB());
      log(
        `  rep ${rep + 1}: hash ${samples.hash.at(-1)!.toFixed(0)} ms, hash + blocks ${samples.both.at(-1)!.toFixed(0)} ms,` +
          ` blocks alone ${samples.alone.at(-1)!.toFixed(0)} ms`,
      );
    }
  } finally {
    await engine.destroy();
    fs.rmSync(file, { force: true });
  }
  const hashMs = median(samples.hash);
  const hashAndBlocksMs = median(samples.both);
  const report = {
    sizeMiB: options.sizeMiB,
    blocks,
    hashMs,
    hashAndBlocksMs,
    blocksAloneMs: median(samples.alone),
    addedMsPerGiB: ((hashAndBlocksMs - hashMs) * 1024) / options.sizeMiB,
    arithmeticMsPerGiB: median(samples.arithmetic),
  };
  log(
    `  block checksums (${blocks} blocks, medians): hash pass ${report.hashMs.toFixed(0)} ms, with every block checked ` +
      `${report.hashAndBlocksMs.toFixed(0)} ms (+${report.addedMsPerGiB.toFixed(0)} ms/GiB), alone with its own read ` +
      `${report.blocksAloneMs.toFixed(0)} ms; the arithmetic alone ${report.arithmeticMsPerGiB.toFixed(0)} ms/GiB`,
  );
  return report;
}

/** 4,096 block checksums over bytes already in the WebAssembly memory: what the check costs without any read. */
function arithmeticPerGiB(): number {
  const memory = readBuffer();
  crypto.randomFillSync(memory);
  const start = performance.now();
  for (let round = 0; round < 256; round++) {
    for (let at = 0; at < memory.length; at += BLOCK_BYTES) duckdbChecksum(memory.subarray(at + 8, at + BLOCK_BYTES));
  }
  return performance.now() - start;
}

/** A real memory database's headers, claiming `sizeMiB` of blocks that follow, each with a valid checksum. */
async function writeDatabaseShapedFile(file: string, sizeMiB: number, dir: string): Promise<number> {
  const real = path.join(dir, 'block-checksum-headers.db');
  await (await MemoryStore.open(real)).close();
  const headers = Buffer.alloc(HEADERS_BYTES);
  const fd = fs.openSync(real, 'r');
  fs.readSync(fd, headers, 0, HEADERS_BYTES, 0);
  fs.closeSync(fd);
  fs.rmSync(real, { force: true });
  const blocks = Math.floor((sizeMiB * 2 ** 20) / BLOCK_BYTES);
  for (const at of [HEADER_BYTES, 2 * HEADER_BYTES]) {
    headers.writeBigUInt64LE(NO_BLOCK, at + 24); // no free list: every block is in use
    headers.writeBigUInt64LE(BigInt(blocks), at + 32);
    headers.writeBigUInt64LE(duckdbChecksum(headers.subarray(at + 8, at + HEADER_BYTES)), at);
  }
  const out = fs.openSync(file, 'w', 0o600);
  try {
    fs.writeSync(out, headers);
    const run = Buffer.alloc(16 * BLOCK_BYTES);
    for (let id = 0; id < blocks; id += 16) {
      const n = Math.min(16, blocks - id);
      crypto.randomFillSync(run);
      for (let b = 0; b < n; b++) {
        const block = run.subarray(b * BLOCK_BYTES, (b + 1) * BLOCK_BYTES);
        block.writeBigUInt64LE(duckdbChecksum(block.subarray(8)), 0);
      }
      fs.writeSync(out, run, 0, n * BLOCK_BYTES);
    }
  } finally {
    fs.closeSync(out);
  }
  return blocks;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [sizeMiB = 1024, reps = 5] = process.argv.slice(2).map(Number);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-bench-blocks-'));
  benchBlockChecksum({ sizeMiB, reps, dir, log: (line) => console.log(line) })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}
