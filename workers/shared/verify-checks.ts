import type { BlockCheckResult } from './duckdb-file/block-check.js';
import type { VerifyCheck } from './copy-engine-protocol.js';

// Verdict lines shared by the verify task (verify-backup.ts) and the main side that adds the checks of a hash pass
// run in the other pool thread (src/backup/copy-engine.ts); no DuckDB here, so the main side loads none for it.

/** expected undefined: a fresh reflink clone, whose hash is read only now (it is what the manifest records). */
export function hashCheck(algorithm: string, actual: string, expected: string | undefined): VerifyCheck {
  if (expected === undefined) return { name: 'hash', ok: true, detail: `${algorithm} ${actual} (read now: a clone)` };
  return actual === expected.toLowerCase()
    ? { name: 'hash', ok: true, detail: `${algorithm} ${actual}` }
    : { name: 'hash', ok: false, detail: `${algorithm} ${actual}, expected ${expected}` };
}

/** DuckDB's own checksum of every block in use: what a full-row read misses (index blocks, measured on DuckDB 1.5.5). */
export function blocksCheck(result: BlockCheckResult): VerifyCheck {
  return { name: 'blocks', ok: result.ok, detail: result.detail };
}
