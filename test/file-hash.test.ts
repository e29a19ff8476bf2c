import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFile } from '../workers/shared/file-hash.js';
import { tempDir } from './helpers/temp-dir.js';

// Backups made by earlier versions name their hash in the manifest; each algorithm must keep giving the digest
// it gave then, whichever library computes it. The empty-file values are the published test vectors; the others
// were recorded with @node-rs/xxhash (64-bit) and hash-wasm (128-bit), and sha256sum agrees with the last.

/** Bytes that differ from chunk to chunk, over more than one 4 MiB read, ending mid-chunk. */
function patterned(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

function fileOf(bytes: Buffer): string {
  const file = path.join(tempDir(), 'hashed');
  fs.writeFileSync(file, bytes);
  return file;
}

describe('file hashes named in manifests', () => {
  it('gives the canonical digests of an empty file', () => {
    const empty = fileOf(Buffer.alloc(0));
    expect(hashFile(empty, 'xxh3-64')).toEqual({ bytes: 0, hash: '2d06800538d394c2' });
    expect(hashFile(empty, 'xxh3-128')).toEqual({ bytes: 0, hash: '99aa06d3014798d86001c324468d497f' });
    expect(hashFile(empty, 'sha256').hash).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('gives the digests earlier backups recorded for a file read in several chunks', () => {
    const big = fileOf(patterned(9 * 1024 * 1024 + 12_345));
    expect(hashFile(big, 'xxh3-64').hash).toBe('b0a902d64596e3fd');
    expect(hashFile(big, 'xxh3-128').hash).toBe('b22f8f47adc3233fb0a902d64596e3fd');
    expect(hashFile(big, 'sha256').hash).toBe('cfec3cad1920131213fa7ed37bd835833bcab1ec68eae07fcda001d8cc1521a5');
  });
});
