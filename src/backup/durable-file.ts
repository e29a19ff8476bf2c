import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fsyncFile } from '../../workers/shared/fsync-file.js';
import { namesIn } from '../fs-facts.js';
import { IDENTITY_IN_NAME, identityFromName, identityTag, isProcessAlive } from './lock-owner.js';
import type { ProcessIdentity } from './lock-owner.js';

// The main thread's durable writes all come from here, the fsync of a file included (a copy thread runs it too).
export { fsyncFile };

// Crash-safe writing as Litestream does it (file/replica_client.go): write a temporary file in the destination
// directory, fsync it, rename it onto the final name, fsync the directory. A crash at any moment leaves either
// no file at the final name or the complete one, never a torn one.
//
// The destination directory may be shared with other users (a team folder, /tmp), so the temporary file lives
// inside a private directory of its own, made by mkdtemp (mode 0700, a fresh random name created exclusively):
// nobody else can open the copy whatever mode the copy itself has while it is written (fs.copyFile gives it the
// source's mode until we chmod it), and nobody can plant a file or a link at its name. Such a directory is
// `.<name>.nu-agent-tmp-<host>-<pid>-<start>-<boot>-<6 random>`, and cleanup removes only what passes isOurTempDir:
// that exact pattern, made on this host, a real directory (lstat: a link is never followed), owned by this user,
// private; and only once the process named is gone. The name carries the process's start time and boot
// (lock-owner.ts identityTag), so a pid reused by another program does not keep a crashed copy forever; names
// of older versions (`<host>-<pid>-<6 random>`) are still recognised and judged by their pid alone.

export const TEMP_MARKER = '.nu-agent-tmp-';
/** The copy's name inside its private directory. */
const TEMP_FILE_NAME = 'copy';
/** Long destination names are shortened in the directory's name, which must stay under NAME_MAX. */
const MAX_NAME_IN_TEMP = 120;

const hostTag = crypto.createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const myUid = () => (typeof process.getuid === 'function' ? process.getuid() : -1);
const TEMP_DIR_PATTERN = new RegExp(
  `^\\..*${escapeRegExp(TEMP_MARKER)}([0-9a-f]{8})-${IDENTITY_IN_NAME}-[A-Za-z0-9]{6}$`,
);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The part of the temporary directory names for destination that any process of this host writes alike. */
function nameStartFor(destination: string): string {
  let base = path.basename(destination);
  if (Buffer.byteLength(base) > MAX_NAME_IN_TEMP)
    base = crypto.createHash('sha256').update(base).digest('hex').slice(0, 32);
  return `.${base}${TEMP_MARKER}${hostTag}-`;
}

/** The fixed part of this process's temporary directory names for destination; mkdtemp adds six random characters. */
function tempPrefixFor(destination: string): string {
  return path.join(path.dirname(destination), `${nameStartFor(destination)}${identityTag()}-`);
}

/**
 * Makes a private directory (0700) beside destination and returns the path of the temporary file inside it
 * (not created: the writer creates it exclusively). Remove it with removeTempFile, or commit it.
 */
export function createTempFile(destination: string): string {
  const dir = fs.mkdtempSync(tempPrefixFor(destination));
  // mkdtemp asks for 0700; a umask can only take bits away, but say it outright for the reader.
  fs.chmodSync(dir, 0o700);
  return path.join(dir, TEMP_FILE_NAME);
}

/** True when dir is a temporary directory this user made on this host (beside destination, when given). */
export function isOurTempDir(dir: string, destination?: string): boolean {
  const name = path.basename(dir);
  const match = TEMP_DIR_PATTERN.exec(name);
  if (!match || match[1] !== hostTag) return false;
  if (destination !== undefined) {
    const beside = path.dirname(tempPrefixFor(destination));
    if (path.dirname(dir) !== beside || !name.startsWith(nameStartFor(destination))) return false;
  }
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(dir);
  } catch {
    return false;
  }
  return stat.isDirectory() && stat.uid === myUid() && (stat.mode & 0o077) === 0;
}

/** The process named in a temporary directory's name. */
function ownerOf(dir: string): ProcessIdentity {
  const match = TEMP_DIR_PATTERN.exec(path.basename(dir));
  return identityFromName(match?.[2], match?.[3], match?.[4]);
}

/** Removes a temporary file made by createTempFile and its private directory; anything else is left alone. */
export function removeTempFile(temp: string): void {
  const dir = path.dirname(temp);
  if (!isOurTempDir(dir)) return;
  removeTempDir(dir);
}

/** Unlinks what the private directory holds (never following a link, never recursing), then the directory. */
function removeTempDir(dir: string): boolean {
  const names = namesIn(dir);
  if (!names) return false;
  for (const name of names) {
    const full = path.join(dir, name);
    try {
      if (!fs.lstatSync(full).isDirectory()) fs.unlinkSync(full);
    } catch {
      // gone already, or not ours to remove: rmdir below then leaves the directory
    }
  }
  try {
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** Makes a rename in dir durable. Some filesystems refuse to fsync a directory (EINVAL/EISDIR); that is not fatal. */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Renames a complete, fsynced temporary file onto its final name, makes the rename durable, and removes the
 * emptied private directory (a crash before that leaves an empty one, which the next sweep removes).
 */
export function commitTempFile(tempPath: string, finalPath: string): void {
  fs.renameSync(tempPath, finalPath);
  fsyncDirectory(path.dirname(finalPath));
  if (isOurTempDir(path.dirname(tempPath))) removeTempDir(path.dirname(tempPath));
}

/** Writes a small file (a manifest) durably, 0600 from its first byte. Overwrites atomically if it exists. */
export function writeFileDurably(finalPath: string, data: string | Uint8Array, mode = 0o600): void {
  const temp = createTempFile(finalPath);
  try {
    fs.writeFileSync(temp, data, { mode, flag: 'wx' });
    fsyncFile(temp);
    commitTempFile(temp, finalPath);
  } catch (err) {
    removeTempFile(temp);
    throw err;
  }
}

/**
 * Removes the temporary directories a crashed nu-agent of this user left in dir: only those that pass
 * isOurTempDir and whose process is gone. Another user's file with a similar name is never touched, and
 * nothing found there can make this fail. Returns the paths removed.
 */
export function removeStaleTempFiles(dir: string): string[] {
  const names = namesIn(dir);
  if (!names) return [];
  const removed: string[] = [];
  for (const name of names) {
    if (!name.includes(TEMP_MARKER)) continue;
    const full = path.join(dir, name);
    if (!isOurTempDir(full)) continue;
    if (isProcessAlive(ownerOf(full))) continue; // still being written, here or by another live process
    if (removeTempDir(full)) removed.push(full);
  }
  return removed;
}

/** Removes the temporary directory of temp when it passes isOurTempDir beside destination and its process is gone. */
export function removeCrashedTemp(temp: string, destination: string): string | undefined {
  const dir = path.dirname(temp);
  if (path.basename(temp) !== TEMP_FILE_NAME || !isOurTempDir(dir, destination)) return undefined;
  const owner = ownerOf(dir);
  // One named with this process's pid is a predecessor's (the caller's journal said so): this process has
  // started no copy yet when it cleans up after a crash.
  if (owner.pid !== process.pid && isProcessAlive(owner)) return undefined;
  return removeTempDir(dir) ? dir : undefined;
}

/** The size of the copy inside a temporary directory (what `backup list` shows for an unfinished copy). */
export function tempContentBytes(dir: string): number | undefined {
  try {
    return fs.lstatSync(path.join(dir, TEMP_FILE_NAME)).size;
  } catch {
    return undefined;
  }
}
