import fs from 'node:fs';
import path from 'node:path';
import { fileSize, realPathOf } from '../fs-facts.js';
import { errnoOf, messages } from '../errors.js';
import { formatBytes } from '../format/size.js';
import { walPaths } from '../store/memory-store.js';
import type { DataPaths } from '../paths.js';
import { refuseOwnFiles, refuseUnusablePath } from './own-files.js';

// Everything that can be refused is refused here, before a worker is paused, and nothing is created on disk
// (a directory made for a backup that is then refused stays behind). The destination is compared with the live
// database and its log, since copying onto them would destroy the memory (`/backup ~/.nuagent/memory.db`).
// Paths are compared after resolving links and `..`.

export interface FreeSpace {
  bavail: number | bigint;
  bsize: number | bigint;
}

/** fs.statfsSync by default; tests inject a full disk. An error or an odd answer skips the check. */
export type StatFs = (dir: string) => FreeSpace;

export interface ValidationInput {
  source: string;
  destination: string;
  force: boolean;
  statfs?: StatFs | undefined;
  /**
   * nu-agent's own backup directories: a missing destination directory inside one of them is created by the copy
   * step; anywhere else it is refused, since a typo must not make directories (undefined: no such limit).
   */
  ownDirectories?: readonly string[] | undefined;
  /** nu-agent's own files (the lock, the crash journal, the control socket…) are refused as destinations. */
  paths?: Pick<DataPaths, 'database' | 'home' | 'backupLock' | 'controlSocket' | 'historyFile'> | undefined;
}

export interface ValidatedBackup {
  source: string;
  destination: string;
  sourceBytes: number;
  /** The destination's directory does not exist yet; the copy step creates it. */
  createDirectory: boolean;
  /** The destination exists and --force replaces it. */
  replaces: boolean;
}

/** Room kept for the manifest and the filesystem's own blocks. */
const SPACE_MARGIN = 256 * 1024;

export function validateBackup(input: ValidationInput): ValidatedBackup {
  const { source, destination, force } = input;
  refuseUnusablePath(destination);
  const sourceBytes = checkSource(source);
  checkNotLive(source, destination);
  if (input.paths) refuseOwnFiles(destination, input.paths);

  const existing = lstatOrUndefined(destination);
  if (existing && !(existing.isFile() || (existing.isSymbolicLink() && isFile(destination))))
    throw messages.backupNotAFile(destination);
  if (existing && !force) throw messages.backupExists(destination);

  const dir = path.dirname(destination);
  const ancestor = nearestExisting(dir);
  if (!isDirectory(ancestor)) throw messages.backupDirUncreatable(dir, `${ancestor} is not a directory`);
  const createDirectory = ancestor !== dir;
  if (createDirectory && input.ownDirectories && !input.ownDirectories.some((own) => isInside(dir, own)))
    throw messages.backupDirMissing(dir);
  try {
    fs.accessSync(ancestor, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    if (createDirectory) throw messages.backupDirUncreatable(dir, reason(err));
    throw messages.backupDirUnwritable(dir);
  }

  const statfs = input.statfs ?? fs.statfsSync;
  if (holdsNoFiles(ancestor, statfs)) throw messages.backupDirNotStorage(ancestor);
  const free = freeBytes(ancestor, statfs);
  // The checkpoint moves what the WAL holds into the file before the copy: count both.
  const need = sourceBytes + walPaths(source).reduce((sum, w) => sum + (fileSize(w) ?? 0), 0) + SPACE_MARGIN;
  if (free !== undefined && free < need) throw messages.backupNoSpace(ancestor, formatBytes(need), formatBytes(free));

  return { source, destination, sourceBytes, createDirectory, replaces: existing !== undefined };
}

function checkSource(source: string): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') throw messages.backupSourceMissing(source);
    throw messages.backupSourceUnreadable(source, err);
  }
  if (!stat.isFile()) throw messages.backupSourceUnreadable(source);
  try {
    fs.accessSync(source, fs.constants.R_OK);
  } catch (err) {
    throw messages.backupSourceUnreadable(source, err);
  }
  return stat.size;
}

/** Refuses the live file and its WAL, whichever way the destination names them (links, `..`, a hard link). */
function checkNotLive(source: string, destination: string): void {
  const target = realPathOf(destination);
  const liveReal = fs.realpathSync(source);
  if (target === liveReal || sameInode(source, destination)) throw messages.backupOntoLive(destination, source);
  // DuckDB puts the WAL beside the path it was opened with: for a linked database file, beside the link.
  const asOpened = path.join(realPathOf(path.dirname(source)), path.basename(source));
  const wals = [...walPaths(asOpened), ...walPaths(liveReal)];
  const wal = wals.find((w) => w === target || sameInode(w, destination));
  if (wal) throw messages.backupOntoWal(destination, wal);
}

function sameInode(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

function nearestExisting(dir: string): string {
  let current = path.resolve(dir);
  while (!fs.existsSync(current)) {
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

function freeBytes(dir: string, statfs: StatFs): number | undefined {
  try {
    const s = statfs(dir);
    const free = Number(s.bavail) * Number(s.bsize);
    // An unknown figure skips the check; it never means zero (that would refuse every backup).
    return Number.isFinite(free) && free >= 0 ? free : undefined;
  } catch {
    return undefined;
  }
}

function isInside(dir: string, own: string): boolean {
  const relative = path.relative(path.resolve(own), path.resolve(dir));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** /proc, /sys and their kind report no blocks at all: "no space" there would blame the wrong thing. */
function holdsNoFiles(dir: string, statfs: StatFs): boolean {
  try {
    const s = statfs(dir) as FreeSpace & { blocks?: number | bigint };
    return s.blocks !== undefined && Number(s.blocks) === 0;
  } catch {
    return false;
  }
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function reason(err: unknown): string {
  const code = errnoOf(err);
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'read-only file system';
  return code ?? String(err);
}
