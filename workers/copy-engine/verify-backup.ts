import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { isHashAlgorithm, scanFile } from '../shared/file-hash.js';
import { blocksCheck, hashCheck } from '../shared/verify-checks.js';
import { diffTableFigures, readTableFigures } from '../shared/table-figures.js';
import type { BackupVerification, ExpectedContent, VerifyCheck } from '../shared/copy-engine-protocol.js';

// Checks a backup file against what it should hold: its size, its hash re-read from disk, DuckDB's own checksum
// of every block in use (in the same read as the hash), and a full read-only open in DuckDB reading every row of
// every table (DuckDB checks a block's checksum only when the block is read, and a table scan never reads the
// index blocks a later write needs, measured on DuckDB 1.5.5). Used for a fresh copy (expected = the source's figures) and for `/backup verify` of any
// backup, also one copied to another machine (expected = its manifest). Runs as a piscina task: it reads the
// whole file, so it never runs on the main thread. Every check runs even after one fails, so the verdict says
// everything that is wrong; results are plain data, safe to send across a thread.

const READ_ONLY = {
  access_mode: 'READ_ONLY',
  // Offline: an extension that is not built in must fail loudly, never download (measured on DuckDB 1.5.5).
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
};

export async function verifyBackupFile(
  file: string,
  expected: ExpectedContent,
  signal?: AbortSignal,
  options: { checkHash?: boolean } = {},
): Promise<BackupVerification> {
  const checks: VerifyCheck[] = [];
  const actual: BackupVerification['actual'] = {};
  let mismatchedTables: string[] = [];
  const done = () => ({ ok: checks.every((c) => c.ok), file, checks, mismatchedTables, actual });

  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    checks.push({ name: 'file', ok: false, detail: `cannot read the file: ${errorText(err)}` });
    return done();
  }
  if (!stat.isFile()) {
    checks.push({ name: 'file', ok: false, detail: 'not a regular file' });
    return done();
  }

  actual.sizeBytes = stat.size;
  checks.push(
    stat.size === expected.sizeBytes
      ? { name: 'size', ok: true, detail: `${stat.size} bytes` }
      : { name: 'size', ok: false, detail: `${stat.size} bytes, expected ${expected.sizeBytes}` },
  );

  const algorithm = expected.hash.algorithm;
  if (options.checkHash === false) {
    // The caller hashes the file and checks its blocks in another thread at the same time, and adds both checks.
  } else {
    const known = isHashAlgorithm(algorithm);
    if (!known) checks.push({ name: 'hash', ok: false, detail: `unknown hash algorithm ${algorithm}` });
    try {
      const scanned = scanFile(file, {
        algorithm: known ? algorithm : undefined,
        checkBlocks: true,
        cancelled: () => signal?.aborted ?? false,
      });
      signal?.throwIfAborted();
      if (scanned === 'cancelled') throw new Error('cancelled');
      if (known) {
        actual.hash = scanned.hash;
        checks.push(hashCheck(algorithm, scanned.hash!, expected.hash.value));
      }
      checks.push(blocksCheck(scanned.blocks!));
    } catch (err) {
      signal?.throwIfAborted();
      const detail = `cannot read the file: ${errorText(err)}`;
      if (known) checks.push({ name: 'hash', ok: false, detail });
      checks.push({ name: 'blocks', ok: false, detail });
    }
  }

  signal?.throwIfAborted();
  let instance: DuckDBInstance | undefined;
  try {
    instance = await DuckDBInstance.create(file, READ_ONLY);
  } catch (err) {
    checks.push({ name: 'open', ok: false, detail: `DuckDB cannot open it read-only: ${errorText(err)}` });
    return done();
  }
  checks.push({ name: 'open', ok: true, detail: 'opens read-only in DuckDB' });
  const connection = await instance.connect();
  try {
    const tables = await readTableFigures(connection);
    actual.tables = tables;
    mismatchedTables = diffTableFigures(expected.tables, tables);
    const rows = Object.values(tables).reduce((sum, t) => sum + t.rows, 0);
    const count = Object.keys(tables).length;
    checks.push(
      mismatchedTables.length === 0
        ? { name: 'tables', ok: true, detail: `${count} tables, ${rows} rows, every row read and matching` }
        : { name: 'tables', ok: false, detail: `figures differ for ${mismatchedTables.join(', ')}` },
    );
  } catch (err) {
    checks.push({ name: 'tables', ok: false, detail: `reading every row failed: ${errorText(err)}` });
  } finally {
    // Connection before instance: DuckDB keeps the file while a connection lives (measured on DuckDB 1.5.5).
    connection.closeSync();
    instance.closeSync();
  }
  return done();
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // DuckDB's messages can run over several lines with a stack-like tail; the first line says what happened.
  return text.split('\n')[0] ?? text;
}
