import fs from 'node:fs';

/**
 * A reflink clone of source at temp, made private (0600) and fsynced, with its size; undefined where the file
 * system cannot clone (ENOTSUP on ext4, EXDEV across file systems: FICLONE_FORCE fails at once there, and libuv
 * removes the empty file it created). Only asynchronous calls: one ioctl and an fsync on libuv's threads, so it
 * runs on the main thread without a pool task, which cost tens of milliseconds of hand-offs inside the pause on
 * a busy machine. EXCL: the temporary name is new; never write through a file someone else made.
 */
export async function cloneFile(source: string, temp: string): Promise<number | undefined> {
  const { COPYFILE_EXCL, COPYFILE_FICLONE_FORCE } = fs.constants;
  try {
    await fs.promises.copyFile(source, temp, COPYFILE_EXCL | COPYFILE_FICLONE_FORCE);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT' || code === 'EACCES') throw err; // not about cloning
    return undefined;
  }
  try {
    await fs.promises.chmod(temp, 0o600); // the copy holds every conversation: owner only, whatever the source had
    const handle = await fs.promises.open(temp, 'r+');
    try {
      await handle.sync();
      return (await handle.stat()).size;
    } finally {
      await handle.close();
    }
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}
