import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataPaths } from '../paths.js';
import { namesIn } from '../fs-facts.js';
import { IDENTITY_IN_NAME, identityFromName, identityTag, isProcessAlive } from '../backup/lock-owner.js';

// The private directories offsite and encrypted backups work in: the plaintext staging copy of an upload or of a
// local `--encrypt` backup (under NUAGENT_HOME, which is ours and 0700), and the decrypted copy a verify or
// restore works on. mkdtemp makes each 0700 under a name nobody can predict, so no other user can plant or read
// anything in it. The name carries this host and the process (pid, start time and boot: lock-owner.ts
// identityTag), so one left by a killed process (SIGKILL mid-upload) is removed at the next start and by the next
// offsite command, by the rules the copy's temporary files follow (durable-file.ts): ours (the pattern, a real
// directory owned by this user, private), made on this host, and its process gone, even when another program
// has its pid now. One of a live process is never touched.

const PREFIX = '.nuagent-offsite-';
const hostTag = crypto.createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const PATTERN = new RegExp(`^\\.nuagent-offsite-([0-9a-f]{8})-${IDENTITY_IN_NAME}-[A-Za-z0-9]{6}$`);

/** Makes a new private work directory in `parent` (created 0700 when missing), after sweeping dead ones there. */
export function makeWorkDir(parent: string): string {
  fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
  sweepWorkDirs(parent);
  const dir = fs.mkdtempSync(path.join(parent, `${PREFIX}${hostTag}-${identityTag()}-`));
  // mkdtemp asks for 0700; a umask can only take bits away, but say it outright for the reader.
  fs.chmodSync(dir, 0o700);
  return dir;
}

/** Where work directories are made: the data directory, beside the database (restore), the OS temp dir (verify). */
export function workDirParents(paths: Pick<DataPaths, 'home' | 'database'>): string[] {
  return [...new Set([paths.home, path.dirname(paths.database), os.tmpdir()])];
}

/** The start-up sweep: every place a work directory may have been left by a killed process. */
export function sweepAllWorkDirs(paths: Pick<DataPaths, 'home' | 'database'>): string[] {
  return workDirParents(paths).flatMap(sweepWorkDirs);
}

/** Removes work directories in `parent` whose process is gone; only private directories of ours, never links. */
export function sweepWorkDirs(parent: string): string[] {
  const removed: string[] = [];
  const names = namesIn(parent);
  if (!names) return removed;
  for (const name of names) {
    const match = PATTERN.exec(name);
    if (!match || match[1] !== hostTag) continue;
    if (isProcessAlive(identityFromName(match[2], match[3], match[4]))) continue;
    const full = path.join(parent, name);
    const stat = fs.lstatSync(full, { throwIfNoEntry: false });
    if (!stat?.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o077) !== 0) continue;
    fs.rmSync(full, { recursive: true, force: true });
    removed.push(full);
  }
  return removed;
}
