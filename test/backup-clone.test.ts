import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readManifest } from '../src/backup/manifest.js';
import { formatBackupSuccess } from '../src/ui/outcome-format.js';
import { hashFile } from '../workers/shared/file-hash.js';
import { backupFixture, serviceFor } from './helpers/backup-app.js';
import { clonesIn } from './helpers/reflink.js';

// Clones: where the file system can (XFS or btrfs with reflink, APFS), the backup is a clone of the closed
// database file, made without hashing the source inside the pause; the clone is hashed by the audit after
// resuming. Elsewhere the bytes are copied. The outcome and the manifest say which, matching what the file system
// in the test's temp dir really does (run with TMPDIR on a reflink mount to take the clone path: README).

describe('backup by clone or copy', { timeout: 60_000 }, () => {
  it('says in the outcome and the manifest whether the file system cloned the file, and hashes what it kept', async () => {
    const fixture = await backupFixture(200);
    const expected = clonesIn(fixture.dir) ? 'cloned' : 'copied';
    const destination = path.join(fixture.dir, 'b.db');
    const lines: string[] = [];
    const outcome = await serviceFor(fixture).run({
      trigger: 'manual',
      destination,
      onEvent: (e) => e.type === 'step' && lines.push(e.text),
    });
    expect(outcome.ok, outcome.ok ? '' : String(outcome.error)).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.copy).toBe(expected);
    const manifest = readManifest(destination);
    expect(manifest.ok && manifest.manifest.copy).toBe(expected);
    // Whether the source was hashed in the window (a copy) or the clone after resuming, the hash is the file's.
    expect(outcome.hash).toBe(hashFile(destination, 'xxh3-128').hash);
    expect(lines.at(-1)).toContain(`every row of the ${expected === 'cloned' ? 'clone' : 'copy'}`);
    expect(formatBackupSuccess(outcome)).toContainEqual(expect.stringMatching(new RegExp(`^ {2}Copy: ${expected}`)));
    await fixture.close();
  });
});
