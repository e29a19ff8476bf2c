import { duckdbChecksum } from './checksum.js';

// The first 12,288 bytes of a DuckDB database file (src/storage/single_file_block_manager.cpp, 1.5.5): three
// 4 KiB headers, each an 8-byte checksum then 4,088 bytes of payload. The main header says "DUCK", the storage
// version and the flags (bit 0: encrypted); the two database headers alternate at each checkpoint and the one
// with the higher iteration is in force: it holds the block count, the block size and where the free list is.
// Blocks follow: block i at 12,288 + i * block size, each its own 8-byte checksum then the payload.
//
// This rests on the file format, not an API, so it accepts only what it was checked against: the storage
// versions DuckDB 1.5.5 reads (64-68, DuckDB 1.0-1.5), 256 KiB blocks, no encryption. Anything else is "unknown",
// never a guess.

export const HEADER_BYTES = 4096;
export const HEADERS_BYTES = 3 * HEADER_BYTES;
export const BLOCK_BYTES = 262_144;
/** DuckDB writes INVALID_INDEX (all ones) where a database header has no free list or no metadata yet. */
export const NO_BLOCK = 0xffffffffffffffffn;
const KNOWN_VERSIONS = { min: 64n, max: 68n };

export interface DatabaseHeader {
  storageVersion: number;
  /** The main header's 16-byte database identifier (zero before storage version 67); a WAL names it too. */
  identifier: Uint8Array;
  iteration: bigint;
  blockCount: number;
  blockBytes: number;
  /** MetaBlockPointer of the free list (block id in the low 56 bits, sub-block index in the high 8), or NO_BLOCK. */
  freeList: bigint;
}

export type HeaderReading =
  | { kind: 'ok'; header: DatabaseHeader }
  /** Not a DuckDB file at all (no "DUCK" magic): DuckDB itself says so when opening it. */
  | { kind: 'foreign' }
  /** A DuckDB file whose format this code does not know: it says what, and checks nothing. */
  | { kind: 'unknown'; reason: string }
  /** A DuckDB file whose headers are cut short or fail their checksum. */
  | { kind: 'damaged'; reason: string };

/** Reads the three headers from the file's first bytes (fewer than 12,288 when the file is shorter). */
export function readDatabaseHeader(start: Uint8Array): HeaderReading {
  if (start.length < 12 || Buffer.from(start.subarray(8, 12)).toString('latin1') !== 'DUCK') return { kind: 'foreign' };
  if (start.length < HEADERS_BYTES) {
    return { kind: 'damaged', reason: `the file is ${start.length} bytes, shorter than DuckDB's own headers` };
  }
  const view = new DataView(start.buffer, start.byteOffset, HEADERS_BYTES);
  const version = view.getBigUint64(12, true);
  if (version < KNOWN_VERSIONS.min || version > KNOWN_VERSIONS.max) {
    return { kind: 'unknown', reason: `storage version ${version} (nu-agent checks versions 64 to 68)` };
  }
  const flags = [20, 28, 36, 44].map((at) => view.getBigUint64(at, true));
  if ((flags[0]! & 1n) !== 0n) return { kind: 'unknown', reason: 'the database is encrypted' };
  if (flags.some((f) => f !== 0n))
    return { kind: 'unknown', reason: 'the main header has flags nu-agent does not know' };
  for (const [i, name] of ['main header', 'first database header', 'second database header'].entries()) {
    const at = i * HEADER_BYTES;
    const stored = view.getBigUint64(at, true);
    const computed = duckdbChecksum(start.subarray(at + 8, at + HEADER_BYTES));
    if (stored !== computed) return { kind: 'damaged', reason: `the ${name} (byte ${at}) fails its checksum` };
  }
  const [first, second] = [HEADER_BYTES, 2 * HEADER_BYTES].map((at) => ({
    iteration: view.getBigUint64(at + 8, true),
    freeList: view.getBigUint64(at + 24, true),
    blockCount: view.getBigUint64(at + 32, true),
    blockBytes: view.getBigUint64(at + 40, true),
  }));
  // DuckDB: the first is in force only when its iteration is strictly higher.
  const active = first!.iteration > second!.iteration ? first! : second!;
  // A zero block size is the pre-1.2 default, 256 KiB (DatabaseHeader::Read).
  const blockBytes = active.blockBytes === 0n ? BigInt(BLOCK_BYTES) : active.blockBytes;
  if (blockBytes !== BigInt(BLOCK_BYTES)) {
    return { kind: 'unknown', reason: `block size ${blockBytes} (nu-agent checks ${BLOCK_BYTES}-byte blocks)` };
  }
  if (active.blockCount > BigInt(Number.MAX_SAFE_INTEGER) / blockBytes) {
    return { kind: 'damaged', reason: `the database header claims ${active.blockCount} blocks` };
  }
  return {
    kind: 'ok',
    header: {
      storageVersion: Number(version),
      identifier: start.slice(124, 140),
      iteration: active.iteration,
      blockCount: Number(active.blockCount),
      blockBytes: BLOCK_BYTES,
      freeList: active.freeList,
    },
  };
}

/** Byte offset of block id in the file. */
export const blockOffset = (id: number) => HEADERS_BYTES + id * BLOCK_BYTES;
