import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// A scratch XFS file system with reflink, loop-mounted, where this machine allows it (root, mkfs.xfs from
// xfsprogs, loop devices): the recipe of the README's performance section. Where any step fails the bench says
// why and skips the reflink runs; it never fails the bench for it.

export type ReflinkMount = { ok: true; dir: string; unmount: () => void } | { ok: false; reason: string };

export function mountReflinkScratch(scratch: string, sizeBytes: number): ReflinkMount {
  const image = path.join(scratch, 'reflink.img');
  const dir = path.join(scratch, 'reflink');
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });
  const mkfs = run('mkfs.xfs', ['-V']);
  if (mkfs.error) return { ok: false, reason: 'mkfs.xfs is missing (apt-get install xfsprogs)' };
  fs.mkdirSync(dir, { recursive: true });
  fs.closeSync(fs.openSync(image, 'w'));
  fs.truncateSync(image, sizeBytes); // sparse: costs only what is written
  const made = run('mkfs.xfs', ['-q', '-m', 'reflink=1', image]);
  if (made.status !== 0) return cleanup(`mkfs.xfs failed: ${made.stderr.trim()}`);
  const mounted = run('mount', ['-o', 'loop', image, dir]);
  if (mounted.status !== 0) return cleanup(`mount -o loop failed: ${(mounted.stderr || String(mounted.error)).trim()}`);
  return {
    ok: true,
    dir,
    unmount: () => {
      run('umount', [dir]);
      fs.rmSync(image, { force: true });
    },
  };

  function cleanup(reason: string): ReflinkMount {
    fs.rmSync(image, { force: true });
    return { ok: false, reason };
  }
}
