import fs from 'node:fs';
import { duckdbChecksum } from './checksum.js';
import { BLOCK_BYTES, NO_BLOCK, blockOffset } from './database-header.js';
import type { DatabaseHeader } from './database-header.js';

// The free list: the blocks DuckDB will never read again and may overwrite (single_file_block_manager.cpp,
// LoadFreeList/WriteHeader). It is stored in metadata blocks: a 256 KiB block cut into 64 sub-blocks of 4,088
// bytes (metadata_manager.cpp: (block size - 8) / 64, rounded down to 8), each starting with the pointer to the
// next sub-block (all ones at the end). The list is a u64 count, then that many i64 block ids.
// Blocks past the end of a file are harmless only if they are on this list: DuckDB cuts trailing free blocks
// after writing the header, so the header's block count can exceed what the file holds.

const SUB_BLOCKS = 64;
const SUB_BLOCK_BYTES = Math.floor((BLOCK_BYTES - 8) / SUB_BLOCKS / 8) * 8;

export type FreeListReading = { ok: true; free: Set<number> } | { ok: false; reason: string };

/**
 * Reads the free list of the header in force. `trusted(id)` says whether a block's checksum was already checked;
 * other metadata blocks are read whole and checked here, since a free list read from a damaged block would
 * excuse anything.
 */
export function readFreeList(fd: number, header: DatabaseHeader, trusted: (id: number) => boolean): FreeListReading {
  const free = new Set<number>();
  if (header.freeList === NO_BLOCK) return { ok: true, free };
  const checked = new Map<number, Buffer>();
  const block = (id: number): Buffer | string => {
    const known = checked.get(id);
    if (known) return known;
    if (id < 0 || id >= header.blockCount) return `the free list points at block ${id}, outside the database`;
    const bytes = Buffer.alloc(BLOCK_BYTES);
    const n = fs.readSync(fd, bytes, 0, BLOCK_BYTES, blockOffset(id));
    if (n < BLOCK_BYTES) return `the free list is in block ${id}, which the file does not hold`;
    if (!trusted(id) && bytes.readBigUInt64LE(0) !== duckdbChecksum(bytes.subarray(8))) {
      return `the free list is in block ${id}, which fails its checksum`;
    }
    checked.set(id, bytes);
    return bytes;
  };

  let pointer = header.freeList;
  let sub: Buffer | undefined;
  let at = 0;
  let hops = 0;
  // Reads n bytes of the list, following the chain of sub-blocks as MetadataReader does.
  const read = (n: number): Buffer | string => {
    const out = Buffer.alloc(n);
    let filled = 0;
    while (filled < n) {
      if (!sub || at === SUB_BLOCK_BYTES) {
        if (pointer === NO_BLOCK) return 'the free list ends early';
        if (++hops > header.blockCount * SUB_BLOCKS) return 'the free list loops';
        const id = Number(pointer & 0xffffffffffffffn);
        const index = Number(pointer >> 56n);
        if (index >= SUB_BLOCKS) return `the free list points at sub-block ${index} of block ${id}`;
        const bytes = block(id);
        if (typeof bytes === 'string') return bytes;
        sub = bytes.subarray(8 + index * SUB_BLOCK_BYTES, 8 + (index + 1) * SUB_BLOCK_BYTES);
        pointer = sub.readBigUInt64LE(0);
        at = 8;
      }
      const take = Math.min(n - filled, SUB_BLOCK_BYTES - at);
      sub.copy(out, filled, at, at + take);
      filled += take;
      at += take;
    }
    return out;
  };

  const count = read(8);
  if (typeof count === 'string') return { ok: false, reason: count };
  const entries = count.readBigUInt64LE(0);
  if (entries > BigInt(header.blockCount)) return { ok: false, reason: `the free list claims ${entries} blocks` };
  for (let i = 0; i < Number(entries); i++) {
    const id = read(8);
    if (typeof id === 'string') return { ok: false, reason: id };
    free.add(Number(id.readBigInt64LE(0)));
  }
  return { ok: true, free };
}
