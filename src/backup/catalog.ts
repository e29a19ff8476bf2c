import fs from 'node:fs';
import path from 'node:path';
import { fileSize, realPathOf, namesIn } from '../fs-facts.js';
import { TEMP_MARKER, tempContentBytes } from './durable-file.js';
import { readManifest } from './manifest.js';
import { AGE_SUFFIX, MANIFEST_SUFFIX, isEncrypted, manifestPathFor } from './types.js';
import type { BackupManifest } from './types.js';
import type { BackupEntry } from './backup-entry.js';

// Finds backups by their manifests (the manifest is what makes a file "a backup nu-agent made"), and flags what
// is wrong around them: a manifest whose file is gone, a file that no longer matches its manifest, a DuckDB file
// with no manifest (foreign: never touched by prune), the temporary file of an unfinished copy. The checks here
// are cheap (stat and 16 header bytes); `/backup verify` re-reads the whole file.

/** DuckDB's main header: an 8-byte checksum, then the magic bytes "DUCK". */
const DUCKDB_MAGIC = Buffer.from('DUCK');
const DUCKDB_MAGIC_OFFSET = 8;
/** The default backup name (destination.ts), flagged even when the file is not a DuckDB database. */
const DEFAULT_NAME = /^memory-\d{4}-\d{2}-\d{2}-\d{6}.*\.db$/;

export interface CatalogOptions {
  /** Files never listed: the live database and its WAL, when a scanned directory holds them. */
  exclude?: string[];
  /**
   * Backups the database recorded as made (backup_runs), wherever they were written. Each one outside the
   * scanned directories is listed too; one whose file and manifest are both gone is flagged missing.
   */
  recorded?: string[];
}

