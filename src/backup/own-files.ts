import fs from 'node:fs';
import path from 'node:path';
import { realPathOf } from '../fs-facts.js';
import { errnoOf, messages } from '../errors.js';
import type { DataPaths } from '../paths.js';
import { TEMP_MARKER } from './durable-file.js';
import { copyJournalPath } from './inflight.js';
import { MANIFEST_SUFFIX } from './types.js';

// Destinations that are nu-agent's own files. A backup written there reported success and then the file vanished
// (the crash journal, removed when the run ends) or every later backup failed (a backup inside the lock
// directory left it non-empty). The live database and its WAL are refused in validate.ts with their own words.

interface OwnFile {
  path: string;
  what: string;
  /** Anything under it is refused too (a directory nu-agent manages). */
  tree?: boolean;
}

function ownFiles(paths: Pick<DataPaths, 'database' | 'home' | 'backupLock' | 'controlSocket' | 'historyFile'>) {
  const db = paths.database;
  const list: OwnFile[] = [
    { path: paths.backupLock, what: "the database's backup lock", tree: true },
    { path: `${paths.backupLock}.inflight.json`, what: 'a crash journal of nu-agent' },
    { path: copyJournalPath(paths), what: 'the crash journal of nu-agent' },
    { path: `${db}.before-restore`, what: 'the database kept from before a restore' },
    { path: `${db}.before-restore.wal`, what: 'the database kept from before a restore' },
    { path: paths.controlSocket, what: "nu-agent's control socket" },
    { path: paths.historyFile, what: "nu-agent's command history" },
  ];
  return list;
}

/** Refuses a destination that names one of nu-agent's own files, a manifest, or a temporary file. */
export function refuseOwnFiles(
  destination: string,
  paths: Pick<DataPaths, 'database' | 'home' | 'backupLock' | 'controlSocket' | 'historyFile'>,
): void {
  const name = path.basename(destination);
  if (name.endsWith(MANIFEST_SUFFIX)) throw messages.backupOntoOwnFile(destination, 'the name of a backup manifest');
  if (name.includes(TEMP_MARKER)) throw messages.backupOntoOwnFile(destination, 'the name of a temporary file');
  const target = realPathOf(destination);
  const resolved = path.resolve(destination);
  for (const own of ownFiles(paths)) {
    const names = [path.resolve(own.path), realPathOf(own.path)];
    const hit = names.some(
      (n) =>
        n === target ||
        n === resolved ||
        (own.tree && (target.startsWith(n + path.sep) || resolved.startsWith(n + path.sep))),
    );
    if (hit) throw messages.backupOntoOwnFile(destination, own.what);
  }
}

/** Linux allows 4096 bytes in a path (PATH_MAX) and 255 in one name (NAME_MAX); macOS 1024 and 255. */
const PATH_MAX = process.platform === 'darwin' ? 1024 : 4096;
const NAME_MAX = 255;

/**
 * Refuses, before anything is paused, a destination the file system will refuse later: too long a path or name,
 * or one that passes through a symbolic link loop (existsSync says "no" to both, which looked like a directory
 * still to create).
 */
export function refuseUnusablePath(destination: string): void {
  if (Buffer.byteLength(destination) >= PATH_MAX)
    throw messages.backupPathUnusable(destination, `the path is longer than the system allows (${PATH_MAX} bytes)`);
  const long = destination.split(path.sep).find((part) => Buffer.byteLength(part) > NAME_MAX);
  if (long !== undefined)
    throw messages.backupPathUnusable(destination, `a name in it is longer than ${NAME_MAX} bytes`);
  for (let p = path.resolve(destination); ; p = path.dirname(p)) {
    try {
      fs.statSync(p);
      return;
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ELOOP') throw messages.backupPathUnusable(destination, `${p} is a loop of symbolic links`);
      if (code === 'ENAMETOOLONG') throw messages.backupPathUnusable(destination, 'the path is too long');
    }
    if (path.dirname(p) === p) return;
  }
}
