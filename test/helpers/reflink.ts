import fs from 'node:fs';
import path from 'node:path';

/**
 * Whether this directory's file system clones files (XFS or btrfs with reflink, APFS): the copy engine's probe,
 * made independently. Tests that depend on it take the path the file system really offers (TMPDIR on a reflink
 * mount takes the clone path; README, performance section).
 */
export function clonesIn(dir: string): boolean {
  const a = path.join(dir, 'probe-a');
  const b = path.join(dir, 'probe-b');
  fs.writeFileSync(a, 'probe');
  try {
    fs.copyFileSync(a, b, fs.constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(a, { force: true });
    fs.rmSync(b, { force: true });
  }
}
