import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CopyEngine, CopyEngineError } from '../src/backup/copy-engine.js';
import { hashFile } from '../workers/shared/file-hash.js';
import { clonesIn } from './helpers/reflink.js';
import { tempDir } from './helpers/temp-dir.js';

// Inside the pause a backup copies the closed database while the source is hashed beside it, except where the
// file system clones: then the clone is made first, on its own, and the source is not read at all (the audit
// hashes the clone after resuming). Each case runs where the test's temp dir offers it (TMPDIR on a reflink
// mount takes the clone path: README, performance section).

const engine = CopyEngine.start();
afterAll(() => engine.destroy());
const cloning = clonesIn(fs.mkdtempSync(path.join(tempDir(), 'probe-')));

function sourceFile(): { dir: string; source: string } {
  const dir = tempDir();
  const source = path.join(dir, 'source.db');
  fs.writeFileSync(source, Buffer.alloc(3 * 2 ** 20, 7), { mode: 0o644 });
  return { dir, source };
}

/** The copy and the hash as a backup starts them: the copy first, the hash beside it in the same tick. */
async function copyWithHash(source: string, temp: string) {
  const progress: number[] = [];
  const copy = engine.copy({ source, temp, onProgress: (copied) => progress.push(copied) });
  const hash = engine.hashBesideCopy(source, 'xxh3-128');
  const [copied, hashed] = await Promise.allSettled([copy, hash]);
  return { copied, hashed, progress };
}

describe('the copy engine inside the pause', { timeout: 30_000 }, () => {
  it.skipIf(!cloning)(
    'clones where the file system can, private and complete, without hashing the source',
    async () => {
      const { dir, source } = sourceFile();
      const temp = path.join(dir, 'copy');
      const { copied, hashed, progress } = await copyWithHash(source, temp);
      expect(copied.status === 'fulfilled' && copied.value.method).toBe('clone');
      expect(hashed.status).toBe('rejected');
      const reason = hashed.status === 'rejected' ? (hashed.reason as unknown) : undefined;
      expect(reason instanceof CopyEngineError && reason.cancelled).toBe(true);
      expect(fs.statSync(temp).mode & 0o777).toBe(0o600);
      expect(hashFile(temp, 'xxh3-128').hash).toBe(hashFile(source, 'xxh3-128').hash);
      expect(progress.at(-1)).toBe(3 * 2 ** 20);
    },
  );

  it.skipIf(cloning)('hashes the source beside a byte copy where the file system cannot clone', async () => {
    const { dir, source } = sourceFile();
    const temp = path.join(dir, 'copy');
    const { copied, hashed } = await copyWithHash(source, temp);
    expect(copied.status === 'fulfilled' && copied.value.method).toBe('kernel');
    expect(hashed.status === 'fulfilled' && hashed.value.hash).toBe(hashFile(source, 'xxh3-128').hash);
    expect(fs.statSync(temp).mode & 0o777).toBe(0o600);
  });

  it('never writes through a file already at the temporary name', async () => {
    const { dir, source } = sourceFile();
    const temp = path.join(dir, 'copy');
    fs.writeFileSync(temp, 'planted');
    const { copied } = await copyWithHash(source, temp);
    expect(copied.status).toBe('rejected');
    expect(fs.readFileSync(temp, 'utf8')).toBe('planted');
  });
});
