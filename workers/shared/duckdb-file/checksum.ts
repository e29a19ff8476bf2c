// DuckDB's checksum (src/common/checksum.cpp, unchanged from 1.0 to 1.5.5): start from 5381 and XOR in every
// little-endian 64-bit word multiplied by 0xbf58476d1ce4e5b9 (mod 2^64); 0-7 trailing bytes go through a
// murmur-style remainder hash. Every 256 KiB block, the three 4 KiB file headers and every WAL entry carry it.
//
// The word loop is a 210-byte WebAssembly function (listing below): i64.mul is one instruction there, while plain
// JS needs BigInt (22 s/GiB here) or 16-bit pieces with Math.imul and floating point (1.3-2.2 s/GiB); the WASM loop
// ran at 0.08-0.1 s/GiB over data already in memory. Callers that read a whole file read straight into the
// module's memory (readBuffer), so the bytes are never copied before they are checked.

const K = 0xbf58476d1ce4e5b9n;
const M = 0xc6a4a7935bd1e995n;
const MASK = 0xffffffffffffffffn;

/** Bytes of WASM memory callers may read a file into (64 pages, 4 MiB); the module has one more page. */
export const READ_BUFFER_BYTES = 4 * 1024 * 1024;
/** The last page: where bytes from elsewhere are copied to be checksummed. */
const SCRATCH_BYTES = 64 * 1024;

// (func (export "sum") (param $ptr i32) (param $len i32) (result i64)   ;; len: a multiple of 8
//   (local $acc i64) (local $end i32)
//   $end = $ptr + $len
//   while ($ptr + 32 <= $end) { $acc ^= K*[ptr] ^ K*[ptr+8] ^ K*[ptr+16] ^ K*[ptr+24]; $ptr += 32 }
//   while ($ptr < $end)       { $acc ^= K*[ptr]; $ptr += 8 }
//   return $acc)
const K_LEB = [0xb9, 0xcb, 0x93, 0xe7, 0xd1, 0xed, 0x91, 0xac, 0xbf, 0x7f]; // i64.const K, signed LEB128
const xorProduct = (offset: number) => [0x20, 0x00, 0x29, 0x03, offset, 0x42, ...K_LEB, 0x7e, 0x85];
const body = [
  ...[0x02, 0x01, 0x7e, 0x01, 0x7f], // locals: $acc i64, $end i32
  ...[0x20, 0x00, 0x20, 0x01, 0x6a, 0x21, 0x03], // $end = $ptr + $len
  ...[0x02, 0x40, 0x03, 0x40], // block, loop
  ...[0x20, 0x00, 0x41, 0x20, 0x6a, 0x20, 0x03, 0x4b, 0x0d, 0x01], // br_if out when $ptr + 32 > $end
  ...[0x20, 0x02, ...xorProduct(0), ...xorProduct(8), ...xorProduct(16), ...xorProduct(24), 0x21, 0x02],
  ...[0x20, 0x00, 0x41, 0x20, 0x6a, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b], // $ptr += 32, continue; end end
  ...[0x02, 0x40, 0x03, 0x40], // block, loop
  ...[0x20, 0x00, 0x20, 0x03, 0x4f, 0x0d, 0x01], // br_if out when $ptr >= $end
  ...[0x20, 0x02, ...xorProduct(0), 0x21, 0x02],
  ...[0x20, 0x00, 0x41, 0x08, 0x6a, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b], // $ptr += 8, continue; end end
  ...[0x20, 0x02, 0x0b], // return $acc
];
const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
const ascii = (s: string) => [...Buffer.from(s, 'ascii')];
const wasm = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7e]), // one type: (i32, i32) -> i64
  ...section(3, [0x01, 0x00]), // one function of that type
  ...section(5, [0x01, 0x00, 0x41]), // one memory, 65 pages
  ...section(7, [0x02, 0x06, ...ascii('memory'), 0x02, 0x00, 0x03, ...ascii('sum'), 0x00, 0x00]),
  ...section(10, [0x01, ...uleb(body.length), ...body]),
]);

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

// One instance per thread, made once (synchronously: the module is tiny). Node has WebAssembly; the compiler's
// ES2023 library (no DOM) does not declare it, hence the small local type.
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
const { Module, Instance } = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;
const instance = new Instance(new Module(wasm));
const memory = instance.exports.memory as { buffer: ArrayBuffer };
const sumWords = instance.exports.sum as (ptr: number, len: number) => bigint;
const heap = new Uint8Array(memory.buffer); // never grown, so this view stays valid

/** A view of the module's memory to read file bytes into; checksums of bytes there need no copy. */
export function readBuffer(): Uint8Array {
  return heap.subarray(0, READ_BUFFER_BYTES);
}

/** DuckDB's Checksum(buffer, size) of these bytes, as an unsigned 64-bit bigint. */
export function duckdbChecksum(bytes: Uint8Array): bigint {
  const words = bytes.length - (bytes.length % 8);
  let acc = 0n;
  if (bytes.buffer === memory.buffer) {
    acc = sumWords(bytes.byteOffset, words);
  } else {
    // Through the page after the read buffer, so a caller's bytes in the read buffer are never overwritten.
    for (let at = 0; at < words; at += SCRATCH_BYTES) {
      const piece = Math.min(SCRATCH_BYTES, words - at);
      heap.set(bytes.subarray(at, at + piece), READ_BUFFER_BYTES);
      acc ^= sumWords(READ_BUFFER_BYTES, piece);
    }
  }
  let result = (5381n ^ BigInt.asUintN(64, acc)) & MASK;
  if (words < bytes.length) result ^= remainderHash(bytes.subarray(words));
  return result;
}

/** ChecksumRemainder: robin-hood-hashing's hash_bytes over the 1-7 bytes that do not fill a word. */
function remainderHash(tail: Uint8Array): bigint {
  let h = (0xe17a1465n ^ ((BigInt(tail.length) * M) & MASK)) & MASK;
  let k = 0n;
  for (let i = tail.length - 1; i >= 0; i--) k = (k << 8n) | BigInt(tail[i]!);
  h = ((h ^ k) * M) & MASK;
  h ^= h >> 47n;
  h = (h * M) & MASK;
  h ^= h >> 47n;
  return h;
}

/** The reference definition, word by word in BigInt: slow, for tests that check the fast path against it. */
export function duckdbChecksumReference(bytes: Uint8Array): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words = bytes.length - (bytes.length % 8);
  let result = 5381n;
  for (let at = 0; at < words; at += 8) result ^= (view.getBigUint64(at, true) * K) & MASK;
  if (words < bytes.length) result ^= remainderHash(bytes.subarray(words));
  return result;
}
