import crypto from 'node:crypto';
import fs from 'node:fs';
import { createXXHash3, createXXHash128 } from 'hash-wasm';
import { BlockCheck, readFully } from './duckdb-file/block-check.js';
import type { BlockCheckResult } from './duckdb-file/block-check.js';
import { readBuffer } from './duckdb-file/checksum.js';
import { BLOCK_BYTES, HEADERS_BYTES } from './duckdb-file/database-header.js';

// Hashing a file by re-reading it from disk, in the thread that calls it (a piscina task: never the main thread
// for a big file). The manifest names the algorithm, so a backup is always checked with the hash it was made with.
//
// Chunk size matters twice over. Tiny chunks pay per call (a hundredfold slower at a few KiB); chunks bigger than
// the core's cache pay in memory traffic: the read copies a chunk out of the page cache and the hash then reads
// it again, from cache when it fits and from memory when it does not. Reading + XXH3-128 of a page-cached 1 GiB
// file on this project's 2-core bench machine (Node 20): 256 KiB chunks 450-510 ms, 1 MiB and 4 MiB 900-1100 ms;
// a plain read alone 235 ms at 128 KiB and 720 ms at 1 MiB. So a chunk is one DuckDB block (256 KiB), which also
// keeps the block check's chunks whole.

/**
 * Algorithms a manifest may name. `xxh3-128` (what new backups use) is the canonical XXH3-128 digest, hex, 32
 * digits, as `xxhsum -H2` prints it (read + hash of 1 GiB: 440 ms; bench/backup-copy.ts). `xxh3-64`, hex, 16
 * digits, is what backups of earlier versions named; it stays so that their manifests still verify. Both come
 * from hash-wasm, whose hashers can save and restore their state.
 */
export const HASH_ALGORITHMS = ['xxh3-128', 'xxh3-64', 'sha256'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(name);
}

/** An incremental hasher with one shape for every algorithm. */
export interface FileHasher {
  update(bytes: Uint8Array): void;
  /** Lower-case hex. */
  digest(): string;
}

// One WASM instance per algorithm and thread, made once; each hasher keeps its own saved state, so two hashers in
// one thread can be interleaved without mixing their bytes.
const wasm = { 'xxh3-128': await createXXHash128(), 'xxh3-64': await createXXHash3() };

export function createHasher(algorithm: HashAlgorithm): FileHasher {
  if (algorithm === 'sha256') {
    const h = crypto.createHash('sha256');
    return { update: (b) => void h.update(b), digest: () => h.digest('hex') };
  }
  const instance = wasm[algorithm];
  let state = instance.init().save();
  return {
    update: (b) => void (state = instance.load(state).update(b).save()),
    digest: () => instance.load(state).digest('hex'),
  };
}

export interface HashedFile {
  bytes: number;
  hash: string;
}

/** Reads the whole file and hashes it. Stops with an AbortError between chunks when signal aborts. */
export function hashFile(file: string, algorithm: HashAlgorithm, signal?: AbortSignal): HashedFile {
  const scanned = scanFile(file, { algorithm, cancelled: () => signal?.aborted ?? false });
  if (scanned === 'cancelled') {
    signal?.throwIfAborted();
    throw new Error('cancelled');
  }
  return { bytes: scanned.bytes, hash: scanned.hash! };
}

export interface ScanOptions {
  /** Hash the bytes with this algorithm. */
  algorithm?: HashAlgorithm | undefined;
  /** Check every DuckDB block's own checksum in the same read (workers/shared/duckdb-file/block-check.ts). */
  checkBlocks?: boolean | undefined;
  /** Polled between chunks. */
  cancelled?: (() => boolean) | undefined;
}

export interface ScannedFile {
  bytes: number;
  hash?: string | undefined;
  blocks?: BlockCheckResult | undefined;
}

/**
 * One sequential read of the file for both the hash and the block check: the bytes land in the block check's
 * WebAssembly memory and each chunk is hashed and checked there, so checking the blocks adds arithmetic, not a
 * second read (about +0.08 s/GiB measured this way; `npm run bench` measures it). The first read is the
 * 12,288 header bytes, then one block at a time, so no block straddles two chunks.
 */
export function scanFile(file: string, options: ScanOptions): ScannedFile | 'cancelled' {
  const hasher = options.algorithm ? createHasher(options.algorithm) : undefined;
  const blocks = options.checkBlocks ? new BlockCheck() : undefined;
  const buffer = readBuffer().subarray(0, BLOCK_BYTES);
  const fd = fs.openSync(file, 'r');
  try {
    let bytes = 0;
    for (let want = HEADERS_BYTES; ; want = buffer.length) {
      if (options.cancelled?.()) return 'cancelled';
      const chunk = buffer.subarray(0, readFully(fd, buffer.subarray(0, want), bytes));
      if (chunk.length > 0 || bytes === 0) {
        hasher?.update(chunk);
        blocks?.update(chunk);
      }
      bytes += chunk.length;
      if (chunk.length < want) break;
    }
    return { bytes, hash: hasher?.digest(), blocks: blocks?.finish(fd) };
  } finally {
    fs.closeSync(fd);
  }
}
