import crypto from 'node:crypto';
import fs from 'node:fs';
import { xxh3 } from '@node-rs/xxhash';
import { createXXHash128 } from 'hash-wasm';

// Hashing a file by re-reading it from disk, in the thread that calls it (a piscina task: never the main thread
// for a big file). Measured here (ARCHITECTURE.md): the XXH3 streaming class reads + hashes at about 2.4 GB/s,
// SHA-256 at 0.93 GB/s; chunk size changes speed a hundredfold, so chunks are large.
// The manifest names the algorithm, so a backup is always checked with the hash it was made with.

export const HASH_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Algorithms a manifest may name. `xxh3-128` (what new backups use) is the canonical XXH3-128 digest, hex, 32
 * digits, as `xxhsum -H2` prints it: @node-rs/xxhash has no streaming 128-bit class, so it comes from hash-wasm
 * (read + hash of 1 GiB: 440 ms, against 300 ms for the 64-bit native class and 890 ms for chunked one-shot
 * xxh128; bench/backup-copy.ts). `xxh3-64` is the streaming XXH3 of @node-rs/xxhash, hex, 16 digits.
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

// One WASM instance per thread, made once; each hasher keeps its own saved state, so two hashers in one thread
// can be interleaved without mixing their bytes.
const xxh128 = await createXXHash128();

export function createHasher(algorithm: HashAlgorithm): FileHasher {
  if (algorithm === 'xxh3-128') {
    let state = xxh128.init().save();
    return {
      update: (b) => void (state = xxh128.load(state).update(b).save()),
      digest: () => xxh128.load(state).digest('hex'),
    };
  }
  if (algorithm === 'sha256') {
    const h = crypto.createHash('sha256');
    return { update: (b) => void h.update(b), digest: () => h.digest('hex') };
  }
  const h = xxh3.Xxh3.withSeed();
  return { update: (b) => void h.update(b), digest: () => h.digest().toString(16).padStart(16, '0') };
}

export interface HashedFile {
  bytes: number;
  hash: string;
}

/** Reads the whole file and hashes it. Stops with an AbortError between chunks when signal aborts. */
export function hashFile(file: string, algorithm: HashAlgorithm, signal?: AbortSignal): HashedFile {
  const hasher = createHasher(algorithm);
  const buffer = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
  const fd = fs.openSync(file, 'r');
  let bytes = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hasher.update(buffer.subarray(0, n));
      bytes += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, hash: hasher.digest() };
}