/** Scans each directory once (directories that resolve to the same place are merged); newest first. */
export function catalogBackups(directories: string[], options: CatalogOptions = {}): BackupEntry[] {
  const excluded = new Set((options.exclude ?? []).map(realPathOf));
  const seenDirs = new Set<string>();
  const entries: BackupEntry[] = [];
  for (const dir of directories) {
    const real = realPathOf(path.resolve(dir));
    if (seenDirs.has(real)) continue;
    seenDirs.add(real);
    entries.push(...scanDirectory(path.resolve(dir), excluded));
  }
  const seenFiles = new Set<string>();
  for (const recorded of options.recorded ?? []) {
    // An offsite backup is recorded by its s3:// URL: `backup list s3://…` shows those.
    if (/^s3:\/\//i.test(recorded)) continue;
    const file = path.resolve(recorded);
    const real = realPathOf(file);
    if (seenDirs.has(realPathOf(path.dirname(file))) || excluded.has(real) || seenFiles.has(real)) continue;
    seenFiles.add(real);
    const entry = describeManaged(file);
    entries.push(entry.state === 'missing' && !entry.manifest ? { ...entry, problem: RECORDED_GONE } : entry);
  }
  return entries.sort(newestFirst);
}

const RECORDED_GONE = 'recorded as made, but neither the file nor its manifest is there any more';

export function scanDirectory(dir: string, excluded: Set<string> = new Set()): BackupEntry[] {
  const names = namesIn(dir);
  if (!names) return [];
  const nameSet = new Set(names);
  const entries: BackupEntry[] = [];
  for (const name of names) {
    const full = path.join(dir, name);
    if (excluded.has(realPathOf(full))) continue;
    if (name.endsWith(MANIFEST_SUFFIX)) {
      entries.push(describeManaged(full.slice(0, -MANIFEST_SUFFIX.length)));
    } else if (name.includes(TEMP_MARKER)) {
      if (!name.includes(MANIFEST_SUFFIX)) entries.push(describePartial(full));
    } else if (name.endsWith(AGE_SUFFIX)) {
      // An encrypted backup is listed through its manifest (NAME.db.manifest.json beside NAME.db.age).
      if (!nameSet.has(name.slice(0, -AGE_SUFFIX.length) + MANIFEST_SUFFIX) && hasAgeHeader(full))
        entries.push({
          path: full,
          state: 'foreign',
          problem: 'no manifest (age-encrypted)',
          sizeBytes: fileSize(full),
        });
    } else if (!nameSet.has(name + MANIFEST_SUFFIX) && !name.endsWith('.wal') && isFile(full)) {
      if (DEFAULT_NAME.test(name) || hasDuckDBMagic(full))
        entries.push({ path: full, state: 'foreign', problem: 'no manifest', sizeBytes: fileSize(full) });
    }
  }
  return entries;
}

/** One backup by its path: what list shows and what prune and restore check before touching it. */
export function describeManaged(backupPath: string): BackupEntry {
  // An encrypted backup named by its .age file: its manifest is that of the plaintext name.
  if (backupPath.endsWith(AGE_SUFFIX)) {
    const plain = backupPath.slice(0, -AGE_SUFFIX.length);
    const read = readManifest(plain);
    if (read.ok && isEncrypted(read.manifest)) return describeEncrypted(plain, read.manifest);
  }
  const manifestPath = manifestPathFor(backupPath);
  const read = readManifest(backupPath);
  const exists = isFile(backupPath);
  const sizeBytes = exists ? fileSize(backupPath) : undefined;
  if (!read.ok) {
    if (!exists && !fs.existsSync(manifestPath)) return { path: backupPath, state: 'missing', problem: 'no such file' };
    const state = fs.existsSync(manifestPath) ? 'damaged' : 'foreign';
    return {
      path: backupPath,
      manifestPath: state === 'damaged' ? manifestPath : undefined,
      state,
      problem: read.reason,
      sizeBytes,
    };
  }
  const manifest = read.manifest;
  if (isEncrypted(manifest)) return describeEncrypted(backupPath, manifest);
  const base = { path: backupPath, manifestPath, manifest, createdAt: new Date(manifest.createdAt), sizeBytes };
  if (!exists) return { ...base, state: 'missing', problem: 'the backup file is missing' };
  if (manifest.fileName !== path.basename(backupPath))
    return { ...base, state: 'damaged', problem: `the manifest describes ${manifest.fileName}` };
  if (sizeBytes !== manifest.sizeBytes)
    return { ...base, state: 'damaged', problem: `size ${sizeBytes} bytes, the manifest says ${manifest.sizeBytes}` };
  if (!hasDuckDBMagic(backupPath)) return { ...base, state: 'damaged', problem: 'not a DuckDB database file' };
  // A scheduled re-verification that failed is recorded in the manifest: the file may look intact, it is not.
  const last = manifest.verifications?.at(-1);
  if (last && !last.ok)
    return { ...base, state: 'damaged', problem: `re-verification on ${last.at} failed: ${last.problem ?? 'damaged'}` };
  return { ...base, state: 'ok' };
}

/**
 * An age-encrypted backup (`--encrypt`): the entry is its .age file, checked against the manifest's stored size
 * and age's header; the plaintext's figures are checked when verify or restore decrypts it.
 */
function describeEncrypted(plainPath: string, manifest: BackupManifest): BackupEntry {
  const stored = manifest.stored!;
  const file = path.join(path.dirname(plainPath), stored.key);
  const exists = isFile(file);
  const sizeBytes = exists ? fileSize(file) : undefined;
  const base = {
    path: plainPath + AGE_SUFFIX,
    manifestPath: manifestPathFor(plainPath),
    manifest,
    createdAt: new Date(manifest.createdAt),
    sizeBytes,
  };
  if (manifest.fileName !== path.basename(plainPath) || stored.key !== path.basename(plainPath) + AGE_SUFFIX)
    return { ...base, state: 'damaged', problem: `the manifest describes ${stored.key}` };
  if (!exists) return { ...base, state: 'missing', problem: 'the encrypted backup file is missing' };
  if (sizeBytes !== stored.sizeBytes)
    return { ...base, state: 'damaged', problem: `size ${sizeBytes} bytes, the manifest says ${stored.sizeBytes}` };
  if (!hasAgeHeader(file)) return { ...base, state: 'damaged', problem: 'not an age-encrypted file' };
  return { ...base, state: 'ok' };
}

const AGE_HEADER = Buffer.from('age-encryption.org/v1\n');

export function hasAgeHeader(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const header = Buffer.alloc(AGE_HEADER.length);
    return fs.readSync(fd, header, 0, header.length, 0) === header.length && header.equals(AGE_HEADER);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function describePartial(full: string): BackupEntry {
  return {
    path: full,
    state: 'partial',
    problem: 'temporary file of an unfinished copy (nu-agent removes its own once their process is gone)',
    sizeBytes: tempContentBytes(full) ?? fileSize(full),
  };
}

function newestFirst(a: BackupEntry, b: BackupEntry): number {
  const ta = a.createdAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  const tb = b.createdAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  if (ta !== tb) return ta < tb || Number.isNaN(ta) ? 1 : -1;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

export function hasDuckDBMagic(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const header = Buffer.alloc(DUCKDB_MAGIC_OFFSET + DUCKDB_MAGIC.length);
    const n = fs.readSync(fd, header, 0, header.length, 0);
    return n === header.length && header.subarray(DUCKDB_MAGIC_OFFSET).equals(DUCKDB_MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
