import fs from 'node:fs';
import path from 'node:path';

// Crash-safe writing as Litestream does it (file/replica_client.go): write a temporary file in the destination
// directory, fsync it, rename it onto the final name, fsync the directory. A crash at any moment leaves either
// no file at the final name or the complete one, never a torn one. Temporary files carry a fixed marker so that
// start-up can find and remove the ones a crash left behind.

export const TEMP_MARKER = '.nu-agent-tmp-';

/** `<dir>/.<name>.nu-agent-tmp-<pid>-<random>`: hidden, beside the destination, unique per attempt. */
export function tempPathFor(destination: string): string {
  const random = Math.random().toString(36).slice(2, 10);
  return path.join(path.dirname(destination), `.${path.basename(destination)}${TEMP_MARKER}${process.pid}-${random}`);
}

export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
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

/** Renames a complete, fsynced temporary file onto its final name and makes the rename durable. */
export function commitTempFile(tempPath: string, finalPath: string): void {
  fs.renameSync(tempPath, finalPath);
  fsyncDirectory(path.dirname(finalPath));
}

/** Writes a small file (a manifest) durably. Overwrites atomically if it exists. */
export function writeFileDurably(finalPath: string, data: string | Uint8Array, mode = 0o600): void {
  const temp = tempPathFor(finalPath);
  try {
    fs.writeFileSync(temp, data, { mode });
    fsyncFile(temp);
    commitTempFile(temp, finalPath);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

/** Removes temporary files that a crashed process left in dir. Returns the paths removed. */
export function removeStaleTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.includes(TEMP_MARKER)) continue;
    const pid = Number(/-tmp-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && isAlive(pid)) continue; // another live process is still writing it
    const full = path.join(dir, name);
    fs.rmSync(full, { force: true });
    removed.push(full);
  }
  return removed;
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
