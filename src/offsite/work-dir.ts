import fs from 'node:fs';
import path from 'node:path';

// The private directories offsite backups work in: the staging copy of an upload and the download of a verify or
// restore, beside the memory database (the same disk, a directory the user can write). mkdtemp makes each 0700
// under a name nobody can predict, so no other user can plant or read anything in it. The name carries the
// process id, so one left by a killed process is recognised and removed by the next offsite command, and one
// of a live process never is.

const PREFIX = '.nuagent-offsite-';

export function makeWorkDir(parent: string): string {
  sweepWorkDirs(parent);
  return fs.mkdtempSync(path.join(parent, `${PREFIX}${process.pid}-`));
}

/** Removes work directories in `parent` whose process is gone; only real directories of ours, never links. */
export function sweepWorkDirs(parent: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    const match = new RegExp(`^${PREFIX.replace(/\./g, '\\.')}(\\d+)-[A-Za-z0-9]{6}$`).exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    const full = path.join(parent, name);
    const stat = fs.lstatSync(full, { throwIfNoEntry: false });
    if (!stat?.isDirectory() || stat.uid !== process.getuid?.()) continue;
    fs.rmSync(full, { recursive: true, force: true });
    removed.push(full);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
