import fs from 'node:fs';
import { writeFileDurably } from './durable-file.js';
import { readManifest } from './manifest.js';
import { manifestPathFor } from './types.js';
import type { VerificationRecord } from './types.js';

// A re-verification's result goes into the backup's own manifest, so it travels with the backup and every tool
// that reads manifests (list, prune, status) sees it. The manifest is rewritten only when it is certainly the
// one nu-agent wrote and read before the check: a regular file (not a link), owned by this user, a valid
// nu-agent manifest, and byte for byte what it was when the check began (a prune or a restore in between, or
// someone else's file, is left alone). The write is the durable one every manifest gets: a 0600 temporary file,
// fsync, rename, fsync of the directory.

/** The history kept per manifest: enough to see a trend, small enough to stay a small file. */
export const HISTORY_LIMIT = 20;

/** The manifest's text as it is now, if it is one this process may rewrite; otherwise why not. */
export function readOwnManifest(backupPath: string): { text: string } | { refused: string } {
  const file = manifestPathFor(backupPath);
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch {
    return { refused: 'its manifest is gone' };
  }
  if (!stat.isFile()) return { refused: 'its manifest is not a regular file' };
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) return { refused: 'its manifest belongs to another user' };
  const read = readManifest(backupPath);
  if (!read.ok) return { refused: read.reason };
  try {
    return { text: fs.readFileSync(file, 'utf8') };
  } catch (err) {
    return { refused: `its manifest cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
}

/**
 * Appends one record to the manifest's verification history, if the manifest is still exactly `before`.
 * Returns undefined when written, or why it was not.
 */
export function appendVerification(backupPath: string, before: string, record: VerificationRecord): string | undefined {
  const now = readOwnManifest(backupPath);
  if ('refused' in now) return `not recorded: ${now.refused}`;
  if (now.text !== before) return 'not recorded: the manifest changed while the backup was being checked';
  const manifest = JSON.parse(now.text) as Record<string, unknown> & { verifications?: VerificationRecord[] };
  const history = Array.isArray(manifest.verifications) ? manifest.verifications : [];
  manifest.verifications = [...history, record].slice(-HISTORY_LIMIT);
  try {
    writeFileDurably(manifestPathFor(backupPath), JSON.stringify(manifest, null, 2) + '\n', 0o600);
    return undefined;
  } catch (err) {
    return `not recorded: ${(err as Error).message}`;
  }
}
